"""tools/toy_datasets.py (make_toy_data.py --dataset): released layouts, label encodings that
agree with the scene, determinism, and refusal to overwrite data it did not make."""
import json

import numpy as np
import pytest
from cityscapesscripts.helpers.labels import name2label
from PIL import Image

from mmseg.utils.errors import UserFileExistsError, UserInputError
from tools import make_toy_data
from tools.toy_datasets import ToyScene, generate_toy_dataset, mapillary_label


def test_scene_encodings_agree_per_object():
    scene = ToyScene(seed=3, code=1, index=0, size=(96, 48), domain='target', ego_vehicle=True)
    label_ids, train_ids, vistas = scene.label_ids(), scene.train_ids(), mapillary_label(scene)
    checked = set()
    for i, obj in enumerate(scene.objects):
        pixels = scene.index_map == i + 1
        if not pixels.any():
            continue
        checked.add(obj.look)
        label = name2label[obj.label]
        assert (label_ids[pixels] == label.id).all()
        assert (train_ids[pixels] == (label.trainId if label.trainId >= 0 else 255)).all()
        if obj.label == 'car':  # Vistas object--vehicle--car
            assert (vistas[pixels] == 55).all()
        if obj.look == 'marking':  # Vistas marking--general
            assert (vistas[pixels] == 24).all()
    assert {'car', 'marking', 'sky', 'ego vehicle'} <= checked


def test_same_seed_same_files_and_no_overwrite_of_other_data(tmp_path):
    a = generate_toy_dataset('nighttime_driving', tmp_path / 'a', 1, (64, 32), seed=5)
    generate_toy_dataset('nighttime_driving', tmp_path / 'b', 1, (64, 32), seed=5)
    files = sorted(p.relative_to(a) for p in (tmp_path / 'a').rglob('*.png'))
    assert len(files) == 3  # image, train IDs, label IDs
    for rel in files:
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'a' / rel)),
                                      np.asarray(Image.open(tmp_path / 'b' / rel)))
    generate_toy_dataset('nighttime_driving', a, 1, (64, 32), seed=6)  # its own data: replaced
    assert json.loads((tmp_path / 'a' / 'toy_data.json').read_text())['seed'] == 6
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'keep.txt').write_text('x')
    with pytest.raises(UserFileExistsError, match='no toy_data.json'):
        generate_toy_dataset('bdd100k', tmp_path / 'mine')
    assert (tmp_path / 'mine' / 'keep.txt').is_file()
    with pytest.raises(UserInputError, match="unknown toy dataset 'kitti': expected one of "
                                             "bdd100k, mapillary"):
        generate_toy_dataset('kitti', tmp_path / 'k')


def test_command_line_dataset_option(tmp_path):
    out = tmp_path / 'toy_synscapes'
    assert make_toy_data.main(['--dataset', 'synscapes', '--out', str(out), '--num-images', '1',
                               '--size', '64', '32']) == 0
    assert sorted(p.name for p in (out / 'img' / 'class').iterdir()) == [
        '1.png', '1_labelTrainIds.png']
    assert (out / 'img' / 'rgb' / '1.png').is_file()
    assert (out / 'sample_class_stats.json').is_file()

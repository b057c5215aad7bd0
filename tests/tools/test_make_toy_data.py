"""The toy data generator: layouts, determinism, label consistency, classes, domain gap, sizes."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.helpers.labels import id2label, name2label
from PIL import Image

from tools.make_toy_data import _clip_polygon, _scene_rng, generate_toy_data, make_scene


def read(path):
    with Image.open(path) as img:
        return np.asarray(img)


def label_ids_to_train_ids(label_ids):
    """cityscapesscripts' own id → trainId table, pixel by pixel."""
    out = np.full(label_ids.shape, 255, dtype=np.uint8)
    for label_id in np.unique(label_ids):
        train_id = id2label[int(label_id)].trainId
        out[label_ids == label_id] = train_id if 0 <= train_id < 255 else 255
    return out


def test_layout_of_the_shared_toy_data(toy_data_root):
    gta = toy_data_root / 'gta'
    images = sorted(os.listdir(gta / 'images'))
    assert images == [f'{i:05d}.png' for i in range(1, 7)]
    for name in images:
        assert read(gta / 'images' / name).shape == (64, 128, 3)
        assert read(gta / 'labels' / name).shape == (64, 128)
        assert read(gta / 'labels' / name.replace('.png', '_labelTrainIds.png')).max() <= 255
    cs = toy_data_root / 'cityscapes'
    for split, num in (('train', 4), ('val', 3)):
        frames = sorted(glob.glob(str(cs / 'leftImg8bit' / split / '*' / '*_leftImg8bit.png')))
        assert len(frames) == num
        names = []
        for frame in frames:
            city = os.path.basename(os.path.dirname(frame))
            base = os.path.basename(frame)[:-len('_leftImg8bit.png')]
            assert base.startswith(f'{city}_000000_') and len(base.split('_')[-1]) == 6
            for suffix in ('polygons.json', 'labelIds.png', 'labelTrainIds.png'):
                assert (cs / 'gtFine' / split / city / f'{base}_gtFine_{suffix}').is_file()
            names.append(f'{city}/{base}')
        assert sorted((cs / f'{split}.txt').read_text().splitlines()) == sorted(names)
    for root, num in ((gta, 6), (cs, 4)):  # statistics: GTA over all, Cityscapes over train
        assert len(json.loads((root / 'sample_class_stats.json').read_text())) == num
        assert (root / 'samples_with_class.json').is_file()


def test_gta_labels_are_label_ids_and_match_the_converter(toy_data_root):
    spec_gta = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
    for path in sorted(glob.glob(str(toy_data_root / 'gta' / 'labels' / '?????.png'))):
        label_ids = read(path)
        assert set(np.unique(label_ids).tolist()) <= set(id2label)
        expected = np.vectorize(lambda v: spec_gta.get(int(v), 255))(label_ids)
        np.testing.assert_array_equal(read(path[:-4] + '_labelTrainIds.png'), expected)


def test_cityscapes_polygons_labelids_and_train_ids_agree(toy_data_root):
    cs = toy_data_root / 'cityscapes'
    for json_file in sorted(glob.glob(str(cs / 'gtFine' / '*' / '*' / '*_polygons.json'))):
        annotation = Annotation()
        annotation.fromJsonFile(json_file)
        assert (annotation.imgWidth, annotation.imgHeight) == (128, 64)
        assert all(obj.label in name2label and len(obj.polygon) >= 3
                   for obj in annotation.objects)
        label_ids = read(json_file.replace('_polygons.json', '_labelIds.png'))
        train_ids = read(json_file.replace('_polygons.json', '_labelTrainIds.png'))
        agreement = (label_ids_to_train_ids(label_ids) == train_ids).mean()
        assert agreement >= 0.99, (json_file, agreement)


def test_generation_is_deterministic_per_seed(tmp_path):
    kwargs = dict(num_source=2, num_target_train=2, num_target_val=1, size=(96, 48),
                  convert=False)
    generate_toy_data(tmp_path / 'a', seed=3, **kwargs)
    generate_toy_data(tmp_path / 'b', seed=3, **kwargs)
    generate_toy_data(tmp_path / 'c', seed=4, **kwargs)
    files = sorted(os.path.relpath(p, tmp_path / 'a')
                   for p in glob.glob(str(tmp_path / 'a' / '**' / '*.*'), recursive=True))
    assert len([f for f in files if f.endswith('.png')]) == 2 * 2 + 2 * 3
    same = different = 0
    for rel in files:
        a, b, c = (open(tmp_path / d / rel, 'rb').read() for d in 'abc')
        assert a == b, rel
        different += a != c
        same += 1
    assert different >= same - 1  # everything but the marker's shared fields changes


def test_regeneration_replaces_toy_data_but_refuses_foreign_folders(tmp_path):
    kwargs = dict(num_target_val=0, size=(64, 32), convert=False)
    generate_toy_data(tmp_path, num_source=3, num_target_train=1, **kwargs)
    # The warm start made from these images (tools/make_toy_pretrained.py) goes with them.
    (tmp_path / 'mittiny_toygta.pth').write_bytes(b'weights of the old images')
    generate_toy_data(tmp_path, num_source=1, num_target_train=1, **kwargs)
    assert os.listdir(tmp_path / 'gta' / 'images') == ['00001.png']
    assert not (tmp_path / 'mittiny_toygta.pth').exists()
    foreign = tmp_path / 'other'
    os.makedirs(foreign / 'gta')
    with pytest.raises(FileExistsError, match='toy_data.json'):
        generate_toy_data(foreign, num_source=1, num_target_train=1, **kwargs)
    with pytest.raises(ValueError, match='num_source'):
        generate_toy_data(tmp_path / 'x', num_source=0, num_target_train=1, **kwargs)


@pytest.mark.parametrize('domain', ['source', 'target'])
def test_scenes_show_at_least_12_classes(domain):
    seen = set()
    for index in range(6):
        _, label_ids, _ = make_scene(_scene_rng(0, domain, 0, index), 128, 64, domain)
        seen |= {id2label[int(v)].trainId for v in np.unique(label_ids)}
    seen -= {255, -1}
    assert len(seen) >= 12, sorted(seen)


def class_pixels(domain, label_name, num=6):
    pixels = []
    for index in range(num):
        image, label_ids, _ = make_scene(_scene_rng(1, domain, 0, index), 128, 64, domain)
        pixels.append(image[label_ids == name2label[label_name].id].astype(np.float64))
    return np.concatenate(pixels)


def neighbour_roughness(domain, label_name, num=6):
    """Median |difference| of horizontally adjacent pixels of the class (robust to markings)."""
    diffs = []
    for index in range(num):
        image, label_ids, _ = make_scene(_scene_rng(1, domain, 0, index), 128, 64, domain)
        inside = label_ids == name2label[label_name].id
        both = inside[:, 1:] & inside[:, :-1]
        step = np.abs(image[:, 1:].astype(np.float64) - image[:, :-1])
        diffs.append(step[both])
    return np.median(np.concatenate(diffs))


@pytest.mark.parametrize('label_name', ['road', 'vegetation', 'sky'])
def test_domains_differ_in_colour_statistics(label_name):
    source, target = class_pixels('source', label_name), class_pixels('target', label_name)
    assert np.linalg.norm(source.mean(0) - target.mean(0)) > 10
    # Saturation (max - min over RGB): the synthetic source is more saturated ...
    chroma = lambda px: (px.max(1) - px.min(1)).mean()  # noqa: E731
    if label_name != 'road':  # grey roads carry no saturation to compare
        assert chroma(source) > 1.3 * chroma(target)
    # ... and flatter: almost no pixel-to-pixel variation inside a region.
    assert neighbour_roughness('target', label_name) > 2 * neighbour_roughness('source',
                                                                                label_name)


def test_small_scenes_are_drawn_at_the_requested_size():
    # The generator draws at the asked size (no large canvas scaled down): 128×64 and 48×32
    # scenes have exactly those shapes, only Cityscapes label IDs, and repeat per (seed, index).
    for width, height in ((128, 64), (48, 32)):
        image, label_ids, objects = make_scene(_scene_rng(0, 'target', 0, 1), width, height,
                                               'target')
        assert image.shape == (height, width, 3) and image.dtype == np.uint8
        assert label_ids.shape == (height, width) and label_ids.dtype == np.uint8
        assert set(np.unique(label_ids).tolist()) <= set(id2label)
        assert len(objects) > 0
        again, again_ids, _ = make_scene(_scene_rng(0, 'target', 0, 1), width, height, 'target')
        assert np.array_equal(image, again) and np.array_equal(label_ids, again_ids)
        other, _, _ = make_scene(_scene_rng(0, 'target', 0, 2), width, height, 'target')
        assert not np.array_equal(image, other)


def test_clip_polygon_to_image():
    # A square overhanging the top-left corner of a 10×8 image keeps its inner corner.
    assert sorted(_clip_polygon([(-5, -5), (4, -5), (4, 3), (-5, 3)], 10, 8)) == \
        sorted([(0, 0), (4, 0), (4, 3), (0, 3)])
    # A triangle crossing the right edge x = 9: the edge (5,0)-(13,4) leaves at (9, 2).
    assert sorted(_clip_polygon([(5, 0), (13, 4), (5, 4)], 10, 8)) == \
        sorted([(5, 0), (9, 2), (9, 4), (5, 4)])
    assert _clip_polygon([(20, 20), (30, 20), (30, 30)], 10, 8) == []


@pytest.mark.slow
def test_command_line(tmp_path, repo_root):
    out = tmp_path / 'toy'
    run = subprocess.run([sys.executable, 'tools/make_toy_data.py', '--out', str(out),
                          '--num-source', '2', '--num-train', '2', '--num-val', '1',
                          '--size', '64', '32', '--seed', '5'],
                         cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert read(out / 'gta' / 'images' / '00002.png').shape == (32, 64, 3)
    assert len(json.loads((out / 'cityscapes' / 'sample_class_stats.json').read_text())) == 2
    assert len((out / 'cityscapes' / 'val.txt').read_text().splitlines()) == 1
    run = subprocess.run([sys.executable, 'tools/make_toy_data.py', '--out', str(out),
                          '--num-source', '0'], cwd=repo_root, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0 and 'num_source' in run.stderr and 'Traceback' not in run.stderr


def test_a_folder_of_another_toy_data_set_is_refused_both_ways(tmp_path):
    """make_toy_data.py without --dataset must not write gta/ and cityscapes/ into a folder made
    with --dataset, nor --dataset replace toy GTA + Cityscapes; nothing is deleted."""
    from tools.toy_datasets import generate_toy_dataset
    night = generate_toy_dataset('nighttime_driving', tmp_path / 'night', 1, (64, 32),
                                 convert=False)
    before = sorted(p.relative_to(night) for p in (tmp_path / 'night').rglob('*'))
    with pytest.raises(FileExistsError, match='holds the toy nighttime_driving data set'):
        generate_toy_data(night, num_source=1, num_target_train=1, num_target_val=0,
                          size=(64, 32), convert=False)
    assert sorted(p.relative_to(night) for p in (tmp_path / 'night').rglob('*')) == before
    toy = tmp_path / 'toy'
    generate_toy_data(toy, num_source=1, num_target_train=1, num_target_val=0, size=(64, 32),
                      convert=False)
    with pytest.raises(FileExistsError, match='holds the toy GTA and Cityscapes data set .*, not '
                                              'toy nighttime_driving'):
        generate_toy_dataset('nighttime_driving', toy, 1, (64, 32), convert=False)
    assert (toy / 'gta' / 'images' / '00001.png').is_file()

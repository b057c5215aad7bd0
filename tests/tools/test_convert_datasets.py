"""Dataset converters: train IDs pixel by pixel against docs/REFERENCE.md §1.1, statistics files, CLI errors."""
import json
import os
import subprocess
import sys
from collections import Counter

import cv2
import numpy as np
import pytest
from PIL import Image

from tools.convert_datasets import cityscapes, gta, synthia
from mmseg.utils import UserInputError
from tools.convert_datasets.common import (ConversionError, map_to_train_ids,
                                           save_class_stats)

# docs/REFERENCE.md §1.1, written out again here so that the tests do not read the converters' own tables.
SPEC_GTA = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
            25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
SPEC_SYNTHIA = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10, 10: 11,
                17: 12, 8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18}
STATS_FILES = ('sample_class_stats.json', 'sample_class_stats_dict.json',
               'samples_with_class.json')


def expected_train_ids(ids, mapping):
    """Pixel-by-pixel lookup with a Python loop."""
    out = np.empty(ids.shape, dtype=np.uint8)
    for (y, x), value in np.ndenumerate(ids):
        out[y, x] = mapping.get(int(value), 255)
    return out


def expected_stats(files_and_train_ids):
    """The three statistics files as JSON would give them back, counted with Counter."""
    per_file = {}
    for path, train_ids in files_and_train_ids:
        counts = Counter(int(v) for v in train_ids.ravel() if v != 255)
        per_file[path] = {str(c): n for c, n in sorted(counts.items())}
    listing = [dict(counts, file=path) for path, counts in per_file.items()]
    with_class = {}
    for path, counts in per_file.items():
        for c, n in counts.items():
            with_class.setdefault(c, []).append([path, n])
    return listing, per_file, with_class


def read_stats(root):
    return [json.load(open(os.path.join(root, name))) for name in STATS_FILES]


def check_stats(root, files_and_train_ids):
    listing, per_file, with_class = read_stats(root)
    exp_listing, exp_per_file, exp_with_class = expected_stats(files_and_train_ids)
    assert sorted(listing, key=lambda d: d['file']) == sorted(exp_listing, key=lambda d: d['file'])
    assert per_file == exp_per_file
    assert {c: sorted(v) for c, v in with_class.items()} == \
        {c: sorted(v) for c, v in exp_with_class.items()}


def make_gta(root, num=3, size=(40, 24), seed=0):
    """GTA-like labels: random Cityscapes label IDs 0..35 (+255), as L and palette PNGs."""
    rng = np.random.default_rng(seed)
    os.makedirs(root / 'labels')
    os.makedirs(root / 'images')
    ids = {}
    for i in range(num):
        label = rng.integers(0, 36, size=size[::-1]).astype(np.uint8)
        label[0, :3] = 255
        img = Image.fromarray(label, mode='L')
        if i % 2:  # real GTA labels are palette images whose indices are the label IDs
            img = img.convert('P')
            img.putpalette([v % 256 for v in range(768)])
        name = f'{i + 1:05d}.png'
        img.save(root / 'labels' / name)
        ids[name] = label
    return ids


def test_map_to_train_ids_ignores_unknown_and_out_of_table_ids():
    label = np.array([[7, 8, 40], [300, -1, 33]], dtype=np.int32)
    assert map_to_train_ids(label, SPEC_GTA).tolist() == [[0, 1, 255], [255, 255, 18]]


def test_save_class_stats_formats(tmp_path):
    save_class_stats(str(tmp_path), [{0: 5, 13: 2, 'file': 'a.png'}, {13: 7, 'file': 'b.png'}])
    listing, per_file, with_class = read_stats(tmp_path)
    assert listing == [{'0': 5, '13': 2, 'file': 'a.png'}, {'13': 7, 'file': 'b.png'}]
    assert per_file == {'a.png': {'0': 5, '13': 2}, 'b.png': {'13': 7}}
    assert with_class == {'0': [['a.png', 5]], '13': [['a.png', 2], ['b.png', 7]]}


def test_gta_converter_maps_spec_ids_and_writes_statistics(tmp_path):
    ids = make_gta(tmp_path)
    gta.convert_gta(str(tmp_path), nproc=1)
    expected = []
    for name, label in ids.items():
        out_file = os.path.join(str(tmp_path), 'labels', name.replace('.png', '_labelTrainIds.png'))
        with Image.open(out_file) as img:
            assert img.mode == 'L'
            train_ids = np.asarray(img)
        np.testing.assert_array_equal(train_ids, expected_train_ids(label, SPEC_GTA))
        expected.append((out_file, train_ids))
    check_stats(tmp_path, expected)
    # A second run must not treat its own *_labelTrainIds.png outputs as inputs.
    assert len(gta.convert_gta(str(tmp_path), nproc=1)) == len(ids)


def test_gta_converter_out_dir_and_parallel(tmp_path):
    make_gta(tmp_path / 'gta', num=4)
    gta.main([str(tmp_path / 'gta'), '-o', str(tmp_path / 'stats'), '--nproc', '2'])
    listing, _, _ = read_stats(tmp_path / 'stats')
    assert len(listing) == 4
    assert not os.path.exists(tmp_path / 'gta' / 'sample_class_stats.json')


@pytest.mark.parametrize('module, folder', [(gta, 'labels'), (synthia, 'LABELS'),
                                            (cityscapes, 'gtFine')])
def test_missing_folder_is_a_clear_error(tmp_path, module, folder):
    with pytest.raises(ConversionError) as info:
        module.main([str(tmp_path / 'nowhere')])
    message = str(info.value)
    assert isinstance(info.value, UserInputError)  # 'Cannot convert: ...', exit status 2
    assert message.startswith(str(tmp_path / 'nowhere'))
    assert folder in message and 'not found' in message


def test_gta_rejects_rgb_label(tmp_path):
    os.makedirs(tmp_path / 'labels')
    Image.new('RGB', (8, 8)).save(tmp_path / 'labels' / '00001.png')
    with pytest.raises(ConversionError, match='00001.png.*single-channel'):
        gta.main([str(tmp_path)])


def test_synthia_converter_reads_last_opencv_channel(tmp_path):
    rng = np.random.default_rng(1)
    label_dir = tmp_path / 'GT' / 'LABELS'
    os.makedirs(label_dir)
    classes = {}
    for i in range(3):
        raw = rng.integers(0, 1000, size=(20, 36, 3)).astype(np.uint16)  # instance IDs etc.
        raw[:, :, 2] = rng.integers(0, 24, size=(20, 36))
        raw[0, 0, 2] = 40000  # an ID far outside the map
        name = f'{i:07d}.png'
        assert cv2.imwrite(str(label_dir / name), raw)
        classes[name] = raw[:, :, 2]
    synthia.convert_synthia(str(tmp_path), nproc=1)
    expected = []
    for name, class_ids in classes.items():
        out_file = os.path.join(str(label_dir), name.replace('.png', '_labelTrainIds.png'))
        train_ids = np.asarray(Image.open(out_file))
        np.testing.assert_array_equal(train_ids, expected_train_ids(class_ids, SPEC_SYNTHIA))
        expected.append((out_file, train_ids))
    check_stats(tmp_path, expected)


# Cityscapes: axis-aligned rectangles, which PIL fills inclusively, so the expected label map
# is a few numpy slice assignments in drawing order.
RECT_SCENES = {
    ('train', 'aachen', 'aachen_000000_000001'): [
        ('sky', 0, 0, 63, 31), ('road', 0, 18, 63, 31), ('car', 10, 14, 25, 24),
        ('person', 20, 8, 23, 26), ('license plate', 12, 20, 16, 22),
        ('ego vehicle', 0, 29, 63, 31)],
    ('train', 'bremen', 'bremen_000000_000002'): [
        ('building', 0, 0, 63, 31), ('vegetation', 40, 2, 60, 20), ('bicycle', 5, 20, 14, 28)],
    ('val', 'frankfurt', 'frankfurt_000000_000003'): [
        ('sky', 0, 0, 63, 31), ('truck', 3, 3, 30, 30)],
}


def make_cityscapes(root):
    from cityscapesscripts.helpers.labels import name2label
    expected = {}
    for (split, city, frame), rects in RECT_SCENES.items():
        folder = root / 'gtFine' / split / city
        os.makedirs(folder, exist_ok=True)
        objects = [dict(label=lab, polygon=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
                   for lab, x0, y0, x1, y1 in rects]
        json.dump(dict(imgWidth=64, imgHeight=32, objects=objects),
                  open(folder / f'{frame}_gtFine_polygons.json', 'w'))
        train_ids = np.full((32, 64), 255, dtype=np.uint8)
        for lab, x0, y0, x1, y1 in rects:
            train_id = name2label[lab].trainId
            if name2label[lab].id >= 0:  # cityscapesscripts skips negative label IDs
                train_ids[y0:y1 + 1, x0:x1 + 1] = 255 if train_id < 0 else train_id
        expected[(split, city, frame)] = train_ids
    return expected


def check_cityscapes_outputs(root, expected, stats_root):
    stats = []
    for (split, city, frame), train_ids in expected.items():
        out_file = os.path.join(str(root), 'gtFine', split, city,
                                f'{frame}_gtFine_labelTrainIds.png')
        np.testing.assert_array_equal(np.asarray(Image.open(out_file)), train_ids)
        if split == 'train':
            stats.append((out_file, train_ids))
    check_stats(stats_root, stats)
    with open(os.path.join(str(stats_root), 'train.txt')) as f:
        assert f.read().splitlines() == ['aachen/aachen_000000_000001',
                                         'bremen/bremen_000000_000002']
    with open(os.path.join(str(stats_root), 'val.txt')) as f:
        assert f.read().splitlines() == ['frankfurt/frankfurt_000000_000003']


def test_cityscapes_converter_rasterises_polygons_in_order(tmp_path):
    expected = make_cityscapes(tmp_path)
    stats = cityscapes.convert_cityscapes(str(tmp_path), nproc=1)
    assert len(stats) == 2  # train split only
    check_cityscapes_outputs(tmp_path, expected, tmp_path)


def test_cityscapes_unknown_label_names_the_file(tmp_path):
    folder = tmp_path / 'gtFine' / 'train' / 'x'
    os.makedirs(folder)
    json.dump(dict(imgWidth=8, imgHeight=8, objects=[dict(label='dragon', polygon=[[0, 0], [4, 0],
                                                                                  [4, 4]])]),
              open(folder / 'x_000000_000000_gtFine_polygons.json', 'w'))
    with pytest.raises(ConversionError, match=r"x_000000_000000_gtFine_polygons.json.*dragon"):
        cityscapes.main([str(tmp_path), '--nproc', '1'])


@pytest.mark.slow
def test_converters_as_commands(tmp_path, repo_root):
    """As a user runs them: a script path, ``python -m``, and an error exit without traceback."""
    expected = make_cityscapes(tmp_path / 'cs')
    run = subprocess.run([sys.executable, '-m', 'tools.convert_datasets.cityscapes',
                          str(tmp_path / 'cs'), '-o', str(tmp_path / 'out'), '--nproc', '2'],
                         cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    check_cityscapes_outputs(tmp_path / 'cs', expected, tmp_path / 'out')

    make_gta(tmp_path / 'gta', num=2)
    run = subprocess.run([sys.executable, 'tools/convert_datasets/gta.py', str(tmp_path / 'gta'),
                          '--nproc', '2'], cwd=repo_root, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(json.load(open(tmp_path / 'gta' / 'sample_class_stats.json'))) == 2

    run = subprocess.run([sys.executable, 'tools/convert_datasets/synthia.py',
                          str(tmp_path / 'missing')], cwd=repo_root, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2
    assert 'Traceback' not in run.stderr and run.stderr.startswith('Cannot convert: ')
    assert os.path.join('missing', 'GT', 'LABELS') in run.stderr

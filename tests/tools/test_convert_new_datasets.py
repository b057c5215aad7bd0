"""Converters of the datasets of docs/dataset_prepare.md, run on their toy layouts
(tools/toy_datasets.py): output files, train IDs only, and the class mapping checked against
tables written by hand from the cited sources (not the converters' own tables)."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tools.convert_datasets.bdd100k import bdd100k_statistics
from tools.convert_datasets.common import ConversionError
from tools.convert_datasets.foggy_driving import convert_foggy_driving
from tools.convert_datasets.mapillary import convert_mapillary
from tools.convert_datasets.synscapes import convert_synscapes
from tools.convert_datasets.urbansyn import convert_urbansyn
from tools.convert_datasets.wilddash2 import convert_wilddash2

# Cityscapes label ID -> train ID (cityscapesscripts' labels.py), written out by hand.
CS_LABEL_TO_TRAIN = {0: 255, 1: 255, 4: 255, 7: 0, 8: 1, 9: 255, 10: 255, 11: 2, 12: 3, 13: 4,
                     17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14,
                     28: 15, 31: 16, 32: 17, 33: 18}
# Mapillary Vistas v1.2 index -> train ID (tue-mps/benchmark-vfm-ss datasets/mappings.py).
VISTAS_TO_TRAIN = {13: 0, 24: 0, 41: 0, 2: 1, 15: 1, 17: 2, 6: 3, 3: 4, 45: 5, 47: 5, 48: 6,
                   50: 7, 30: 8, 29: 9, 27: 10, 19: 11, 20: 12, 21: 12, 22: 12, 55: 13, 61: 14,
                   54: 15, 58: 16, 57: 17, 52: 18, 4: 255, 5: 255, 12: 255, 14: 255, 44: 255,
                   46: 255, 49: 255, 64: 255, 65: 255}
# WildDash2 category -> train ID (wd2_unified_label_policy.json, column cs_name).
WD2_TO_TRAIN = {1: 255, 7: 0, 8: 1, 9: 255, 10: 255, 11: 2, 12: 3, 13: 4, 17: 5, 18: 255, 19: 6,
                20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16,
                32: 17, 33: 18, 34: 14, 35: 13, 36: 255, 37: 255, 38: 0}


def _raw(toy_new_datasets, name, tmp_path):
    root = tmp_path / name
    shutil.copytree(toy_new_datasets['raw'] / name, root)
    return root


def _png(path):
    return np.asarray(Image.open(path))


def _check_mapping(raw, out, table):
    """Every raw value maps to table[value]; returns the raw values seen."""
    assert raw.shape == out.shape and out.dtype == np.uint8
    for value in np.unique(raw):
        assert set(np.unique(out[raw == value])) == {table[int(value)]}, value
    return set(np.unique(raw).tolist())


def _check_stats(root, out_files):
    """sample_class_stats.json lists each output with its pixel counts (np.bincount)."""
    stats = json.loads((root / 'sample_class_stats.json').read_text())
    assert sorted(s['file'] for s in stats) == sorted(str(f) for f in out_files)
    for entry in stats:
        counts = np.bincount(_png(entry['file']).ravel(), minlength=256)
        assert {k: v for k, v in entry.items() if k != 'file'} == \
            {str(c): int(counts[c]) for c in range(19) if counts[c]}
    assert (root / 'sample_class_stats_dict.json').is_file()
    assert (root / 'samples_with_class.json').is_file()


def test_mapillary_maps_vistas_classes(toy_new_datasets, tmp_path):
    root = _raw(toy_new_datasets, 'mapillary', tmp_path)
    # A hand-made label of classes the scenes do not draw (curb, manhole, utility pole,
    # motorcyclist, other rider, sign frame, sign back, street light, other barrier, ...).
    patch = np.array([[2, 41, 47, 21, 22, 46], [49, 44, 5, 14, 4, 65]], dtype=np.uint8)
    Image.fromarray(np.kron(patch, np.ones((4, 4), np.uint8)), 'L').convert('P').save(
        root / 'training' / 'v1.2' / 'labels' / 'patch.png')
    results = convert_mapillary(root, nproc=1)
    assert sorted(results) == ['training', 'validation']
    seen, outputs = set(), []
    for split in ('training', 'validation'):
        for label in sorted((root / split / 'v1.2' / 'labels').glob('*.png')):
            if label.name.endswith('_labelTrainIds.png'):
                continue
            out = label.with_name(label.stem + '_labelTrainIds.png')
            seen |= _check_mapping(_png(label), _png(out), VISTAS_TO_TRAIN)
            if split == 'training':
                outputs.append(out)
    out = _png(root / 'training' / 'v1.2' / 'labels' / 'patch_labelTrainIds.png')
    np.testing.assert_array_equal(out[::4, ::4], [[1, 0, 5, 12, 12, 255],
                                                  [255, 255, 255, 255, 255, 255]])
    assert {13, 24, 27, 55, 64} <= seen  # road, lane marking, sky, car, ego vehicle drawn
    _check_stats(root, outputs)  # the training split only


def _panoptic_ids(path):
    rgb = _png(path).astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def test_wilddash2_maps_panoptic_segments(toy_new_datasets, tmp_path):
    root = _raw(toy_new_datasets, 'wilddash2', tmp_path)
    convert_wilddash2(root, nproc=1)
    panoptic = json.loads((root / 'panoptic.json').read_text())
    seen, outputs = set(), []
    for ann in panoptic['annotations']:
        ids = _panoptic_ids(root / 'panoptic' / ann['file_name'])
        out_file = root / 'labelTrainIds' / ann['file_name'].replace('.png', '_labelTrainIds.png')
        out = _png(out_file)
        outputs.append(out_file)
        expected = np.full(ids.shape, 255)
        for segment in ann['segments_info']:
            expected[ids == segment['id']] = WD2_TO_TRAIN[segment['category_id']]
            seen.add(segment['category_id'])
        np.testing.assert_array_equal(out, expected)
        assert (root / 'images' / ann['file_name'].replace('.png', '.jpg')).is_file()
    assert {7, 23, 26, 35, 38} <= seen  # road, sky, car, van, road marking
    _check_stats(root, outputs)


def _write_panoptic(root, categories):
    """One 2×len(categories) panoptic PNG, column i a segment of categories[i], row 1 void."""
    (root / 'panoptic').mkdir(parents=True)
    ids = np.zeros((2, len(categories)), dtype=np.int64)
    ids[0] = [70000 + 300 * i for i in range(len(categories))]
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)
    Image.fromarray(rgb, 'RGB').save(root / 'panoptic' / 'x.png')
    info = [dict(id=int(ids[0, i]), category_id=c) for i, c in enumerate(categories)]
    (root / 'panoptic.json').write_text(json.dumps(dict(
        images=[dict(id=1, file_name='x.jpg')],
        annotations=[dict(image_id=1, file_name='x.png', segments_info=info)])))


def test_wilddash2_patch_and_unknown_category(tmp_path):
    # on rails, billboard, street light, pole group, parking, rider, pickup
    _write_panoptic(tmp_path / 'a', [31, 36, 37, 18, 9, 25, 34])
    convert_wilddash2(tmp_path / 'a')
    np.testing.assert_array_equal(_png(tmp_path / 'a' / 'labelTrainIds' / 'x_labelTrainIds.png'),
                                  [[16, 255, 255, 255, 255, 12, 14], [255] * 7])
    _write_panoptic(tmp_path / 'b', [7, 77])
    with pytest.raises(ConversionError, match=r'panoptic\.json: segment 70300 of x\.png has '
                                              r'category id 77'):
        convert_wilddash2(tmp_path / 'b')


def test_synscapes_maps_cityscapes_label_ids(toy_new_datasets, tmp_path):
    root = _raw(toy_new_datasets, 'synscapes', tmp_path)
    convert_synscapes(root, nproc=1)
    seen, outputs = set(), []
    for label in sorted((root / 'img' / 'class').glob('[0-9].png')):
        out = label.with_name(label.stem + '_labelTrainIds.png')
        seen |= _check_mapping(_png(label), _png(out), CS_LABEL_TO_TRAIN)
        outputs.append(out)
        assert (root / 'img' / 'rgb' / label.name).is_file()
    assert len(outputs) == 2 and {7, 11, 23, 26} <= seen
    _check_stats(root, outputs)


def test_synscapes_refuses_labels_that_are_not_cityscapes_label_ids(toy_new_datasets,
                                                                   tmp_path):
    """A Mapillary label (values up to 65) given as Synscapes would map to train IDs silently."""
    root = _raw(toy_new_datasets, 'synscapes', tmp_path)
    Image.fromarray(np.array([[7, 33, 255, 34, 64]], np.uint8), 'L').save(
        root / 'img' / 'class' / '9.png')
    with pytest.raises(ConversionError, match=r'9\.png holds values \[34, 64\]: expected '
                       'Cityscapes label IDs 0-33'):
        convert_synscapes(root, nproc=1)


def test_urbansyn_renames_labels_after_images(toy_new_datasets, tmp_path):
    root = _raw(toy_new_datasets, 'urbansyn', tmp_path)
    # A hand-made label: train IDs kept, 19 (unlabelled) and anything above -> 255.
    patch = np.array([[0, 5, 18, 19, 200]], np.uint8)
    Image.fromarray(patch, 'L').save(root / 'ss' / 'ss_9999.png')
    convert_urbansyn(root, nproc=1)
    np.testing.assert_array_equal(_png(root / 'labelTrainIds' / 'rgb_9999_labelTrainIds.png'),
                                  [[0, 5, 18, 255, 255]])
    outputs = []
    for image in sorted((root / 'rgb').glob('rgb_*.png')):
        number = image.stem[len('rgb_'):]
        raw = _png(root / 'ss' / f'ss_{number}.png')
        out_file = root / 'labelTrainIds' / f'rgb_{number}_labelTrainIds.png'
        out = _png(out_file)
        outputs.append(out_file)
        expected = np.where(raw == 19, 255, raw)  # 19 = unlabelled, train IDs kept
        np.testing.assert_array_equal(out, expected)
        assert len(np.unique(raw)) > 5
    assert len(outputs) == 2
    _check_stats(root, outputs + [root / 'labelTrainIds' / 'rgb_9999_labelTrainIds.png'])


def test_foggy_driving_converts_fine_and_coarse(toy_new_datasets, tmp_path):
    root = _raw(toy_new_datasets, 'foggy_driving', tmp_path)
    convert_foggy_driving(root, nproc=1)
    found = {}
    for folder, kind in (('gtFine/test', 'gtFine'), ('gtCoarse/test_extra', 'gtCoarse')):
        labels = sorted((root / folder).rglob(f'*_{kind}_labelIds.png'))
        found[kind] = len(labels)
        for label in labels:
            out = label.with_name(label.name.replace('_labelIds', '_labelTrainIds'))
            _check_mapping(_png(label), _png(out), CS_LABEL_TO_TRAIN)
    assert found == {'gtFine': 2, 'gtCoarse': 2}


def test_bdd100k_statistics_and_bad_mask(toy_new_datasets, tmp_path):
    root = _raw(toy_new_datasets, 'bdd100k', tmp_path)
    masks = sorted((root / 'labels' / 'sem_seg' / 'masks' / 'train').glob('*.png'))
    before = [_png(m).copy() for m in masks]
    bdd100k_statistics(root, nproc=1)
    _check_stats(root, masks)
    for mask, label in zip(masks, before):  # nothing rewritten
        np.testing.assert_array_equal(_png(mask), label)
    bad = before[0].copy()
    bad[0, 0] = 19
    Image.fromarray(bad, 'L').save(masks[0])
    with pytest.raises(ConversionError, match=rf'{masks[0].name} holds values \[19\]'):
        bdd100k_statistics(root)


def test_new_converters_command_line(toy_new_datasets, tmp_path, capsys):
    """The CLI of the new converters: main() with -o and --nproc, and the one-line error with
    exit status 2 of run_cli, as the scripts call it (no subprocess: the existing converter
    tests run the scripts themselves)."""
    from mmseg.utils.errors import run_cli
    from tools.convert_datasets import mapillary, wilddash2
    root = _raw(toy_new_datasets, 'mapillary', tmp_path)
    assert mapillary.main([str(root), '-o', str(tmp_path / 'stats'), '--nproc', '2']) == 0
    assert len(json.loads((tmp_path / 'stats' / 'sample_class_stats.json').read_text())) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(wilddash2.main, 'convert', [str(tmp_path / 'missing')])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith('Cannot convert: ') and 'missing/panoptic.json not found' in err

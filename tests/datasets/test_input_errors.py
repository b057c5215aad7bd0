"""Bad inputs stop early with a message naming the file and what was expected."""
import json

import cv2
import mmcv
import numpy as np
import pytest

from mmseg.datasets import CustomDataset, UDADataset, build_dataset

TRAIN_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                  dict(type='RandomFlip', prob=0.0), dict(type='DefaultFormatBundle'),
                  dict(type='Collect', keys=['img', 'gt_semantic_seg'])]


def _write(root, name, label, image_shape=None):
    (root / 'img').mkdir(parents=True, exist_ok=True)
    (root / 'ann').mkdir(parents=True, exist_ok=True)
    image_shape = image_shape or label.shape
    cv2.imwrite(str(root / 'img' / f'{name}.png'), np.zeros(image_shape + (3, ), np.uint8))
    cv2.imwrite(str(root / 'ann' / f'{name}.png'), label.astype(np.uint8))


def _dataset(root, **kwargs):
    return CustomDataset(pipeline=TRAIN_PIPELINE, img_dir=str(root / 'img'), img_suffix='.png',
                         ann_dir=str(root / 'ann'), classes=('a', 'b', 'c'),
                         palette=[[0, 0, 0]] * 3, **kwargs)


def test_label_values_beyond_num_classes_in_training_name_file_value_and_cause(tmp_path):
    # labels 0..3 with reduce_zero_label on the dataset, but LoadAnnotations does not reduce
    _write(tmp_path, 'frame', np.arange(4).repeat(16).reshape(8, 8))
    dataset = _dataset(tmp_path, reduce_zero_label=True)
    with pytest.raises(ValueError) as info:
        dataset[0]
    message = str(info.value)
    for part in (str(tmp_path / 'ann' / 'frame.png'), '[3]', 'num_classes = 3',
                 'reduce_zero_label'):
        assert part in message


def test_label_values_beyond_num_classes_in_evaluation(tmp_path):
    label = np.full((8, 8), 255)
    label[0, :3] = [0, 1, 7]
    _write(tmp_path, 'frame', label)
    dataset = _dataset(tmp_path)
    with pytest.raises(ValueError, match=r'frame\.png holds values \[7\].*num_classes = 3'):
        dataset.evaluate([np.zeros((8, 8), np.int64)])


def test_image_label_size_mismatch_in_training_names_both_files_and_shapes(tmp_path):
    _write(tmp_path, 'frame', np.zeros((100, 256)), image_shape=(128, 256))
    with pytest.raises(ValueError) as info:
        _dataset(tmp_path)[0]
    message = str(info.value)
    assert str(tmp_path / 'img' / 'frame.png') in message and '128x256' in message
    assert str(tmp_path / 'ann' / 'frame.png') in message and '100x256' in message


def test_image_label_size_mismatch_in_testing_fails_when_the_dataset_is_built(tmp_path):
    _write(tmp_path, 'a', np.zeros((16, 16)))
    _write(tmp_path, 'b', np.zeros((12, 16)), image_shape=(16, 16))
    with pytest.raises(ValueError, match=r'b\.png is 16x16 .*ann/b\.png is 12x16'):
        _dataset(tmp_path, test_mode=True)


def test_converter_warns_about_all_ignore_labels(tmp_path, capsys):
    from tools.convert_datasets.synthia import convert_synthia
    labels = tmp_path / 'GT' / 'LABELS'
    labels.mkdir(parents=True)
    # class IDs in the first channel instead of the last one: nothing the converter knows
    for name in ('0000000', '0000001'):
        label = np.zeros((8, 8, 3), np.uint16)
        label[..., 0] = 3
        cv2.imwrite(str(labels / f'{name}.png'), label)
    convert_synthia(str(tmp_path))
    err = capsys.readouterr().err
    assert f'{labels / "0000000_labelTrainIds.png"} has no pixel of any class' in err
    assert '2 of 2 converted labels are all ignore' in err and 'class IDs' in err
    # ...and UDADataset names the empty statistics file and how to regenerate it
    with pytest.raises(ValueError) as info:
        UDADataset(_gta_like(tmp_path), _gta_like(tmp_path),
                   rare_class_sampling=dict(min_pixels=0, class_temp=0.01, min_crop_ratio=0))
    assert str(tmp_path / 'sample_class_stats.json') in str(info.value)
    assert 'tools/convert_datasets' in str(info.value)


def _gta_like(root):
    return build_dataset(dict(type='SynthiaDataset', data_root=str(root), img_dir='GT/LABELS',
                              ann_dir='GT/LABELS', img_suffix='_labelTrainIds.png',
                              pipeline=[]))  # each converted label is its own image


def test_inconsistent_samples_with_class_is_named(tmp_path):
    _write(tmp_path, 'frame', np.zeros((8, 8)))
    (tmp_path / 'sample_class_stats.json').write_text(json.dumps([{'0': 64, 'file': 'x'}]))
    (tmp_path / 'samples_with_class.json').write_text(json.dumps({}))
    source = _dataset(tmp_path)
    source.data_root = str(tmp_path)
    with pytest.raises(ValueError, match=r'samples_with_class\.json is inconsistent.*Regenerate'):
        UDADataset(source, _dataset(tmp_path),
                   rare_class_sampling=dict(min_pixels=0, class_temp=0.01, min_crop_ratio=0))

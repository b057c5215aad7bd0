"""Real layouts without labels: Dark Zurich's unlabelled train split as a UDA target, and the
test splits of ACDC / Dark Zurich (no released labels) under tools/test.py --test-set."""
import cv2
import numpy as np
import pytest
from mmcv import Config

from mmseg.datasets import build_dataset
from tools.test import _to_test_split


def _write_dark_zurich(root, n=2):
    folder = root / 'rgb_anon' / 'train' / 'night' / 'GOPR0356'
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for i in range(n):
        cv2.imwrite(str(folder / f'GOPR0356_frame_{i:06d}_rgb_anon.png'),
                    rng.randint(0, 255, (64, 128, 3)).astype(np.uint8))


def test_dark_zurich_uda_target_trains_without_labels(repo_root, tiny_data, tmp_path):
    cfg = Config.fromfile(
        str(repo_root / 'configs/_base_/datasets/uda_cityscapes_to_darkzurich_512x512.py'))
    _write_dark_zurich(tmp_path / 'dark_zurich')
    train = cfg.data.train
    train.source.update(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit',
                        ann_dir='gtFine')
    train.target.data_root = str(tmp_path / 'dark_zurich')
    for side in (train.source, train.target):
        for t in side.pipeline:
            if t['type'] == 'Resize':
                t['img_scale'] = (128, 64)
            if t['type'] in ('RandomCrop', 'Pad'):
                t['crop_size' if t['type'] == 'RandomCrop' else 'size'] = (32, 32)
    dataset = build_dataset(train)
    sample = dataset[0]
    assert tuple(sample['target_img'].data.shape) == (3, 32, 32)
    assert 'GOPR0356_frame' in sample['target_img_metas'].data['filename']
    assert tuple(sample['gt_semantic_seg'].data.shape) == (1, 32, 32)


def test_loading_labels_of_an_unlabelled_dataset_names_the_image(tiny_data):
    dataset = build_dataset(dict(
        type='CityscapesDataset', data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit',
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
    with pytest.raises(KeyError, match='leftImg8bit.png has no label'):
        dataset[0]


def test_test_split_without_released_labels_is_predicted_only(tmp_path):
    acdc = tmp_path / 'acdc'
    for folder in ('rgb_anon/val', 'rgb_anon/test', 'gt/val'):
        (acdc / folder).mkdir(parents=True)
    data_cfg = dict(data_root=str(acdc), img_dir='rgb_anon/val', ann_dir='gt/val')
    _to_test_split(data_cfg)
    assert data_cfg == dict(data_root=str(acdc), img_dir='rgb_anon/test', ann_dir=None)

    cityscapes = tmp_path / 'cityscapes'
    for folder in ('leftImg8bit/test', 'gtFine/test'):
        (cityscapes / folder).mkdir(parents=True)
    data_cfg = dict(data_root=str(cityscapes), img_dir='leftImg8bit/val', ann_dir='gtFine/val')
    _to_test_split(data_cfg)
    assert data_cfg['ann_dir'] == 'gtFine/test'

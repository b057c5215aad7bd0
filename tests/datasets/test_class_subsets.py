"""mIoU16 of Synthia->Cityscapes runs: the Cityscapes val set of those configs reports it."""
import numpy as np
from dataset_test_utils import eval_pipeline
from mmcv import Config

from mmseg.datasets import build_dataset


def _expected_miou16(preds, labels):
    valid = [c for c in range(19) if c not in (9, 14, 16)]
    ious = []
    for c in valid:
        inter = sum(((p == c) & (g == c) & (g != 255)).sum() for p, g in zip(preds, labels))
        union = sum((((p == c) & (g != 255)) | (g == c)).sum() for p, g in zip(preds, labels))
        if union:
            ious.append(inter / union)
    return float(np.mean(ious))


def test_synthia_uda_config_val_reports_miou16(repo_root, tiny_data):
    cfg = Config.fromfile(
        str(repo_root / 'configs/_base_/datasets/uda_synthia_to_cityscapes_512x512.py'))
    val = cfg.data.val
    val.update(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit', ann_dir='gtFine',
               pipeline=eval_pipeline())
    dataset = build_dataset(val)
    labels = [dataset.get_gt_seg_map_by_idx(i) for i in range(len(dataset))]
    rng = np.random.RandomState(0)
    preds = [np.where(rng.rand(*g.shape) < 0.3, rng.randint(0, 19, g.shape), g) for g in labels]
    res = dataset.evaluate(preds, metric='mIoU')
    assert 'mIoU16' in res and 'mIoU' in res
    # evaluate rounds to 0.01 % (4 decimals of a fraction): within half a unit of that.
    assert abs(res['mIoU16'] - _expected_miou16(preds, labels)) <= 0.5e-4 + 1e-12
    assert res['mIoU16'] != res['mIoU']


def test_plain_cityscapes_has_no_subset(repo_root, tiny_data):
    cfg = Config.fromfile(
        str(repo_root / 'configs/_base_/datasets/uda_gta_to_cityscapes_512x512.py'))
    val = cfg.data.val
    val.update(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit', ann_dir='gtFine',
               pipeline=eval_pipeline())
    dataset = build_dataset(val)
    labels = [dataset.get_gt_seg_map_by_idx(i) for i in range(len(dataset))]
    assert 'mIoU16' not in dataset.evaluate(labels, metric='mIoU')

"""Cityscapes-family datasets: label-ID export, pseudo-label margins, ACDC, Dark Zurich, Synthia."""
import numpy as np
import pytest
import torch
from dataset_test_utils import block_label, eval_pipeline, iou_by_confusion_loop, write_pair
from PIL import Image

from mmseg.datasets import (ACDCDataset, CityscapesDataset, DarkZurichDataset, SynthiaDataset,
                            make_valid_pseudo_mask)


def _val(tiny_data, **kwargs):
    return CityscapesDataset(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit/val',
                             ann_dir='gtFine/val', pipeline=eval_pipeline(), test_mode=True,
                             **kwargs)


def test_format_results_writes_label_ids_with_cityscapes_palette(tiny_data, tmp_path):
    dataset = _val(tiny_data)
    preds = [dataset.get_gt_seg_map_by_idx(i) % 255 for i in range(2)]  # ignore → road
    files = dataset.format_results(preds, str(tmp_path / 'out'), to_label_id=True)
    assert [f.split('/')[-1] for f in files] == ['frankfurt_000000_000294_leftImg8bit.png',
                                                 'lindau_000000_000019_leftImg8bit.png']
    png = Image.open(files[0])
    assert png.mode == 'P'
    values = np.array(png)
    # train IDs → label IDs: road 0 → 7, sidewalk 1 → 8, building 2 → 11, pole 5 → 17,
    # traffic sign 7 → 20, sky 10 → 23, car 13 → 26
    to_label_id = {0: 7, 1: 8, 2: 11, 5: 17, 7: 20, 10: 23, 13: 26}
    expected = np.vectorize(to_label_id.get)(preds[0])
    np.testing.assert_array_equal(values, expected)
    palette = np.array(png.getpalette()[:3 * 34]).reshape(-1, 3)
    assert palette[7].tolist() == [128, 64, 128] and palette[26].tolist() == [0, 0, 142]

    files = dataset.format_results([preds[1]], str(tmp_path / 'train_ids'), to_label_id=False,
                                   indices=[1])
    assert files[0].endswith('train_ids/lindau_000000_000019_leftImg8bit.png')
    np.testing.assert_array_equal(np.array(Image.open(files[0])), preds[1])


def test_valid_pseudo_mask_margins_before_the_pipeline(tiny_data):
    dataset = CityscapesDataset(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit/train',
                                pipeline=[], crop_pseudo_margins=[2, 3, 4, 5], test_mode=True)
    results = dict(img_info=dataset.img_infos[0])
    dataset.pre_pipeline(results)
    expected = np.ones((32, 64), dtype=np.uint8)
    for y in range(32):
        for x in range(64):
            if y < 2 or y >= 32 - 3 or x < 4 or x >= 64 - 5:
                expected[y, x] = 0
    assert results['valid_pseudo_mask'].dtype == np.uint8
    np.testing.assert_array_equal(results['valid_pseudo_mask'], expected)
    assert results['seg_fields'] == ['valid_pseudo_mask']
    np.testing.assert_array_equal(make_valid_pseudo_mask((4, 4), [0, 0, 0, 1]),
                                  [[1, 1, 1, 0]] * 4)
    with pytest.raises(ValueError, match='top, bottom, left, right'):
        CityscapesDataset(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit/train',
                          pipeline=[], crop_pseudo_margins=[1, 2])


def test_valid_pseudo_mask_follows_resize_and_flip(tiny_data):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='Resize', img_scale=(128, 64)), dict(type='RandomFlip', prob=1.0),
                dict(type='DefaultFormatBundle'),
                dict(type='Collect', keys=['img', 'gt_semantic_seg', 'valid_pseudo_mask'])]
    dataset = CityscapesDataset(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit/train',
                                ann_dir='gtFine/train', pipeline=pipeline,
                                crop_pseudo_margins=[2, 0, 0, 5])
    mask = dataset[0]['valid_pseudo_mask'].data
    assert mask.dtype == torch.uint8 and tuple(mask.shape) == (1, 64, 128)
    expected = make_valid_pseudo_mask((32, 64), [2, 0, 0, 5])
    expected = np.repeat(np.repeat(expected, 2, axis=0), 2, axis=1)[:, ::-1]
    np.testing.assert_array_equal(mask[0].numpy(), expected)


def _acdc_like(root, split_dirs):
    label = block_label([[10] * 8, [2] * 8, [0, 0, 13, 13, 0, 0, 0, 0], [0] * 8])
    for img_dir, gt_dir in split_dirs:
        stem = 'GOPR0475/GOPR0475_frame_000041'
        write_pair(root / img_dir / f'{stem}_rgb_anon.png',
                   root / (gt_dir or 'unused') / f'{stem}_gt_labelTrainIds.png', label)
    return label


@pytest.mark.parametrize('dataset_type', [ACDCDataset, DarkZurichDataset])
def test_acdc_and_dark_zurich_layouts(dataset_type, tmp_path):
    label = _acdc_like(tmp_path, [('rgb_anon/val', 'gt/val'), ('rgb_anon/train', None)])
    dataset = dataset_type(data_root=str(tmp_path), img_dir='rgb_anon/val', ann_dir='gt/val',
                           pipeline=eval_pipeline(scale=(64, 32)), test_mode=True)
    assert (dataset.img_infos[0]['ann']['seg_map']
            == 'GOPR0475/GOPR0475_frame_000041_gt_labelTrainIds.png')
    np.testing.assert_array_equal(dataset.get_gt_seg_map_by_idx(0), label)
    assert dataset.evaluate([label])['mIoU'] == 1.0
    files = dataset.format_results([label], str(tmp_path / 'labelTrainIds'), to_label_id=False)
    assert files[0].endswith('GOPR0475_frame_000041_rgb_anon.png')
    np.testing.assert_array_equal(np.array(Image.open(files[0])), label)
    unlabelled = dataset_type(data_root=str(tmp_path), img_dir='rgb_anon/train',
                              pipeline=eval_pipeline(scale=(64, 32)), test_mode=True)
    assert tuple(unlabelled[0]['img'][0].shape) == (3, 32, 64)
    with pytest.raises(FileNotFoundError, match='docs/dataset_prepare.md'):
        dataset_type(data_root=str(tmp_path), img_dir='rgb_anon/test', pipeline=[])


def test_synthia_reports_miou16_next_to_miou(tiny_data):
    dataset = SynthiaDataset(data_root=str(tiny_data.synthia), img_dir='RGB',
                             ann_dir='GT/LABELS', pipeline=eval_pipeline(), test_mode=True)
    labels = [dataset.get_gt_seg_map_by_idx(i) for i in range(len(dataset))]
    preds = [label.copy() for label in labels]
    preds[0][:8, :8] = 9    # sky called terrain (a class Synthia lacks)
    preds[1][24:, :16] = 0  # sidewalk called road
    iou, _, _ = iou_by_confusion_loop(preds, labels, 19)
    valid = [c for c in range(19) if c not in (9, 14, 16)]
    results = dataset.evaluate(preds)
    assert results['mIoU'] == pytest.approx(round(np.nanmean(iou) * 100, 2) / 100)
    assert results['mIoU16'] == pytest.approx(round(np.nanmean(iou[valid]) * 100, 2) / 100)
    assert results['IoU.terrain'] == 0.0 and results['mIoU16'] > results['mIoU']


def test_evaluate_cityscapes_official_evaluator_agrees_with_miou(toy_data_root):
    """--eval cityscapes (cityscapesscripts on label-ID PNGs against *_gtFine_labelIds.png)
    gives the same class-average IoU as our mIoU on the same predictions (the toy labelIds and
    labelTrainIds hold the same classes)."""
    dataset = CityscapesDataset(data_root=str(toy_data_root / 'cityscapes'),
                                img_dir='leftImg8bit/val', ann_dir='gtFine/val',
                                pipeline=eval_pipeline(), test_mode=True)
    rng = np.random.RandomState(0)
    preds = []
    for i in range(len(dataset)):
        gt = dataset.get_gt_seg_map_by_idx(i)
        noisy = np.where(rng.rand(*gt.shape) < 0.3, rng.randint(0, 19, gt.shape), gt)
        preds.append(np.where(noisy == 255, 0, noisy).astype(np.int64))
    ret = dataset.evaluate(preds, ['mIoU', 'cityscapes'])
    assert 0 < ret['cityscapes/mIoU'] < 1
    assert ret['cityscapes/mIoU'] == pytest.approx(ret['mIoU'], abs=1e-4)  # mIoU is rounded
    assert 'cityscapes/iIoU' not in ret  # the toy data has no instance-ID files


def test_evaluate_cityscapes_without_label_id_files_names_one(tiny_data):
    dataset = _val(tiny_data)
    with pytest.raises(FileNotFoundError, match='_gtFine_labelIds.png'):
        dataset.check_cityscapes_evaluation()

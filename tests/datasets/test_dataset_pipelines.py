"""Pipeline transforms (docs/REFERENCE.md §1.2) checked against hand-made arrays, and the docs/REFERENCE.md §1.3 pipelines."""
import mmcv
import numpy as np
import pytest
import torch
from dataset_test_utils import (IMG_NORM, block_label, denormalize_rgb, eval_pipeline, label_image,
                                rgb_of_label, train_pipeline)

from mmseg.datasets import CityscapesDataset, GTADataset
from mmseg.datasets.pipelines import (Collect, Compose, DefaultFormatBundle, ImageToTensor,
                                      LoadAnnotations, LoadImageFromFile, MultiScaleFlipAug,
                                      Normalize, Pad, PhotoMetricDistortion, RandomCrop,
                                      RandomFlip, Resize)
from mmseg.datasets.pipelines import transforms as transforms_module

LABEL = block_label([[10] * 8, [2, 2, 8, 8, 2, 2, 11, 11], [0, 0, 0, 0, 13, 13, 1, 255], [0] * 8])


def _results(label=LABEL, with_mask=False):
    results = dict(img=label_image(label), gt_semantic_seg=label.copy(),
                   seg_fields=['gt_semantic_seg'], filename='x.png')
    results['img_shape'] = results['ori_shape'] = results['img'].shape
    if with_mask:
        results['valid_pseudo_mask'] = np.ones(label.shape, dtype=np.uint8)
        results['valid_pseudo_mask'][:3] = 0
        results['seg_fields'].append('valid_pseudo_mask')
    return results


def test_load_image_and_annotations(tiny_data):
    stem = 'train/aachen/aachen_000000_000019'
    results = dict(img_prefix=str(tiny_data.cityscapes / 'leftImg8bit'),
                   img_info=dict(filename=f'{stem}_leftImg8bit.png'),
                   seg_prefix=str(tiny_data.cityscapes / 'gtFine'),
                   ann_info=dict(seg_map=f'{stem}_gtFine_labelTrainIds.png'), seg_fields=[])
    results = LoadAnnotations()(LoadImageFromFile()(results))
    label = tiny_data.labels[('cityscapes', stem)]
    assert results['img'].dtype == np.uint8 and results['img'].shape == (32, 64, 3)
    np.testing.assert_array_equal(results['img'], label_image(label))  # BGR as written by cv2
    assert results['ori_shape'] == (32, 64, 3) and results['scale_factor'] == 1.0
    assert results['filename'].endswith(f'leftImg8bit/{stem}_leftImg8bit.png')
    assert results['ori_filename'] == f'{stem}_leftImg8bit.png'
    np.testing.assert_array_equal(results['gt_semantic_seg'], label)
    assert results['seg_fields'] == ['gt_semantic_seg']

    as_float = LoadImageFromFile(to_float32=True)(dict(results, img_prefix=results['img_prefix']))
    assert as_float['img'].dtype == np.float32


def test_load_annotations_reduce_zero_label(tiny_data):
    stem = 'val/lindau/lindau_000000_000019'
    results = dict(seg_prefix=str(tiny_data.cityscapes / 'gtFine'),
                   ann_info=dict(seg_map=f'{stem}_gtFine_labelTrainIds.png'), seg_fields=[])
    reduced = LoadAnnotations(reduce_zero_label=True)(results)['gt_semantic_seg']
    label = tiny_data.labels[('cityscapes', stem)].astype(int)
    expected = np.where(label == 0, 255, np.where(label == 255, 255, label - 1))
    np.testing.assert_array_equal(reduced, expected)


def test_resize_keep_ratio_scales_image_and_every_seg_field_nearest():
    results = Resize(img_scale=(1000, 64))(_results(with_mask=True))  # short edge 64 limits: ×2
    assert results['img'].shape == (64, 128, 3)
    np.testing.assert_allclose(results['scale_factor'], [2, 2, 2, 2])
    up = np.repeat(np.repeat(LABEL, 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(results['gt_semantic_seg'], up)
    assert results['valid_pseudo_mask'].shape == (64, 128)
    mask = results['valid_pseudo_mask']
    assert mask[:6].max() == 0 and mask[6:].min() == 1


def test_resize_without_keep_ratio_and_random_scales():
    results = Resize(img_scale=(96, 16), keep_ratio=False)(_results())
    assert results['img'].shape == (16, 96, 3) and results['gt_semantic_seg'].shape == (16, 96)
    np.testing.assert_allclose(results['scale_factor'], [1.5, 0.5, 1.5, 0.5])
    np.random.seed(0)
    for _ in range(5):
        out = Resize(img_scale=(64, 32), ratio_range=(0.5, 2.0))(_results())
        w, h = out['scale']
        assert 32 <= w <= 128 and 16 <= h <= 64
        factor = min(max(w, h) / 64, min(w, h) / 32)  # fit (w, h), keeping the 2:1 ratio
        expected = (int(32 * factor + 0.5), int(64 * factor + 0.5))
        assert out['img'].shape[:2] == out['gt_semantic_seg'].shape == expected
        out = Resize(img_scale=[(32, 16), (128, 64)], multiscale_mode='value')(_results())
        assert out['img'].shape[:2] in [(16, 32), (64, 128)]


def test_random_crop_redraws_until_no_class_dominates(monkeypatch):
    label = np.zeros((32, 64), dtype=np.uint8)
    label[:, 48:] = 5  # only boxes reaching x >= 48 hold two classes
    boxes = [(0, 16, 0, 16)] * 3 + [(0, 16, 40, 56), (16, 32, 0, 16)]
    calls = []

    def scripted_box(shape, crop_size):
        calls.append(crop_size)
        return boxes[len(calls) - 1]

    monkeypatch.setattr(transforms_module, 'random_crop_bbox', scripted_box)
    out = RandomCrop((16, 16), cat_max_ratio=0.75)(_results(label))
    assert len(calls) == 4  # three unbalanced boxes rejected, the fourth kept
    np.testing.assert_array_equal(out['gt_semantic_seg'], label[0:16, 40:56])
    np.testing.assert_array_equal(out['img'], label_image(label)[0:16, 40:56])
    assert out['img_shape'] == (16, 16, 3)

    calls.clear()
    boxes[:] = [(0, 16, 0, 16)] * 11
    RandomCrop((16, 16), cat_max_ratio=0.75)(_results(label))
    assert len(calls) == 11  # the first box and 10 redraws, then the last box is used

    calls.clear()
    RandomCrop((16, 16))(_results(label))
    assert len(calls) == 1  # cat_max_ratio 1: no checks


def test_random_crop_box_is_inside_and_consistent():
    np.random.seed(1)
    for _ in range(10):
        out = RandomCrop((16, 24))(_results(with_mask=True))
        found = [(y, x) for y in range(17) for x in range(41)
                 if np.array_equal(LABEL[y:y + 16, x:x + 24], out['gt_semantic_seg'])
                 and np.array_equal(label_image(LABEL)[y:y + 16, x:x + 24], out['img'])]
        assert found and out['valid_pseudo_mask'].shape == (16, 24)


def test_random_flip():
    out = RandomFlip(prob=1.0)(_results(with_mask=True))
    assert out['flip'] and out['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(out['gt_semantic_seg'], LABEL[:, ::-1])
    np.testing.assert_array_equal(out['img'], label_image(LABEL)[:, ::-1])
    assert out['valid_pseudo_mask'][:3].max() == 0
    out = RandomFlip(prob=1.0, direction='vertical')(_results())
    np.testing.assert_array_equal(out['gt_semantic_seg'], LABEL[::-1])
    out = RandomFlip(prob=0.0)(_results())
    assert not out['flip']
    np.testing.assert_array_equal(out['gt_semantic_seg'], LABEL)


def test_pad_to_size_and_divisor():
    out = Pad(size=(40, 70), pad_val=0, seg_pad_val=255)(_results(with_mask=True))
    assert out['img'].shape == (40, 70, 3) and out['pad_shape'] == (40, 70, 3)
    np.testing.assert_array_equal(out['img'][:32, :64], label_image(LABEL))
    assert out['img'][32:].max() == 0 and out['img'][:, 64:].max() == 0
    np.testing.assert_array_equal(out['gt_semantic_seg'][:32, :64], LABEL)
    gt = out['gt_semantic_seg']
    assert (gt[32:] == 255).all() and (gt[:, 64:] == 255).all()
    # padded pixels are not image content: invalid for pseudo-labels
    mask = out['valid_pseudo_mask']
    assert mask[32:].max() == 0 and mask[3:32, :64].min() == 1
    out = Pad(size_divisor=24)(_results())
    assert out['img'].shape == (48, 72, 3) and out['gt_semantic_seg'].shape == (48, 72)
    with pytest.raises(ValueError, match='exactly one'):
        Pad()


def test_normalize_matches_formula():
    results = Normalize(**IMG_NORM)(_results())
    img = label_image(LABEL).astype(np.float64)[..., ::-1]
    expected = (img - np.array(IMG_NORM['mean'])) / np.array(IMG_NORM['std'])
    np.testing.assert_allclose(results['img'], expected, rtol=1e-5, atol=1e-5)
    assert results['img'].dtype == np.float32 and results['img_norm_cfg']['to_rgb'] is True


def test_photometric_distortion_keeps_grey_grey_and_order():
    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))
    grey = np.stack([ramp] * 3, axis=-1)
    changed = 0
    for seed in range(6):
        np.random.seed(seed)
        out = PhotoMetricDistortion()(dict(img=grey.copy()))['img']
        assert out.dtype == np.uint8 and out.shape == grey.shape
        # brightness/contrast act per value and saturation/hue leave grey alone (S = 0)
        assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
        assert (np.diff(out[0, :, 0].astype(int)) >= 0).all()
        changed += int(not np.array_equal(out, grey))
    assert changed > 0


def test_format_bundle_and_collect_types():
    results = _results(with_mask=True)
    results.update(ori_filename='x.png', pad_shape=(32, 64, 3), scale_factor=1.0, flip=False,
                   flip_direction='horizontal', img_norm_cfg=dict())
    data = Collect(keys=['img', 'gt_semantic_seg', 'valid_pseudo_mask'])(
        DefaultFormatBundle()(results))
    assert data['img'].stack and data['img'].data.dtype == torch.float32
    assert tuple(data['img'].data.shape) == (3, 32, 64)
    assert data['gt_semantic_seg'].data.dtype == torch.int64
    assert tuple(data['gt_semantic_seg'].data.shape) == (1, 32, 64)
    assert data['valid_pseudo_mask'].data.dtype == torch.uint8 and data['valid_pseudo_mask'].stack
    assert data['img_metas'].cpu_only
    assert set(data['img_metas'].data) == {'filename', 'ori_filename', 'ori_shape', 'img_shape',
                                           'pad_shape', 'scale_factor', 'flip',
                                           'flip_direction', 'img_norm_cfg'}
    with pytest.raises(KeyError, match='flip'):
        Collect(keys=['img'])(dict(img=1, filename='x'))


def test_compose_and_image_to_tensor():
    pipeline = Compose([dict(type='ImageToTensor', keys=['img']), lambda r: dict(r, seen=True)])
    out = pipeline(dict(img=label_image(LABEL)))
    assert out['seen'] and tuple(out['img'].shape) == (3, 32, 64)
    assert torch.equal(out['img'][0], torch.from_numpy(label_image(LABEL)[..., 0]))
    assert isinstance(pipeline.transforms[0], ImageToTensor)
    with pytest.raises(TypeError):
        Compose([3])


def test_train_pipeline_of_spec_1_3(tiny_data):
    """Load → Resize ×2 → RandomCrop → RandomFlip → Normalize → Pad → bundle: image and label of
    every crop still agree pixel by pixel (away from the bilinear block edges)."""
    dataset = GTADataset(data_root=str(tiny_data.gta), img_dir='images', ann_dir='labels',
                         pipeline=train_pipeline(scale=(128, 64), crop=(32, 32)))
    np.random.seed(0)
    flips = set()
    for idx in [0, 1, 2, 0, 1, 2]:
        data = dataset[idx]
        assert set(data) == {'img', 'img_metas', 'gt_semantic_seg'}
        img, gt = data['img'].data, data['gt_semantic_seg'].data[0].numpy()
        assert tuple(img.shape) == (3, 32, 32) and gt.shape == (32, 32)
        meta = data['img_metas'].data
        assert meta['ori_shape'] == (32, 64, 3) and meta['img_shape'] == (32, 32, 3)
        flips.add(meta['flip'])
        padded = np.pad(gt, 1, mode='edge')
        interior = np.ones_like(gt, dtype=bool)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                interior &= padded[dy:dy + 32, dx:dx + 32] == gt
        interior[[0, -1], :] = interior[:, [0, -1]] = False  # neighbours outside the crop
        rgb = denormalize_rgb(img)
        assert interior.sum() > 100
        np.testing.assert_array_equal(rgb[interior], rgb_of_label(gt)[interior])
    assert flips == {True, False}


def test_test_pipeline_of_spec_1_3(tiny_data):
    stem = 'val/frankfurt/frankfurt_000000_000294'
    dataset = CityscapesDataset(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit/val',
                                ann_dir='gtFine/val', test_mode=True,
                                pipeline=eval_pipeline(scale=(128, 64)))
    data = dataset[0]
    assert set(data) == {'img', 'img_metas'} and len(data['img']) == 1
    assert tuple(data['img'][0].shape) == (3, 64, 128)
    meta = data['img_metas'][0].data
    assert meta['ori_shape'] == (32, 64, 3) and meta['img_shape'] == (64, 128, 3)
    assert meta['flip'] is False
    assert meta['ori_filename'] == 'frankfurt/frankfurt_000000_000294_leftImg8bit.png'
    np.testing.assert_allclose(meta['scale_factor'], [2, 2, 2, 2])
    label = tiny_data.labels[('cityscapes', stem)]
    rgb = denormalize_rgb(data['img'][0])
    # ×2: the centre of each 8×8 label block lands in the middle of a 16×16 block of its colour
    centres = rgb[8::16, 8::16]
    np.testing.assert_array_equal(centres, rgb_of_label(label[4::8, 4::8]))

    flipped = CityscapesDataset(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit/val',
                                test_mode=True, pipeline=eval_pipeline(scale=(128, 64), flip=True))
    data = flipped[0]
    assert [m.data['flip'] for m in data['img_metas']] == [False, True]
    assert torch.equal(data['img'][1], torch.flip(data['img'][0], dims=[2]))


def test_multi_scale_flip_aug_ratios():
    aug = MultiScaleFlipAug(transforms=[dict(type='Resize', keep_ratio=True),
                                        dict(type='ImageToTensor', keys=['img'])],
                            img_scale=(64, 32), img_ratios=[0.5, 1.0])
    out = aug(dict(img=label_image(LABEL), seg_fields=[]))
    assert [tuple(t.shape) for t in out['img']] == [(3, 16, 32), (3, 32, 64)]
    assert out['scale'] == [(32, 16), (64, 32)]
    assert mmcv.is_list_of(out['flip'], bool)


def test_multi_scale_flip_aug_without_random_flip_warns_and_yields_the_flags():
    # mmseg 0.x: the flip flags are produced, the images are not flipped (nothing flips them).
    with pytest.warns(UserWarning, match='flip has no effect when RandomFlip is not in'):
        aug = MultiScaleFlipAug(transforms=[dict(type='ImageToTensor', keys=['img'])],
                                img_scale=(64, 32), flip=True)
    out = aug(dict(img=label_image(LABEL), seg_fields=[]))
    assert out['flip'] == [False, True]
    assert out['flip_direction'] == ['horizontal', 'horizontal']
    assert torch.equal(out['img'][0], out['img'][1])


def test_scales_given_as_lists_after_a_config_round_trip():
    # (a flat list of two numbers is ambiguous and rejected, as in mmseg 0.x: see below)
    assert Resize(img_scale=[[32, 16], [128, 64]]).img_scale == [(32, 16), (128, 64)]
    aug = MultiScaleFlipAug(transforms=[], img_scale=[[64, 32]], img_ratios=[0.5])
    assert aug.img_scale == [(32, 16)]
    with pytest.raises(TypeError, match='img_scale'):
        Resize(img_scale=128)


def test_ambiguous_transform_arguments_are_rejected_naming_the_argument():
    from mmseg.datasets.pipelines.test_time_aug import MultiScaleFlipAug
    from mmseg.datasets.pipelines.transforms import Resize
    with pytest.raises(ValueError, match=r'Resize: img_scale=\[1333, 800\]'):
        Resize(img_scale=[1333, 800])
    with pytest.raises(ValueError, match='MultiScaleFlipAug: img_ratios'):
        MultiScaleFlipAug(transforms=[], img_scale=(512, 512), img_ratios=1)
    assert Resize(img_scale=[(1333, 800), (1000, 600)]).img_scale == [(1333, 800), (1000, 600)]
    assert MultiScaleFlipAug(transforms=[], img_scale=(512, 256),
                             img_ratios=[0.5, 1.0]).img_scale == [(256, 128), (512, 256)]


def test_transform_reprs_are_mmseg_0x_reprs():
    # The strings mmsegmentation 0.x prints for these transforms (written out by hand).
    pipeline = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=True),
        dict(type='Resize', img_scale=(2048, 512), ratio_range=(0.5, 2.0)),
        dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='Normalize', mean=[1.0, 2.0, 3.0], std=[1.0, 1.0, 1.0], to_rgb=True),
        dict(type='Pad', size=(512, 512), pad_val=0, seg_pad_val=255),
        dict(type='DefaultFormatBundle'),
        dict(type='Collect', keys=['img'], meta_keys=('filename', )),
    ])
    assert repr(pipeline) == (
        'Compose(\n'
        "    LoadImageFromFile(to_float32=False,color_type='color',imdecode_backend='cv2')\n"
        "    LoadAnnotations(reduce_zero_label=True,imdecode_backend='pillow')\n"
        '    Resize(img_scale=[(2048, 512)], multiscale_mode=range, ratio_range=(0.5, 2.0), '
        'keep_ratio=True)\n'
        '    RandomCrop(crop_size=(512, 512))\n'
        '    RandomFlip(prob=0.5)\n'
        '    PhotoMetricDistortion(brightness_delta=32, contrast_range=(0.5, 1.5), '
        'saturation_range=(0.5, 1.5), hue_delta=18)\n'
        '    Normalize(mean=[1. 2. 3.], std=[1. 1. 1.], to_rgb=True)\n'
        '    Pad(size=(512, 512), size_divisor=None, pad_val=0)\n'
        '    DefaultFormatBundle\n'
        "    Collect(keys=['img'], meta_keys=('filename',))\n"
        ')')
    tta = Compose([dict(type='MultiScaleFlipAug', img_scale=(64, 32), flip=False,
                        transforms=[dict(type='ImageToTensor', keys=['img'])])])
    assert repr(tta.transforms[0]) == (
        'MultiScaleFlipAug(transforms=Compose(\n    ImageToTensor(keys=[\'img\'])\n), '
        "img_scale=[(64, 32)], flip=False)flip_direction=['horizontal']")

"""Checkpoint key revision and loading (UDA student extraction), LoadImage."""
import contextlib
import copy
from collections import OrderedDict

import mmcv
import numpy as np
import pytest
import torch
from torch import nn

from mmseg.apis import LoadImage, load_segmentor_checkpoint, revise_state_dict


def test_revise_state_dict_keeps_only_the_uda_student():
    uda = OrderedDict([
        ('module.model.backbone.w', 1), ('module.model.decode_head.conv_seg.weight', 2),
        ('module.ema_model.backbone.w', 3), ('module.imnet_model.backbone.w', 4),
        ('module.mic.teacher.ema_model.backbone.w', 5), ('module.model_D.main.0.weight', 6)])
    student, dropped = revise_state_dict(uda, [(r'^module\.', '')])
    assert student == OrderedDict([('backbone.w', 1), ('decode_head.conv_seg.weight', 2)])
    assert dropped == ['ema_model.backbone.w', 'imnet_model.backbone.w',
                       'mic.teacher.ema_model.backbone.w', 'model_D.main.0.weight']


def test_revise_state_dict_leaves_a_segmentor_dict_alone():
    plain = OrderedDict([('backbone.w', 1), ('decode_head.b', 2)])
    assert revise_state_dict(plain) == (plain, [])


class TwoLayers(nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.backbone = nn.Linear(2, width)
        self.decode_head = nn.BatchNorm1d(width)


def _save(path, state_dict, meta=None):
    torch.save(dict(state_dict=state_dict, meta=meta or {}), path)


def test_load_uda_checkpoint_loads_the_student_not_the_teacher(tmp_path):
    student, teacher = TwoLayers(), TwoLayers()
    with torch.no_grad():
        for p in teacher.parameters():
            p.fill_(7.0)
    uda = OrderedDict([(f'model.{k}', v) for k, v in student.state_dict().items()]
                      + [(f'ema_model.{k}', v) for k, v in teacher.state_dict().items()]
                      + [(f'imnet_model.{k}', v) for k, v in teacher.state_dict().items()])
    _save(tmp_path / 'uda.pth', uda, meta=dict(CLASSES=('a', 'b'), PALETTE=[[1, 2, 3]] * 2))
    target = TwoLayers()
    checkpoint = load_segmentor_checkpoint(target, tmp_path / 'uda.pth')
    for key, value in target.state_dict().items():
        assert torch.equal(value, student.state_dict()[key]), key
    assert checkpoint['meta']['CLASSES'] == ('a', 'b')


def test_load_checkpoint_of_a_data_parallel_segmentor(tmp_path):
    source = TwoLayers()
    _save(tmp_path / 'dp.pth', OrderedDict((f'module.{k}', v)
                                           for k, v in source.state_dict().items()))
    target = TwoLayers()
    load_segmentor_checkpoint(target, tmp_path / 'dp.pth')
    assert torch.equal(target.backbone.weight, source.backbone.weight)


def test_checkpoint_that_does_not_fit_names_the_keys(tmp_path):
    state = TwoLayers().state_dict()
    state.pop('backbone.bias')
    state['decode_head.extra'] = torch.zeros(1)
    _save(tmp_path / 'bad.pth', state)
    with pytest.raises(RuntimeError) as error:
        load_segmentor_checkpoint(TwoLayers(), tmp_path / 'bad.pth')
    message = str(error.value)
    assert 'bad.pth' in message
    assert 'missing keys: backbone.bias' in message
    assert 'unexpected keys: decode_head.extra' in message


def test_checkpoint_with_other_shapes_names_the_shapes(tmp_path):
    _save(tmp_path / 'wide.pth', TwoLayers(width=5).state_dict())
    with pytest.raises(RuntimeError, match=r'backbone.weight: checkpoint \(5, 2\) vs model '
                       r'\(3, 2\)'):
        load_segmentor_checkpoint(TwoLayers(width=3), tmp_path / 'wide.pth')


def test_missing_checkpoint_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        load_segmentor_checkpoint(TwoLayers(), tmp_path / 'absent.pth')


def test_load_image_takes_a_path_or_an_array(tmp_path):
    img = np.random.RandomState(0).randint(0, 255, (5, 7, 3), dtype=np.uint8)
    mmcv.imwrite(img, str(tmp_path / 'x.png'))
    from_path = LoadImage()(dict(img=str(tmp_path / 'x.png')))
    from_array = LoadImage()(dict(img=img))
    assert np.array_equal(from_path['img'], img)
    assert from_path['filename'] == str(tmp_path / 'x.png')
    assert from_path['ori_shape'] == (5, 7, 3)
    assert from_array['img'] is img and from_array['img_shape'] == (5, 7, 3)
    with pytest.raises(FileNotFoundError, match='nothing.png'):
        LoadImage()(dict(img=str(tmp_path / 'nothing.png')))


TINY_SEGMENTOR = dict(
    type='EncoderDecoder',
    backbone=dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64], num_heads=[1, 1, 2, 4],
                  depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1]),
    decode_head=dict(
        type='DAFormerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3], channels=16,
        num_classes=19, norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
        decoder_params=dict(
            embed_dims=16, embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            fusion_cfg=dict(type='conv', kernel_size=1, act_cfg=dict(type='ReLU'),
                            norm_cfg=dict(type='BN', requires_grad=True))),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))


def _tiny_config(toy_data_root):
    norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='MultiScaleFlipAug', img_scale=(128, 64), flip=False, transforms=[
            dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'),
            dict(type='Normalize', **norm), dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img'])])]
    return mmcv.Config(dict(model=TINY_SEGMENTOR, data=dict(
        workers_per_gpu=0,
        test=dict(type='CityscapesDataset', data_root=str(toy_data_root / 'cityscapes'),
                  img_dir='leftImg8bit/val', ann_dir='gtFine/val', pipeline=test_pipeline))))


def test_init_and_inference_segmentor_on_a_uda_checkpoint(toy_data_root, tmp_path):
    from mmcv.parallel import MMDataParallel

    from mmseg.apis import inference_segmentor, init_segmentor, single_gpu_test
    from mmseg.datasets import build_dataloader, build_dataset
    from mmseg.models import build_segmentor
    torch.manual_seed(0)
    student = build_segmentor(copy.deepcopy(mmcv.ConfigDict(TINY_SEGMENTOR)))
    teacher = build_segmentor(copy.deepcopy(mmcv.ConfigDict(TINY_SEGMENTOR)))
    uda = OrderedDict([(f'model.{k}', v) for k, v in student.state_dict().items()]
                      + [(f'ema_model.{k}', v) for k, v in teacher.state_dict().items()])
    _save(tmp_path / 'uda.pth', uda, meta=dict(CLASSES=('road', ) * 19, PALETTE=[[0, 0, 0]] * 19))
    cfg = _tiny_config(toy_data_root)

    # Without a GPU, 'cuda:0' falls back to the CPU with a warning.
    expect_warning = pytest.warns(UserWarning, match='no GPU') \
        if not torch.cuda.is_available() else contextlib.nullcontext()
    with expect_warning:
        model = init_segmentor(cfg, str(tmp_path / 'uda.pth'), device='cuda:0')
    for key, value in model.state_dict().items():
        assert torch.equal(value.cpu(), student.state_dict()[key]), key
    assert model.CLASSES == ('road', ) * 19 and not model.training

    images = sorted((toy_data_root / 'cityscapes/leftImg8bit/val').rglob('*.png'))
    from_path = inference_segmentor(model, str(images[0]))
    from_array = inference_segmentor(model, mmcv.imread(str(images[0])))
    assert len(from_path) == 1 and from_path[0].shape == mmcv.imread(str(images[0])).shape[:2]
    assert np.array_equal(from_path[0], from_array[0])
    # The dataset route (LoadImageFromFile, DataLoader) predicts the same map.
    dataset = build_dataset(cfg.data.test)
    loader = build_dataloader(dataset, 1, 0, dist=False, shuffle=False)
    via_dataset = single_gpu_test(MMDataParallel(model), loader)
    first = [str(images[0]).endswith(info['filename']) for info in dataset.img_infos].index(True)
    assert np.array_equal(via_dataset[first], from_path[0])


def test_show_result_pyplot_draws_the_prediction(tmp_path):
    import matplotlib
    matplotlib.use('Agg')
    from mmseg.apis import show_result_pyplot

    class Drawer:
        PALETTE = [[255, 0, 0]]

        def show_result(self, img, result, palette=None, show=False, opacity=0.5):
            return np.full_like(img, 7) if palette == [[255, 0, 0]] else img

    img = np.zeros((4, 5, 3), dtype=np.uint8)
    figure = show_result_pyplot(Drawer(), img, [np.zeros((4, 5))], block=False,
                                out_file=str(tmp_path / 'fig.png'))
    shown = figure.axes[0].images[0].get_array()
    assert np.array_equal(np.asarray(shown), np.full((4, 5, 3), 7))
    assert (tmp_path / 'fig.png').is_file()


def test_inference_uses_the_first_dataset_of_a_test_list(toy_data_root, tmp_path):
    """data.test as a list (docs/evaluation.md): single-image inference runs the first
    dataset's pipeline and draws with its palette."""
    from mmseg.apis import inference_segmentor, init_segmentor
    from mmseg.models import build_segmentor
    torch.manual_seed(0)
    segmentor = build_segmentor(copy.deepcopy(mmcv.ConfigDict(TINY_SEGMENTOR)))
    _save(tmp_path / 'seg.pth', segmentor.state_dict(), meta=dict(CLASSES=('road', ) * 19))
    single = _tiny_config(toy_data_root)
    several = _tiny_config(toy_data_root)
    first = dict(single.data.test, palette=[[1, 2, 3]] * 19)
    # the second dataset's pipeline would fail: the first one's must be used
    several.data.test = [first, dict(first, name='broken', palette=None,
                                     pipeline=[dict(type='NoSuchTransform')])]
    image = str(sorted((toy_data_root / 'cityscapes/leftImg8bit/val').rglob('*.png'))[0])
    model = init_segmentor(several, str(tmp_path / 'seg.pth'), device='cpu')
    assert model.PALETTE == [[1, 2, 3]] * 19
    expected = inference_segmentor(init_segmentor(single, str(tmp_path / 'seg.pth'),
                                                  device='cpu'), image)
    np.testing.assert_array_equal(inference_segmentor(model, image)[0], expected[0])

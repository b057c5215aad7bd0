"""HRDAHead and HRDAEncoderDecoder: structure, both scales, crops, losses, inference modes."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mmseg.models.segmentors.hrda_encoder_decoder as hrda_module
from mmseg.models import build_head, build_segmentor


def _build(cfg, **overrides):
    cfg = copy.deepcopy(cfg)
    cfg.update(overrides)
    torch.manual_seed(0)
    np.random.seed(0)
    return build_segmentor(cfg)


def _fixed_box(monkeypatch, box):
    monkeypatch.setattr(hrda_module, 'get_crop_bbox', lambda *args: box)


def test_head_holds_head_and_a_conv_fusion_attention_head(hrda_cfg):
    head = _build(hrda_cfg).decode_head
    keys = head.state_dict().keys()
    assert not any(k.startswith(('conv_seg', 'dropout')) for k in keys)
    assert {k.split('.')[0] for k in keys} == {'head', 'scale_attention'}
    assert 'head.fuse_layer.aspp_modules.1.depthwise_conv.conv.weight' in keys
    # Attention: embed dims and channels 8, the aspp fusion replaced by a 1×1 ConvModule + BN.
    assert head.scale_attention.state_dict()['fuse_layer.conv.weight'].shape == (8, 32, 1, 1)
    assert 'fuse_layer.bn.running_mean' in head.scale_attention.state_dict()
    assert head.scale_attention.conv_seg.weight.shape == (3, 8, 1, 1)
    assert head.head.conv_seg.weight.shape == (3, 16, 1, 1) and head.os == 4
    not_classwise = copy.deepcopy(hrda_cfg['decode_head'])
    not_classwise.update(attention_classwise=False, scales=[0.5, 1])
    assert build_head(not_classwise).scale_attention.conv_seg.weight.shape == (1, 8, 1, 1)
    fixed = dict(not_classwise, fixed_attention=0.5)
    assert build_head(fixed).scale_attention is None
    with pytest.raises(ValueError, match='single_scale_head'):
        build_head(dict(not_classwise, single_scale_head='SegFormerHead'))


def test_training_sees_the_context_image_and_the_detail_crop(hrda_cfg, monkeypatch):
    model = _build(hrda_cfg).train()
    _fixed_box(monkeypatch, (32, 64, 8, 40))
    img = torch.randn(2, 3, 64, 64)
    gt = torch.randint(0, 3, (2, 1, 64, 64))
    losses = model.forward_train(img, None, gt, return_feat=True)
    # Context: the whole image at 0.5; detail: the 32×32 crop at full resolution.
    assert model.backbone.input_shapes == [(2, 3, 32, 32), (2, 3, 32, 32)]
    assert set(losses) == {'features', 'decode.loss_seg', 'decode.acc_seg', 'decode.hr.loss_seg',
                           'decode.hr.acc_seg'}
    context = F.interpolate(img, scale_factor=0.5, mode='bilinear', align_corners=False)
    with torch.no_grad():
        assert torch.allclose(losses['features'][0], model.backbone(context)[0], atol=1e-6)
        assert torch.allclose(model.extract_feat(img)[3], model.backbone(context)[3], atol=1e-6)
    assert model.last_train_crop_box == (32, 64, 8, 40)
    assert model.decode_head.hr_crop_box is None  # reset after the loss
    loss = losses['decode.loss_seg'] + losses['decode.hr.loss_seg']
    loss.backward()
    for name in ('backbone.stages.0.weight', 'decode_head.head.conv_seg.weight',
                 'decode_head.scale_attention.conv_seg.weight'):
        assert dict(model.named_parameters())[name].grad.abs().sum() > 0, name


def test_detail_loss_uses_the_cropped_label_and_seg_weight(hrda_cfg, monkeypatch):
    model = _build(hrda_cfg).train()
    box = (0, 32, 32, 64)
    _fixed_box(monkeypatch, box)
    img = torch.randn(1, 3, 64, 64)
    gt = torch.randint(0, 3, (1, 1, 64, 64))
    inside = torch.zeros(1, 64, 64)
    inside[:, :32, 32:] = 1
    zero_in_crop = model.forward_train(img, None, gt, seg_weight=1 - inside)
    assert zero_in_crop['decode.hr.loss_seg'].item() == 0
    assert zero_in_crop['decode.loss_seg'].item() > 0
    zero_outside = model.forward_train(img, None, gt, seg_weight=inside)
    assert zero_outside['decode.hr.loss_seg'].item() > 0
    # A crop whose labels are all ignored gives a detail loss of 0.
    gt_ignored = gt.clone()
    gt_ignored[:, :, :32, 32:] = 255
    assert model.forward_train(img, None, gt_ignored)['decode.hr.loss_seg'].item() == 0


def _ce(logits, label, weight):
    """Mean over all pixels of CE × weight, ignored pixels 0 (docs/REFERENCE.md §2.2), computed directly."""
    logits = F.interpolate(logits, size=label.shape[2:], mode='bilinear', align_corners=False)
    per_pixel = F.cross_entropy(logits, label[:, 0], ignore_index=255, reduction='none')
    return (per_pixel * weight).mean()


def test_head_losses_weight_fused_detail_and_context(hrda_cfg):
    cfg = copy.deepcopy(hrda_cfg['decode_head'])
    cfg.update(scales=[0.5, 1], enable_hr_crop=True, hr_loss_weight=0.1, lr_loss_weight=0.2)
    head = build_head(cfg)
    box = (16, 48, 0, 32)
    head.set_hr_crop_box(box)
    torch.manual_seed(1)
    fused, lr, hr = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    label = torch.randint(0, 3, (2, 1, 64, 64))
    label[0, 0, :5] = 255
    weight = torch.rand(2, 64, 64)
    losses = head.losses((fused, lr, hr), label, weight)
    assert losses['loss_seg'].item() == pytest.approx(0.7 * _ce(fused, label, weight).item(),
                                                      rel=1e-5)
    assert losses['lr.loss_seg'].item() == pytest.approx(0.2 * _ce(lr, label, weight).item(),
                                                         rel=1e-5)
    expected_hr = _ce(hr, label[:, :, 16:48, 0:32], weight[:, 16:48, 0:32])
    assert losses['hr.loss_seg'].item() == pytest.approx(0.1 * expected_hr.item(), rel=1e-5)
    assert {'acc_seg', 'lr.acc_seg', 'hr.acc_seg'} <= set(losses)


def test_pseudo_labels_slide_overlapping_detail_windows_in_one_batch(hrda_cfg):
    model = _build(hrda_cfg).eval()
    img = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        logits = model.generate_pseudo_label(img, None)
    assert logits.shape == (2, 3, 64, 64)
    # Context 32×32, then 3×3 windows (stride 16) of 32×32 for both images as one batch.
    assert model.backbone.input_shapes == [(2, 3, 32, 32), (18, 3, 32, 32)]
    model.backbone.input_shapes.clear()
    model.hr_slide_overlapping = False
    with torch.no_grad():
        model.encode_decode(img, None)
    assert model.backbone.input_shapes == [(2, 3, 32, 32), (8, 3, 32, 32)]


def test_hrda_out_modes_return_context_detail_or_attention(hrda_cfg, monkeypatch):
    model = _build(hrda_cfg, hr_slide_inference=False).eval()
    img = torch.randn(1, 3, 64, 64)
    head = model.decode_head
    context = F.interpolate(img, scale_factor=0.5, mode='bilinear', align_corners=False)
    with torch.no_grad():
        lr = head.head(model.backbone(context))
        hr = head.head(model.backbone(img))
        att = torch.sigmoid(head.scale_attention(model.backbone(context)))
        up = dict(mode='bilinear', align_corners=False)
        expected_lr = F.interpolate(F.interpolate(lr, scale_factor=2, **up), size=(64, 64), **up)
        expected_hr = F.interpolate(hr, size=(64, 64), **up)
        att_up = F.interpolate(att, scale_factor=2, **up)
        fused = att_up * hr + F.interpolate((1 - att) * lr, scale_factor=2, **up)
        expected_att = F.interpolate((att_up * fused.softmax(1)).sum(1, keepdim=True),
                                     size=(64, 64), **up)
        model.set_hrda_out('LR')
        assert torch.allclose(model.encode_decode(img, None), expected_lr, atol=1e-5)
        model.set_hrda_out('HR')
        assert torch.allclose(model.encode_decode(img, None), expected_hr, atol=1e-5)
        model.set_hrda_out('ATT')
        assert torch.allclose(model.encode_decode(img, None), expected_att, atol=1e-5)
        meta = [dict(ori_shape=(64, 64, 3), img_shape=(64, 64, 3), flip=False)]
        att_map = model.simple_test(img, meta)[0]  # attention values, no softmax / argmax
        np.testing.assert_allclose(att_map, expected_att[0, 0].numpy(), atol=1e-5)
        # --show-dir draws it in grey levels 255 x attention (not as class indices).
        background = np.full((64, 64, 3), 77, dtype=np.uint8)
        drawing = model.show_result(background, [att_map], opacity=1.0)
        expected_grey = np.rint(255 * expected_att[0, 0].numpy().astype(np.float64))
        for channel in range(3):
            assert np.abs(drawing[..., channel].astype(int) - expected_grey).max() <= 1
        assert drawing.min() > 0  # the old drawing was black: float values matched no class index
        half = model.show_result(background, [att_map], opacity=0.5)
        np.testing.assert_allclose(half[..., 0], 0.5 * 77 + 0.5 * expected_grey, atol=1.01)
        model.set_hrda_out('')
        assert torch.allclose(model.encode_decode(img, None),
                              F.interpolate(fused, size=(64, 64), **up), atol=1e-5)
    with pytest.raises(ValueError, match="'ATTN'"):
        model.set_hrda_out('ATTN')


def test_test_time_batched_slide_matches_window_by_window(hrda_cfg):
    slide = dict(mode='slide', crop_size=(64, 64), stride=(32, 32))
    looped = _build(hrda_cfg, test_cfg=slide).eval()
    batched = _build(hrda_cfg, test_cfg=dict(slide, batched_slide=True)).eval()
    img = torch.randn(1, 3, 96, 64)
    meta = [dict(ori_shape=(96, 64, 3), img_shape=(96, 64, 3), flip=False)]
    with torch.no_grad():
        expected = looped.inference(img, meta, rescale=True)
        assert torch.allclose(batched.inference(img, meta, rescale=True), expected, atol=1e-5)
        preds = batched.simple_test(img, meta)
    np.testing.assert_array_equal(preds[0], expected.argmax(1)[0].numpy())


def test_feature_scale_all_returns_both_scales_with_the_training_crop(hrda_cfg, monkeypatch):
    model = _build(hrda_cfg, feature_scale='all').train()
    _fixed_box(monkeypatch, (8, 40, 16, 48))
    img = torch.randn(1, 3, 64, 64)
    losses = model.forward_train(img, None, torch.zeros(1, 1, 64, 64, dtype=torch.long),
                                 return_feat=True)
    assert [f[0].shape for f in losses['features']] == [(1, 8, 8, 8), (1, 8, 8, 8)]
    with torch.no_grad():
        feats = model.extract_feat(img)
        assert torch.allclose(feats[1][0], model.backbone(img[:, :, 8:40, 16:48])[0], atol=1e-6)


def test_forward_with_aux_gives_the_fused_prediction_at_half_size(hrda_cfg):
    model = _build(hrda_cfg).train()
    out = model.forward_with_aux(torch.randn(2, 3, 64, 64), None)
    assert out['main'].shape == (2, 3, 32, 32) and model.decode_head.hr_crop_box is None


def test_dlv2_head_works_as_the_single_scale_head(hrda_dlv2_cfg):
    model = _build(hrda_dlv2_cfg).train()
    assert model.decode_head.os == 8
    assert {k.split('.')[0] for k in model.decode_head.state_dict()} == {'head',
                                                                         'scale_attention'}
    losses = model.forward_train(torch.randn(2, 3, 64, 64), None,
                                 torch.randint(0, 3, (2, 1, 64, 64)))
    (losses['decode.loss_seg'] + losses['decode.hr.loss_seg']).backward()
    assert model.decode_head.scale_attention.aspp_modules[0].conv.weight.grad is not None
    y1, _, x1, _ = model.last_train_crop_box
    assert y1 % 16 == 0 and x1 % 16 == 0
    with torch.no_grad():
        assert model.eval().encode_decode(torch.randn(1, 3, 64, 64), None).shape == (1, 3, 64, 64)


def test_bad_hrda_configs_fail_early(hrda_cfg):
    with pytest.raises(ValueError, match='two scales'):
        _build(hrda_cfg, scales=[1])
    with pytest.raises(ValueError, match='feature_scale'):
        _build(hrda_cfg, feature_scale=0.25)
    with pytest.raises(ValueError, match="'HRDAHead'"):
        _build(hrda_cfg, decode_head=dict(hrda_cfg['decode_head'], type='DAFormerHead'))
    model = _build(hrda_cfg, hr_crop_size=(96, 96)).train()
    with pytest.raises(ValueError, match=r'crop \(96, 96\) does not fit'):
        model.forward_train(torch.randn(1, 3, 64, 64), None,
                            torch.zeros(1, 1, 64, 64, dtype=torch.long))


def test_hrda_forward_train_returns_the_fused_prediction_at_half_size(hrda_cfg):
    model = build_segmentor(copy.deepcopy(hrda_cfg))
    img = torch.randn(2, 3, 64, 64)
    gt = torch.randint(0, 3, (2, 1, 64, 64))
    losses = model.forward_train(img, None, gt, return_logits=True)
    assert not any(k.endswith('.logits') for k in losses)
    assert 'decode.hr.loss_seg' in losses
    assert set(losses['logits']) == {'main'}
    assert losses['logits']['main'].shape == (2, model.num_classes, 32, 32)

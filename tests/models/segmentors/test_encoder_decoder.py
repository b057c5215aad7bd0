"""EncoderDecoder: training losses, whole / slide / batched-slide inference, tests, pretrained."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmseg.models import build_segmentor


def _model(cfg, **test_cfg):
    cfg = copy.deepcopy(cfg)
    if test_cfg:
        cfg['test_cfg'] = test_cfg
    torch.manual_seed(0)
    return build_segmentor(cfg).eval()


def _pointwise(model):
    """Make encode_decode a per-pixel function (1×1 conv): any window split gives the same."""
    conv = torch.nn.Conv2d(3, model.num_classes, 1)
    model.encode_decode = lambda img, metas: conv(img)
    return conv


def test_forward_train_losses_seg_weight_and_features(tiny_segmentor_cfg):
    model = _model(tiny_segmentor_cfg).train()
    img = torch.randn(2, 3, 32, 32)
    gt = torch.randint(0, 3, (2, 1, 32, 32))
    losses = model.forward_train(img, None, gt, return_feat=True)
    assert {'decode.loss_seg', 'decode.acc_seg', 'features'} <= set(losses)
    assert losses['features'][0].shape == (2, 8, 8, 8)
    doubled = model.forward_train(img, None, gt, seg_weight=torch.full((2, 32, 32), 2.0))
    assert doubled['decode.loss_seg'].item() == pytest.approx(2 * losses['decode.loss_seg'].item(),
                                                              rel=1e-5)
    zero = model.forward_train(img, None, gt, seg_weight=torch.zeros(2, 32, 32))
    assert zero['decode.loss_seg'].item() == 0
    assert 'features' not in zero


def test_auxiliary_heads_get_aux_prefixes(tiny_segmentor_cfg):
    cfg = dict(tiny_segmentor_cfg, auxiliary_head=dict(type='TinySegTestHead'))
    losses = _model(cfg).forward_train(torch.randn(1, 3, 16, 16), None,
                                       torch.zeros(1, 1, 16, 16, dtype=torch.long))
    assert {'decode.loss_seg', 'aux.loss_seg', 'aux.acc_seg'} <= set(losses)
    cfg['auxiliary_head'] = [dict(type='TinySegTestHead')] * 2
    losses = _model(cfg).forward_train(torch.randn(1, 3, 16, 16), None,
                                       torch.zeros(1, 1, 16, 16, dtype=torch.long))
    assert {'aux_0.loss_seg', 'aux_1.loss_seg'} <= set(losses)


def test_encode_decode_returns_logits_at_the_image_size(tiny_segmentor_cfg):
    model = _model(tiny_segmentor_cfg)
    logits = model.encode_decode(torch.randn(2, 3, 40, 56), None)
    feats = model.extract_feat(torch.randn(2, 3, 40, 56))
    assert logits.shape == (2, 3, 40, 56) and feats[0].shape == (2, 8, 10, 14)
    assert torch.equal(model.generate_pseudo_label(torch.zeros(1, 3, 8, 8), None),
                       model.encode_decode(torch.zeros(1, 3, 8, 8), None))


def test_slide_equals_whole_when_the_image_fits_in_one_crop(tiny_segmentor_cfg, make_metas):
    img = torch.randn(1, 3, 48, 40)
    whole = _model(tiny_segmentor_cfg, mode='whole')
    slide = _model(tiny_segmentor_cfg, mode='slide', crop_size=(64, 64), stride=(32, 32))
    metas = make_metas(1, 48, 40)
    assert torch.allclose(slide.inference(img, metas, True), whole.inference(img, metas, True))


def test_batched_slide_equals_window_by_window(tiny_segmentor_cfg, make_metas):
    img = torch.randn(2, 3, 64, 96)
    metas = make_metas(2, 64, 96)
    looped = _model(tiny_segmentor_cfg, mode='slide', crop_size=(32, 32), stride=(24, 24))
    batched = _model(tiny_segmentor_cfg, mode='slide', crop_size=(32, 32), stride=(24, 24),
                     batched_slide=True)
    calls = []
    original = batched.encode_decode
    batched.encode_decode = lambda x, m: calls.append(x.shape[0]) or original(x, m)
    expected = looped.slide_inference(img, metas, rescale=False)
    assert torch.allclose(batched.slide_inference(img, metas, rescale=False), expected,
                          atol=1e-6)
    assert calls == [2 * 12]  # 3 × 4 windows of 2 images in one pass


def test_slide_of_a_pointwise_network_equals_the_network_everywhere(tiny_segmentor_cfg,
                                                                    make_metas):
    # Overlapping windows averaged with the right counts give back the per-pixel values.
    model = _model(tiny_segmentor_cfg, mode='slide', crop_size=(32, 32), stride=(20, 20))
    conv = _pointwise(model)
    img = torch.randn(1, 3, 70, 90)
    with torch.no_grad():
        assert torch.allclose(model.slide_inference(img, make_metas(1, 70, 90), False),
                              conv(img), atol=1e-6)


def test_inference_softmax_rescale_and_flip(tiny_segmentor_cfg, make_metas):
    model = _model(tiny_segmentor_cfg)
    conv = _pointwise(model)
    img = torch.randn(1, 3, 16, 24)
    with torch.no_grad():
        probs = model.inference(img, make_metas(1, 16, 24, ori_shape=(32, 48, 3)), True)
        flipped = model.inference(img, make_metas(1, 16, 24, flip=True), True)
        # Logits are resized to ori_shape first, then the softmax is taken.
        expected = F.softmax(F.interpolate(conv(img), size=(32, 48), mode='bilinear',
                                           align_corners=False), 1)
    assert probs.shape == (1, 3, 32, 48)
    assert torch.allclose(probs.sum(1), torch.ones(1, 32, 48), atol=1e-5)
    assert torch.allclose(probs, expected, atol=1e-6)
    assert torch.allclose(flipped, F.softmax(conv(img), 1).flip(3), atol=1e-6)


def test_padding_is_removed_before_rescaling(tiny_segmentor_cfg):
    model = _model(tiny_segmentor_cfg)
    conv = _pointwise(model)
    img = torch.randn(1, 3, 16, 16)
    meta = [dict(ori_shape=(12, 10, 3), img_shape=(12, 10, 3), pad_shape=(16, 16, 3))]
    with torch.no_grad():
        out = model.whole_inference(img, meta, rescale=True)
        assert torch.allclose(out, conv(img)[:, :, :12, :10], atol=1e-6)


def test_simple_test_and_forward_test_give_argmax_maps(tiny_segmentor_cfg, make_metas):
    model = _model(tiny_segmentor_cfg)
    conv = _pointwise(model)
    img = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        preds = model(img=[img], img_metas=[make_metas(2, 16, 16)], return_loss=False)
        expected = conv(img).argmax(1).numpy()
    assert isinstance(preds, list) and len(preds) == 2
    assert all(isinstance(p, np.ndarray) and p.shape == (16, 16) for p in preds)
    np.testing.assert_array_equal(np.stack(preds), expected)


def test_aug_test_averages_probabilities_over_flips(tiny_segmentor_cfg, make_metas):
    model = _model(tiny_segmentor_cfg)
    conv = _pointwise(model)
    img = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        preds = model.forward_test([img, img.flip(3)], [make_metas(1, 16, 16),
                                                        make_metas(1, 16, 16, flip=True)])
        # Both augmentations see the same pixels: the mean equals the plain softmax.
        expected = F.softmax(conv(img), 1).argmax(1)[0].numpy()
    np.testing.assert_array_equal(preds[0], expected)


def test_forward_test_checks_its_inputs(tiny_segmentor_cfg, make_metas):
    model = _model(tiny_segmentor_cfg)
    with pytest.raises(TypeError, match='imgs must be a list'):
        model.forward_test(torch.zeros(1, 3, 8, 8), [make_metas(1, 8, 8)])
    with pytest.raises(ValueError, match='2 augmented'):
        model.forward_test([torch.zeros(1, 3, 8, 8)] * 2, [make_metas(1, 8, 8)])
    model.test_cfg = dict(mode='sliding')
    with pytest.raises(ValueError, match='"slide" or "whole"'):
        model.inference(torch.zeros(1, 3, 8, 8), make_metas(1, 8, 8), True)


def test_forward_train_can_return_the_training_prediction(tiny_segmentor_cfg, make_metas):
    """return_logits: the decode logits of the loss computation at the input size, equal to
    forward_with_aux of the same weights (eval mode, so both passes are deterministic)."""
    cfg = dict(tiny_segmentor_cfg, backbone=dict(type='TinyPyramidTestBackbone'),
               decode_head=dict(type='DLV2Head', in_channels=16, in_index=-1, dilations=(1, 2),
                                num_classes=3))
    model = build_segmentor(cfg).eval()
    img = torch.randn(2, 3, 32, 48)
    gt = torch.randint(0, 3, (2, 1, 32, 48))
    losses = model.forward_train(img, make_metas(2, 32, 48), gt, return_logits=True)
    assert set(losses) == {'decode.loss_seg', 'decode.acc_seg', 'logits'}
    assert set(losses['logits']) == {'main'}
    with torch.no_grad():
        expected = model.forward_with_aux(img, None)['main']
    assert losses['logits']['main'].shape == (2, 3, 32, 48)
    assert torch.allclose(losses['logits']['main'], expected, atol=1e-6)

"""The speed options (docs/performance.md): mixed_precision.fp32_upsample and
.cast_teacher_once, channels_last, allow_tf32, against the default path on a tiny HRDA model."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv.utils import Config

from mmseg.apis.config_keys import check_top_level_keys
from mmseg.models import build_segmentor, build_train_model
from mmseg.models.builder import check_model_options
from mmseg.models.uda.teacher_module import teacher_pseudo_label
from mmseg.models.utils.ema import update_ema_weights
from mmseg.models.utils.memory_format import apply_allow_tf32, set_channels_last
from mmseg.models.utils.mixed_precision import (autocast, frozen_weights_cast_once,
                                                parse_mixed_precision_options,
                                                set_mixed_precision)
from mmseg.ops import resize
from mmseg.utils.errors import UserInputError
from uda_helpers import make_uda_batch, tiny_hrda_cfg


def _hrda(seed=0):
    torch.manual_seed(seed)
    model = build_segmentor(copy.deepcopy(tiny_hrda_cfg()))
    model.train()
    return model


def _losses_and_grads(model, dtype=None):
    """forward_train of one fixed batch under autocast ``dtype``; same crop box every call."""
    batch = make_uda_batch(batch_size=1, seed=0)
    np.random.seed(1)  # the random detail crop
    model.zero_grad()
    with autocast(dtype, batch['img']):
        losses = model.forward_train(batch['img'], batch['img_metas'],
                                     batch['gt_semantic_seg'])
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach() for k, v in losses.items()}, grads


@pytest.mark.parametrize('value, message', [
    (dict(dtype='bfloat16', fp32_upsample='yes'), 'mixed_precision.fp32_upsample must be True'),
    (dict(dtype='bfloat16', cast_teacher_once=1), 'mixed_precision.cast_teacher_once must be'),
    (dict(dtype='bfloat16', fp32_upsampling=True), r"optional keys.*\['fp32_upsampling'\]")])
def test_bad_mixed_precision_options_are_refused(value, message):
    with pytest.raises(ValueError, match=message):
        parse_mixed_precision_options(value)


@pytest.mark.parametrize('key, value, message', [
    ('channels_last', 'true', "channels_last must be True or False, got 'true'"),
    ('allow_tf32', 1, 'allow_tf32 must be None'),
    ('mixed_precision', dict(dtype='bfloat16', fp32_upsample=None),
     'mixed_precision.fp32_upsample must be True or False, got None')])
def test_bad_run_options_stop_with_one_line_naming_the_key(key, value, message):
    with pytest.raises(UserInputError, match=message):
        check_model_options(Config({key: value}))


def test_the_option_keys_are_known_and_a_misspelt_one_is_caught():
    cfg = Config(dict(channels_last=True, allow_tf32=True, mixed_precision=dict(dtype='bfloat16')))
    assert check_top_level_keys(cfg) == []
    with pytest.raises(UserInputError, match="'channel_last'.*did you mean 'channels_last'"):
        check_top_level_keys(Config(dict(channel_last=True)))


def test_resize_in_float32_interpolates_low_precision_input_in_float32():
    # 0 and 3 in bfloat16, 4 samples with align_corners: 0, 1, 2, 3 by hand
    x = torch.tensor([[[[0.0, 3.0]]]], dtype=torch.bfloat16)
    out = resize(x, size=(1, 4), mode='bilinear', align_corners=True, float32=True)
    assert out.dtype == torch.bfloat16
    assert out.float().flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    # a float32 input is F.interpolate's own result
    y = torch.randn(1, 2, 5, 7, generator=torch.Generator().manual_seed(0))
    assert torch.equal(resize(y, size=(9, 11), mode='bilinear', float32=True),
                       F.interpolate(y, size=(9, 11), mode='bilinear', align_corners=False))


def test_fp32_upsample_is_bit_identical_in_float32_and_close_under_bfloat16(monkeypatch):
    default, option = _hrda(), _hrda()
    set_mixed_precision(option, None, fp32_upsample=True)
    assert option.decode_head.head.fp32_upsample and option.decode_head.fp32_upsample
    # float32 (no autocast): the same numbers bit for bit
    losses, grads = _losses_and_grads(default)
    losses_32, grads_32 = _losses_and_grads(option)
    assert all(torch.equal(losses[k], losses_32[k]) for k in losses)
    assert all(torch.equal(grads[k], grads_32[k]) for k in grads)
    # bfloat16: within bfloat16's rounding of the default bfloat16 path (8 bits of mantissa)
    dtypes = []
    interpolate = F.interpolate
    monkeypatch.setattr(F, 'interpolate', lambda x, *a, **k: dtypes.append(x.dtype) or
                        interpolate(x, *a, **k))
    losses_bf, grads_bf = _losses_and_grads(default, torch.bfloat16)
    assert torch.bfloat16 in dtypes  # autocast leaves interpolate in the input's dtype
    dtypes.clear()
    losses_opt, grads_opt = _losses_and_grads(option, torch.bfloat16)
    assert dtypes and set(dtypes) == {torch.float32}  # the image resizes, fusion and losses
    for key in ('decode.loss_seg', 'decode.hr.loss_seg'):
        torch.testing.assert_close(losses_opt[key], losses_bf[key], rtol=0.02, atol=0.02)
        torch.testing.assert_close(losses_opt[key], losses[key], rtol=0.03, atol=0.03)
    for name in grads:
        scale = grads[name].abs().max().item() + 1e-6
        assert (grads_opt[name] - grads_bf[name]).abs().max().item() <= 0.1 * scale, name


def _teacher():
    teacher = _hrda(seed=2)
    for param in teacher.parameters():
        param.requires_grad_(False)
    return teacher


def _pseudo_logits(teacher, img, metas):
    with torch.no_grad(), autocast(torch.bfloat16, img), frozen_weights_cast_once(teacher):
        return teacher.generate_pseudo_label(img, metas)


def test_teacher_weights_cast_once_give_the_per_op_cast_outputs_until_the_ema_update():
    batch = make_uda_batch(batch_size=1, seed=3)
    img, metas = batch['target_img'], batch['target_img_metas']
    per_op, once = _teacher(), _teacher()
    set_mixed_precision(per_op, torch.bfloat16)
    set_mixed_precision(once, torch.bfloat16, cast_teacher_once=True)
    torch.manual_seed(0)
    expected = _pseudo_logits(per_op, img, metas)
    torch.manual_seed(0)
    # tolerance 0: both round the same float32 weights to bfloat16
    assert torch.equal(_pseudo_logits(once, img, metas), expected)
    copies = once.__dict__['_weights_cast_once'][1]
    assert all(c.dtype == torch.bfloat16 for c in copies)
    assert all(p.dtype == torch.float32 for p in once.parameters())  # restored
    _pseudo_logits(once, img, metas)
    assert once.__dict__['_weights_cast_once'][1] is copies  # not cast again
    # an EMA update changes the float32 weights: the copies are made anew
    student = _hrda(seed=4)
    for teacher in (per_op, once):
        update_ema_weights(teacher, student, iteration=5, alpha=0.5)
    torch.manual_seed(0)
    expected = _pseudo_logits(per_op, img, metas)
    torch.manual_seed(0)
    assert torch.equal(_pseudo_logits(once, img, metas), expected)
    assert once.__dict__['_weights_cast_once'][1] is not copies
    # without autocast, or without the option, nothing is cast
    with frozen_weights_cast_once(once):
        assert all(p.dtype == torch.float32 for p in once.parameters())


def test_teacher_pseudo_labels_use_the_cast_once_weights():
    teacher = _teacher()
    set_mixed_precision(teacher, torch.bfloat16, cast_teacher_once=True)
    batch = make_uda_batch(seed=3)
    with autocast(torch.bfloat16, batch['img']):
        teacher_pseudo_label(teacher, batch['target_img'], batch['target_img_metas'], 0.9, 0, 0)
    assert '_weights_cast_once' in teacher.__dict__


def test_channels_last_gives_the_default_outputs_and_gradients():
    default, option = _hrda(), _hrda()
    set_channels_last(option)
    seen = []
    option.backbone.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    assert option.backbone.patch_embed1.proj.weight.is_contiguous(
        memory_format=torch.channels_last)
    losses, grads = _losses_and_grads(default)
    losses_cl, grads_cl = _losses_and_grads(option)
    assert seen and all(x.is_contiguous(memory_format=torch.channels_last) for x in seen)
    for key in losses:
        torch.testing.assert_close(losses_cl[key], losses[key], rtol=1e-5, atol=1e-5)
    # gradients: each parameter's within 1e-5 of the model's gradient norm (the summation
    # order differs between the layouts; the differences are ~2e-7); the BatchNorm biases
    # behind the ASPP branches of dilation 12 and 18, larger than the 16 px map, within 1e-3:
    # their input is constant per channel, so their gradient is a sum that cancels to noise
    norm = torch.cat([g.flatten() for g in grads.values()]).norm().item()
    noise = tuple(f'decode_head.head.fuse_layer.aspp_modules.{i}.depthwise_conv.bn.'
                  for i in (2, 3))
    for name in grads:
        tolerance = (1e-3 if name.startswith(noise) else 1e-5) * norm
        assert (grads_cl[name] - grads[name]).norm().item() <= tolerance, name


def test_build_train_model_reads_the_options():
    cfg = Config(dict(model=tiny_hrda_cfg(), runner=dict(max_iters=10), channels_last=True,
                      mixed_precision=dict(dtype='bfloat16', fp32_upsample=True,
                                           cast_teacher_once=True),
                      uda=dict(type='DACS', pseudo_threshold=0.0)))
    model = build_train_model(cfg)
    assert model.get_ema_model().cast_teacher_once and model.get_model().fp32_upsample
    assert model.get_ema_model().decode_head.head.fp32_upsample
    weight = model.get_ema_model().backbone.patch_embed1.proj.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    plain = build_train_model(Config(dict(model=tiny_hrda_cfg())))
    assert not plain.fp32_upsample and not plain.cast_teacher_once
    assert not plain.backbone.patch_embed1.proj.weight.is_contiguous(
        memory_format=torch.channels_last)


def test_allow_tf32_sets_the_cuda_switches_and_leaves_cpu_results_unchanged():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    model = _hrda().eval()
    img = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            expected = model.encode_decode(img, None)
            apply_allow_tf32(True)
            assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
            assert torch.equal(model.encode_decode(img, None), expected)
        apply_allow_tf32(False)
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        apply_allow_tf32(None)  # PyTorch's defaults
        assert not torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_ema_update_in_multi_tensor_kernels_equals_the_per_parameter_formula():
    generator = torch.Generator().manual_seed(0)
    teacher, student = torch.nn.Linear(7, 5), torch.nn.Linear(7, 5)
    for module in (teacher, student):
        for param in module.parameters():
            param.data = torch.randn(param.shape, generator=generator)
    expected = [t.detach().clone().mul_(0.75).add_(s.detach(), alpha=0.25)
                for t, s in zip(teacher.parameters(), student.parameters())]
    update_ema_weights(teacher, student, iteration=3, alpha=0.99)  # a = 1 - 1/4 = 0.75
    assert all(torch.equal(t, e) for t, e in zip(teacher.parameters(), expected))
    assert not any(t.requires_grad for t in teacher.parameters())

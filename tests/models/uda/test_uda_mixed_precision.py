"""Mixed precision (config key ``mixed_precision``) of a DACS + MIC step on a tiny HRDA model,
and the float32 path against the numbers of the code before the performance work."""
import random

import kornia
import numpy as np
import pytest
import torch
from mmcv.utils import Config
from packaging.version import Version

from mmseg.models import UDA, build_train_model
from mmseg.models.utils.mixed_precision import (autocast, parse_mixed_precision,
                                                set_mixed_precision)
from uda_helpers import make_uda_batch, tiny_hrda_cfg

# Two AdamW steps of the tiny MIC(HRDA) below, computed with the code before the performance
# work (commit 5e8ee93, float32): the log of the second step and the L1 sums of the weights.
REFERENCE_LOG_VARS = {
    'decode.acc_seg': 25.364584, 'decode.hr.acc_seg': 22.5585938,
    'decode.hr.loss_seg': 0.2924596, 'decode.loss_seg': 2.4619884,
    'masked.decode.acc_seg': 31.9580078, 'masked.decode.hr.acc_seg': 28.2714844,
    'masked.decode.hr.loss_seg': 0.2913202, 'masked.decode.loss_seg': 2.6219199,
    'mix.decode.acc_seg': 32.96875, 'mix.decode.hr.acc_seg': 30.2246094,
    'mix.decode.hr.loss_seg': 0.2911259, 'mix.decode.loss_seg': 2.454417}
REFERENCE_STUDENT_L1 = 8203.904980707324
REFERENCE_TEACHER_L1 = 8199.481671180256
# The numbers are kornia 0.9's (Python 3.11+). kornia 0.8, the newest on Python 3.10, rounds the
# colour jitter differently (ColorJiggle: up to 7.7e-7 on [0, 1] images), which two training
# steps amplify past these tolerances (docs/INSTALL.md, Python 3.10).
needs_reference_kornia = pytest.mark.skipif(
    Version(kornia.__version__) < Version('0.9'),
    reason=f'reference numbers are of kornia 0.9; this is kornia {kornia.__version__}')


def _mic_hrda(dtype=None):
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    method = UDA.build(dict(
        type='DACS', model=tiny_hrda_cfg(), max_iters=10, alpha=0.999, pseudo_threshold=0.0,
        mask_mode='separatetrgaug', mask_lambda=1,
        mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=16)))
    set_mixed_precision(method, dtype)
    method.train()
    return method


def _two_steps(method):
    optimizer = torch.optim.AdamW(method.get_model().parameters(), lr=1e-3)
    for seed in range(2):
        out = method.train_step(make_uda_batch(seed=seed), optimizer)
    return out['log_vars'], optimizer


def _l1(module):
    return sum(p.double().abs().sum().item() for p in module.parameters())


@needs_reference_kornia
def test_float32_step_equals_the_code_before():
    method = _mic_hrda()
    log_vars, _ = _two_steps(method)
    assert set(log_vars) == set(REFERENCE_LOG_VARS)
    for key, expected in REFERENCE_LOG_VARS.items():
        assert log_vars[key] == pytest.approx(expected, rel=1e-5, abs=1e-5), key
    assert _l1(method.get_model()) == pytest.approx(REFERENCE_STUDENT_L1, rel=1e-7)
    assert _l1(method.get_ema_model()) == pytest.approx(REFERENCE_TEACHER_L1, rel=1e-7)


def test_bfloat16_step_runs_in_bf16_and_keeps_float32_state():
    method = _mic_hrda(torch.bfloat16)
    conv_inputs, loss_dtypes = [], []
    method.get_model().decode_head.head.fuse_layer.bottleneck.conv.register_forward_hook(
        lambda module, args, out: conv_inputs.append(out.dtype))
    method.get_ema_model().decode_head.head.fuse_layer.bottleneck.conv.register_forward_hook(
        lambda module, args, out: conv_inputs.append(out.dtype))
    loss_module = method.get_model().decode_head.loss_decode
    loss_module.register_forward_hook(lambda module, args, out: loss_dtypes.append(out.dtype))
    log_vars, optimizer = _two_steps(method)
    # student (source, mixed, masked) and teacher passes computed in bfloat16 ...
    assert conv_inputs and set(conv_inputs) == {torch.bfloat16}
    # ... losses, weights, gradients, AdamW moments and the EMA teacher in float32
    assert loss_dtypes and set(loss_dtypes) == {torch.float32}
    for module in (method.get_model(), method.get_ema_model()):
        assert {p.dtype for p in module.parameters()} == {torch.float32}
    assert {p.grad.dtype for p in method.get_model().parameters() if p.grad is not None} == \
        {torch.float32}
    assert {s['exp_avg'].dtype for s in optimizer.state.values()} == {torch.float32}
    # bf16 keeps 8 bits of mantissa: the losses are those of float32 to about 1 %
    for key, expected in REFERENCE_LOG_VARS.items():
        assert np.isfinite(log_vars[key])
        if 'loss' in key:
            assert log_vars[key] == pytest.approx(expected, rel=0.03, abs=0.01), key


def test_mixed_precision_key_is_read_where_the_model_is_built():
    cfg = Config(dict(model=tiny_hrda_cfg(), runner=dict(max_iters=10),
                      uda=dict(type='DACS', pseudo_threshold=0.0, mask_mode='separatetrgaug',
                               mask_lambda=1, mask_generator=dict(type='block', mask_ratio=0.7,
                                                                  mask_block_size=16))))
    cfg.merge_from_dict({'mixed_precision.dtype': 'bfloat16'})  # as --cfg-options does
    model = build_train_model(cfg)
    assert model.mixed_precision is torch.bfloat16
    assert model.get_model().mixed_precision is torch.bfloat16
    assert model.get_ema_model().mixed_precision is torch.bfloat16
    assert build_train_model(Config(dict(model=tiny_hrda_cfg()))).mixed_precision is None


@pytest.mark.parametrize('value, message', [
    (dict(dtype='half'), "mixed_precision.dtype must be one of"),
    ('bfloat16', 'mixed_precision must be dict'),
    (dict(dtype='bfloat16', loss_scale=512), 'mixed_precision must be dict')])
def test_bad_mixed_precision_values_are_refused(value, message):
    with pytest.raises(ValueError, match=message):
        parse_mixed_precision(value)


def test_float16_needs_cuda_and_float32_means_off():
    assert parse_mixed_precision(dict(dtype='float32')) is None
    assert parse_mixed_precision(dict(dtype='float16')) is torch.float16
    with pytest.raises(RuntimeError, match="'float16' needs a CUDA device"):
        autocast(torch.float16, torch.zeros(1))


def test_bfloat16_inference_gives_float32_probabilities_close_to_float32():
    method = _mic_hrda()
    model = method.get_model().eval()
    img = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    meta = [dict(ori_shape=(64, 64, 3), img_shape=(64, 64, 3), flip=False)]
    with torch.no_grad():
        expected = model.inference(img, meta, rescale=True)
        model.mixed_precision = torch.bfloat16
        probs = model.inference(img, meta, rescale=True)
    assert probs.dtype == torch.float32
    torch.testing.assert_close(probs, expected, atol=0.02, rtol=0)

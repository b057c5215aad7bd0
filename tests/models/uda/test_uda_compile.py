"""The config key ``compile`` (torch.compile of the student): parsing, what is compiled, the same
numbers as eager (fast 'eager' / 'aot_eager' backends; one slow 'inductor' test), state dict keys
and checkpoints, the eager EMA teacher, mixed precision, with_cp and the recompile limit."""
import copy
import os
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch._dynamo
from mmcv.utils import Config

from mmseg.core.checkpoint import save_checkpoint_file
from mmseg.models import build_segmentor, build_train_model
from mmseg.models.utils.mixed_precision import autocast
from mmseg.models.utils.torch_compile import (RECOMPILE_LIMIT, compile_targets, is_compiled,
                                              parse_compile, set_compile)
from grad_helpers import assert_same_grads, param_grads
from test_uda_mixed_precision import (REFERENCE_LOG_VARS, REFERENCE_STUDENT_L1,
                                      REFERENCE_TEACHER_L1, _l1, needs_reference_kornia)
from tools.test import _build_model
from uda_helpers import deterministic_cfg, make_uda_batch, tiny_hrda_cfg

MIC = dict(type='DACS', alpha=0.999, pseudo_threshold=0.0, mask_mode='separatetrgaug',
           mask_lambda=1, mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=16))


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Each test starts with empty torch._dynamo caches (they are per code object and would
    otherwise add up over the tests of one process)."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _seed(seed=0):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _mic_hrda_cfg(compile_value=None):
    cfg = Config(dict(model=tiny_hrda_cfg(), runner=dict(max_iters=10), uda=dict(MIC)))
    if compile_value is not None:
        cfg.compile = compile_value
    return cfg


def _metas(height, width):
    return [dict(ori_shape=(height, width, 3), img_shape=(height, width, 3),
                 pad_shape=(height, width, 3), flip=False)]


def _input(*shape, seed=1):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- the config key
def test_compile_values_give_torch_compile_arguments():
    assert parse_compile(None) is None and parse_compile(False) is None
    assert parse_compile(True) == {}
    value = Config(dict(compile=dict(backend='aot_eager', dynamic=False))).compile
    kwargs = parse_compile(value)
    assert kwargs == dict(backend='aot_eager', dynamic=False) and type(kwargs) is dict
    full = dict(backend='inductor', mode='max-autotune', dynamic=None, fullgraph=True)
    assert parse_compile(full) == full


@pytest.mark.parametrize('value, message', [
    ('yes', "compile must be None, False, True or a dict"),
    (1, "compile must be None, False, True or a dict"),
    (dict(backend='eager', warmup=3), r"unknown keys \['warmup'\]"),
    (dict(backend='no_such_backend'), 'compile.backend must be one of'),
    (dict(mode='fastest'), 'compile.mode must be one of'),
    (dict(dynamic='auto'), 'compile.dynamic must be None, True or False'),
    (dict(fullgraph='yes'), 'compile.fullgraph must be True or False'),
    (dict(options=['max_autotune']), 'compile.options must be a dict'),
    (dict(mode='max-autotune', options=dict(max_autotune=True)), 'cannot both be set')])
def test_bad_compile_values_are_refused(value, message):
    with pytest.raises(ValueError, match=message):
        parse_compile(value)
    with pytest.raises(ValueError, match=message):
        build_train_model(_mic_hrda_cfg(value))


def test_default_runtime_leaves_it_off_and_cfg_options_reach_it():
    path = Path(__file__).resolve().parents[3] / 'configs/_base_/default_runtime.py'
    cfg = Config.fromfile(str(path))
    assert parse_compile(cfg.get('compile')) is None
    cfg.merge_from_dict({'compile.mode': 'max-autotune'})  # --cfg-options compile.mode=...
    assert parse_compile(cfg.compile) == dict(mode='max-autotune')


def test_cfg_options_compile_the_student_only():
    cfg = _mic_hrda_cfg()
    cfg.merge_from_dict({'compile.backend': 'eager'})  # as --cfg-options does
    model = build_train_model(cfg)
    student = model.get_model()
    targets = compile_targets(student)
    assert set(targets) == {'backbone', 'decode_head.head', 'decode_head.scale_attention'}
    assert all(is_compiled(module) for module in targets.values())
    # HRDA's crop-box fusion and the segmentor itself stay eager
    assert not is_compiled(student.decode_head) and not is_compiled(student)
    teacher = model.get_ema_model()
    assert not any(is_compiled(module) for module in teacher.modules())
    assert not any(is_compiled(module) for module in build_train_model(
        _mic_hrda_cfg()).modules())


def _spy_on_compiled_calls(targets):
    """Count the calls of each target's compiled __call__ (nn.Module.compile's
    ``_compiled_call_impl``)."""
    calls = {name: 0 for name in targets}
    for name, module in targets.items():
        compiled_call = module._compiled_call_impl

        def spy(*args, _name=name, _call=compiled_call, **kwargs):
            calls[_name] += 1
            return _call(*args, **kwargs)
        module._compiled_call_impl = spy
    return calls


def test_plain_segmentor_passes_go_through_the_compiled_parts():
    cfg = Config(dict(model=deterministic_cfg(), compile=dict(backend='eager')))
    model = build_train_model(cfg)
    targets = compile_targets(model)
    assert set(targets) == {'backbone', 'decode_head'}
    calls = _spy_on_compiled_calls(targets)
    batch = make_uda_batch()
    model.train().forward_train(batch['img'], batch['img_metas'], batch['gt_semantic_seg'])
    assert calls == {'backbone': 1, 'decode_head': 1}  # forward_train calls the head, compiled
    with torch.no_grad():
        model.eval().encode_decode(batch['img'], batch['img_metas'])
    assert calls == {'backbone': 2, 'decode_head': 2}


def test_hrda_passes_go_through_the_compiled_heads():
    model = build_train_model(_mic_hrda_cfg(dict(backend='eager'))).get_model()
    calls = _spy_on_compiled_calls(compile_targets(model))
    batch = make_uda_batch()
    model.train().forward_train(batch['img'], batch['img_metas'], batch['gt_semantic_seg'])
    # context and detail crop through the backbone and the head, attention from the context
    assert calls == {'backbone': 2, 'decode_head.head': 2, 'decode_head.scale_attention': 1}


def test_inductor_without_a_cpp_compiler_fails_before_building():
    from torch._inductor import config as inductor_config
    cfg = _mic_hrda_cfg(True)
    cfg.model.type = 'NoSuchSegmentor'  # building would fail differently: the check comes first
    # inductor's own patch context (pytest's monkeypatch deletes the option on undo, which hides
    # it from every later test of the process)
    with inductor_config.patch({'cpp.cxx': (None, 'no-such-c++-compiler')}), pytest.raises(
            RuntimeError, match=r"compile: the 'inductor' backend needs a C\+\+ "
            r"compiler(.|\n)*install g\+\+(.|\n)*backend='aot_eager'"):
        build_train_model(cfg)
    assert inductor_config.cpp.cxx != (None, 'no-such-c++-compiler')  # restored
    # other backends need no compiler
    assert is_compiled(build_train_model(_mic_hrda_cfg(dict(backend='aot_eager'))
                                         ).get_model().backbone)


# ----------------------------------------------------------------------------- same numbers
def _eager_and_compiled(model_cfg, backend):
    _seed()
    eager = build_segmentor(copy.deepcopy(model_cfg))
    compiled = copy.deepcopy(eager)
    set_compile(compiled, dict(backend=backend))
    return eager, compiled


@pytest.mark.parametrize('backend', ['eager', 'aot_eager'])
def test_compiled_forward_losses_and_grads_equal_eager(backend):
    eager, compiled = _eager_and_compiled(deterministic_cfg(), backend)
    batch = make_uda_batch(seed=4)
    results = []
    for model in (eager, compiled):
        model.train()
        losses = model.forward_train(batch['img'], batch['img_metas'], batch['gt_semantic_seg'])
        losses['decode.loss_seg'].backward()
        results.append((losses['decode.loss_seg'].detach(), param_grads(model)))
    (loss, grads), (c_loss, c_grads) = results
    torch.testing.assert_close(c_loss, loss, rtol=1e-5, atol=1e-5)
    assert_same_grads(c_grads, grads, 1e-5, scale_by_largest=True)


def _mic_hrda_steps(compile_value, steps=2):
    _seed()
    model = build_train_model(_mic_hrda_cfg(compile_value))
    model.train()
    optimizer = torch.optim.AdamW(model.get_model().parameters(), lr=1e-3)
    for seed in range(steps):
        out = model.train_step(make_uda_batch(seed=seed), optimizer)
    return model, out['log_vars']


@pytest.fixture(scope='module')
def compiled_mic_hrda():
    """(UDA model, log_vars) after two MIC(HRDA) steps with the student compiled ('eager'
    backend; 'aot_eager' is covered by the forward/grads test above), shared by the tests below;
    a test that changes the model restores it."""
    torch._dynamo.reset()
    # fail instead of silently running eager past the recompile limit
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
        return _mic_hrda_steps(dict(backend='eager'))


@needs_reference_kornia
def test_compiled_mic_hrda_steps_equal_the_eager_reference(compiled_mic_hrda):
    model, log_vars = compiled_mic_hrda
    assert set(log_vars) == set(REFERENCE_LOG_VARS)
    for key, expected in REFERENCE_LOG_VARS.items():
        assert log_vars[key] == pytest.approx(expected, rel=1e-5, abs=1e-5), key
    assert _l1(model.get_model()) == pytest.approx(REFERENCE_STUDENT_L1, rel=1e-6)
    assert _l1(model.get_ema_model()) == pytest.approx(REFERENCE_TEACHER_L1, rel=1e-6)


def test_teacher_stays_eager_and_uses_its_own_weights(compiled_mic_hrda):
    model, _ = compiled_mic_hrda
    teacher, student = model.get_ema_model(), model.get_model()
    assert not any(is_compiled(module) for module in teacher.modules())
    assert not set(map(id, teacher.parameters())) & set(map(id, student.parameters()))
    img = _input(2, 3, 64, 64)
    saved = copy.deepcopy(student.state_dict())
    with torch.no_grad():
        before = teacher.generate_pseudo_label(img, _metas(64, 64) * 2)
        for param in student.parameters():
            param.add_(0.5)
        after = teacher.generate_pseudo_label(img, _metas(64, 64) * 2)
    student.load_state_dict(saved)
    torch.testing.assert_close(after, before, rtol=0, atol=0)


def test_compiled_bfloat16_passes_run_in_bfloat16_like_eager():
    eager, compiled = _eager_and_compiled(deterministic_cfg(), 'aot_eager')
    img = _input(2, 3, 64, 64)
    outputs = []
    for model in (eager, compiled):
        model.train()
        with autocast(torch.bfloat16, img):
            outputs.append(model.decode_head(model.backbone(img)))
    assert outputs[1].dtype == outputs[0].dtype == torch.bfloat16
    torch.testing.assert_close(outputs[1].float(), outputs[0].float(), rtol=0.02, atol=0.02)


def test_compiled_bfloat16_mic_hrda_step_equals_the_eager_one():
    log_vars = []
    for compile_value in (None, dict(backend='eager')):
        cfg = _mic_hrda_cfg(compile_value)
        cfg.mixed_precision = dict(dtype='bfloat16')
        _seed()
        model = build_train_model(cfg).train()
        optimizer = torch.optim.AdamW(model.get_model().parameters(), lr=1e-3)
        log_vars.append(model.train_step(make_uda_batch(seed=0), optimizer)['log_vars'])
        assert {p.dtype for p in model.get_model().parameters()} == {torch.float32}
    eager, compiled = log_vars
    assert set(compiled) == set(eager) and 'masked.decode.loss_seg' in eager
    for key, value in eager.items():
        assert compiled[key].item() == pytest.approx(value.item(), rel=1e-5, abs=1e-5), key


def test_compiled_with_cp_gives_the_same_outputs_and_grads():
    model_cfg = deterministic_cfg()
    model_cfg['backbone']['with_cp'] = True
    _assert_same_forward_and_backward(*_eager_and_compiled(model_cfg, 'aot_eager'), 1e-5)


def _assert_same_forward_and_backward(eager, compiled, tolerance):
    """Backbone + decode head of both models on one 2x3x64x64 input in train mode: outputs and
    the gradients of a fixed weighting of the outputs agree within ``tolerance``."""
    img = _input(2, 3, 64, 64)
    outputs = []
    for model in (eager, compiled):
        model.train()
        out = model.decode_head(model.backbone(img))
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outputs.append((out.detach(), param_grads(model)))
    torch.testing.assert_close(outputs[1][0], outputs[0][0], rtol=tolerance, atol=tolerance)
    assert_same_grads(outputs[1][1], outputs[0][1], tolerance, scale_by_largest=True)


# ----------------------------------------------------------------------------- recompiles
class _ConvSegmentor(torch.nn.Module):
    """A stand-in segmentor of two convolutions: cheap to compile at many input sizes."""

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.decode_head = torch.nn.Conv2d(4, 2, 1)


def test_recompile_limit_is_raised_while_the_compiled_parts_run():
    # dynamic=False: one variant per input size; 10 sizes are past torch._dynamo's default
    # limit (8), within RECOMPILE_LIMIT.
    sizes = range(8, 18)
    assert torch._dynamo.config.recompile_limit < len(sizes) <= RECOMPILE_LIMIT
    _seed()
    eager = _ConvSegmentor()
    plain, compiled = copy.deepcopy(eager), copy.deepcopy(eager)
    plain.backbone.compile(backend='eager', dynamic=False)  # nn.Module.compile alone
    set_compile(compiled, dict(backend='eager', dynamic=False))
    with torch.no_grad(), torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
        # without the raised limit torch._dynamo gives up (here: an error instead of eager)
        with pytest.raises(torch._dynamo.exc.FailOnRecompileLimitHit):
            for size in sizes:
                plain.backbone(_input(1, 3, size, size))
        torch._dynamo.reset()
        # with it, every size compiles and none falls back to eager
        for size in sizes:
            img = _input(1, 3, size, size)
            torch.testing.assert_close(compiled.decode_head(compiled.backbone(img)),
                                       eager.decode_head(eager.backbone(img)))
    assert torch._dynamo.config.recompile_limit < RECOMPILE_LIMIT  # restored afterwards


def test_mic_hrda_training_and_inference_stay_compiled():
    """A MIC(HRDA) step and HRDA inference at 3 image sizes: 10 variants of the DAFormerHead
    forward (head and scale attention) and 7 of the MiT forward; at torch._dynamo's default
    limit of 8 this fails."""
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
        model, _ = _mic_hrda_steps(dict(backend='eager'), steps=1)
        model.eval()
        with torch.no_grad():
            for height, width in [(64, 64), (96, 128), (64, 96)]:
                img = _input(1, 3, height, width)
                result = model.simple_test(img, _metas(height, width), rescale=True)
                assert result[0].shape == (height, width)


# ----------------------------------------------------------------------------- checkpoints
def test_compiled_state_dict_keys_equal_eager_and_checkpoints_load_both_ways(
        tmp_path, compiled_mic_hrda):
    plain = build_train_model(_mic_hrda_cfg())
    model, _ = compiled_mic_hrda
    assert list(model.state_dict()) == list(plain.state_dict())
    assert not any('_orig_mod' in key for key in model.state_dict())
    path = tmp_path / 'iter_2.pth'
    save_checkpoint_file(dict(meta={}, state_dict=model.state_dict()), str(path))
    args = SimpleNamespace(checkpoint=str(path), hrda_out='', trust_checkpoint=False)
    student = model.get_model().eval()
    img = _input(1, 3, 64, 64)
    with torch.no_grad():
        expected = student.encode_decode(img, _metas(64, 64))
    for compile_value in (None, dict(backend='eager')):
        cfg = Config(dict(model=tiny_hrda_cfg(), compile=compile_value))
        loaded, _ = _build_model(cfg, args)  # tools/test.py: strict load of the student
        assert is_compiled(loaded.backbone) == (compile_value is not None)
        with torch.no_grad():
            got = loaded.eval().encode_decode(img, _metas(64, 64))
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- inductor
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get('MICSEG_TEST_INDUCTOR'),
                    reason='set MICSEG_TEST_INDUCTOR=1: inductor compiles C++ kernels for minutes')
def test_inductor_forward_and_backward_equal_eager():
    # Opt-in: on the 2-core development machine inductor's first compile of this tiny model's
    # forward and backward took 115-165 s, more than the suite's time budget allows; with its
    # kernels in the cache (/tmp/torchinductor_$USER) the test took 11-30 s.
    _assert_same_forward_and_backward(*_eager_and_compiled(deterministic_cfg(), 'inductor'), 1e-4)

"""Mixed precision: the config key ``mixed_precision = dict(dtype='bfloat16' | 'float16',
fp32_upsample=False, cast_teacher_once=False)`` (docs/performance.md).

The network passes (student, EMA teacher, masked pass, test inference) run under
``torch.autocast`` of the input's device, so convolutions, linear layers and attention compute in
the low-precision dtype; parameters, gradients, optimizer state and the EMA update stay float32,
and losses and the pseudo-label softmax are computed in float32 (see ``float32``). 'float16'
needs CUDA and dynamic loss scaling (``torch.amp.GradScaler``, created by the UDA wrapper);
'bfloat16' has float32's range and needs no scaling (CPU and CUDA).

Two options for speed on the GPU, off by default:

- ``fp32_upsample=True``: the decoders' bilinear upsampling of feature maps and logits (DAFormer
  and SegFormer fusion, HRDA's scale fusion and attention) runs in float32 and casts back to the
  input's dtype. Autocast leaves ``interpolate`` in the input's dtype, and the backward pass of
  bilinear upsampling in bfloat16 is slow on CUDA (an atomic scatter; PyTorch issue 140096).
  Without autocast (float32) the results are unchanged bit for bit.
- ``cast_teacher_once=True``: autocast caches its casts only of weights that require grad, so
  the frozen models (EMA teacher, ImageNet model of the feature distance) would cast every
  convolution and linear weight at every op. With this option ``frozen_weights_cast_once``
  casts them once and keeps the copies until the float32 weights change (the EMA update): the
  same rounding, so the same outputs as autocast's own cast.
"""
from contextlib import contextmanager, nullcontext

import torch
from torch import nn

__all__ = ['MIXED_PRECISION_DTYPES', 'MIXED_PRECISION_OPTIONS', 'parse_mixed_precision',
           'check_mixed_precision_device',
           'parse_mixed_precision_options', 'set_mixed_precision', 'autocast', 'float32',
           'frozen_weights_cast_once']

MIXED_PRECISION_DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}
# The boolean keys of ``mixed_precision`` besides ``dtype``, with their defaults.
MIXED_PRECISION_OPTIONS = {'fp32_upsample': False, 'cast_teacher_once': False}
# Modules whose weights autocast casts to the low-precision dtype (convolutions, linear layers).
_LOW_PRECISION_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def parse_mixed_precision(cfg):
    """The autocast dtype of a ``mixed_precision`` config value, or None (float32).

    cfg: None, or a dict with ``dtype`` one of 'bfloat16', 'float16', 'float32' (= off) and
    the boolean options of MIXED_PRECISION_OPTIONS. Raises ValueError naming the key for
    anything else.
    """
    if cfg is None:
        return None
    parse_mixed_precision_options(cfg)
    name = cfg.get('dtype')
    if name in (None, 'float32', 'fp32'):
        return None
    if name not in MIXED_PRECISION_DTYPES:
        raise ValueError(f'mixed_precision.dtype must be one of '
                         f"{sorted(MIXED_PRECISION_DTYPES) + ['float32']}, got {name!r}")
    return MIXED_PRECISION_DTYPES[name]


def check_mixed_precision_device(cfg, device_type=None):
    """Raise RuntimeError for ``mixed_precision.dtype='float16'`` when the run's device
    (``device_type``; default 'cuda' if ``torch.cuda.is_available()`` else 'cpu') is not CUDA:
    float16 training needs CUDA's loss scaling; bfloat16 works on the CPU."""
    if device_type is None:
        device_type = 'cuda' if torch.cuda.is_available() else 'cpu'
    if parse_mixed_precision(cfg) == torch.float16 and device_type != 'cuda':
        raise RuntimeError(f"mixed_precision.dtype = 'float16' needs a CUDA device, but this run "
                           f"is on the {device_type.upper()}: use dtype='bfloat16' (works on "
                           f"the CPU) or remove mixed_precision")


def parse_mixed_precision_options(cfg):
    """{option: bool} of a ``mixed_precision`` config value (MIXED_PRECISION_OPTIONS filled in
    with their defaults). Raises ValueError naming the key for an unknown key or a value that
    is not True or False."""
    if cfg is None:
        return dict(MIXED_PRECISION_OPTIONS)
    known = {'dtype', *MIXED_PRECISION_OPTIONS}
    if not isinstance(cfg, dict) or set(cfg) - known:
        unknown = sorted(set(cfg) - known) if isinstance(cfg, dict) else cfg
        raise ValueError(f"mixed_precision must be dict(dtype='bfloat16' or 'float16') with the "
                         f'optional keys {sorted(MIXED_PRECISION_OPTIONS)}, got {unknown!r}')
    options = dict(MIXED_PRECISION_OPTIONS)
    for key in MIXED_PRECISION_OPTIONS:
        if key in cfg:
            if not isinstance(cfg[key], bool):
                raise ValueError(f'mixed_precision.{key} must be True or False, got '
                                 f'{cfg[key]!r}')
            options[key] = cfg[key]
    return options


def set_mixed_precision(model, dtype, fp32_upsample=False, cast_teacher_once=False):
    """Set ``mixed_precision`` = dtype (or None) and ``cast_teacher_once`` on ``model`` and every
    segmentor inside it (student, teachers), which read them in their forward passes, and
    ``fp32_upsample`` on every segmentor and decode head."""
    # The classes that read an option declare it as a class attribute (BaseSegmentor all three,
    # BaseDecodeHead fp32_upsample): found by name, as they import this module.
    for module in model.modules():
        if hasattr(type(module), 'mixed_precision'):
            module.mixed_precision = dtype
            module.cast_teacher_once = cast_teacher_once
        if hasattr(type(module), 'fp32_upsample'):
            module.fp32_upsample = fp32_upsample
    model.mixed_precision = dtype
    model.cast_teacher_once = cast_teacher_once
    return model


def autocast(dtype, tensor):
    """``torch.autocast`` to ``dtype`` on the device of ``tensor``; a no-op for dtype None.

    Raises RuntimeError for float16 on a CPU tensor (float16 training needs CUDA's loss scaling;
    use bfloat16 on CPU).
    """
    if dtype is None:
        return nullcontext()
    device_type = tensor.device.type
    if dtype == torch.float16 and device_type != 'cuda':
        raise RuntimeError("mixed_precision.dtype='float16' needs a CUDA device; use "
                           "'bfloat16' on CPU")
    return torch.autocast(device_type=device_type, dtype=dtype)


def float32(tensor):
    """(tensor as float32, a context that turns autocast off on its device) for the maths that
    must stay float32 under mixed precision: losses, softmax of pseudo-labels."""
    if tensor.is_floating_point() and tensor.dtype != torch.float32:
        tensor = tensor.float()
    if not torch.is_autocast_enabled(tensor.device.type):
        return tensor, nullcontext()
    return tensor, torch.autocast(device_type=tensor.device.type, enabled=False)


@contextmanager
def frozen_weights_cast_once(model):
    """Within it, the convolution and linear weights of the frozen ``model`` (parameters without
    grad) are autocast's dtype, cast once and kept until they change.

    Active only when ``model.cast_teacher_once`` is set (``mixed_precision.cast_teacher_once``)
    and autocast is on for the parameters' device; otherwise it does nothing. The copies are
    made anew when a weight changed (its in-place version counter moved, as the EMA update and
    load_state_dict move it), or the dtype or device changed. Outputs equal those of autocast's
    per-op cast: both round the same float32 weights to the same dtype. Memory: one
    low-precision copy of those weights (half the float32 size in bfloat16).
    """
    if not getattr(model, 'cast_teacher_once', False):  # the default: nothing to do per pass
        yield
        return
    params = [p for module in model.modules() if isinstance(module, _LOW_PRECISION_MODULES)
              for p in (module.weight, module.bias)
              if p is not None and not p.requires_grad and p.dtype == torch.float32]
    if not params or not torch.is_autocast_enabled(params[0].device.type):
        yield
        return
    device_type = params[0].device.type
    dtype = torch.get_autocast_dtype(device_type)
    key = (dtype, params[0].device, tuple(p._version for p in params),
           tuple(p.data_ptr() for p in params))
    cache = model.__dict__.get('_weights_cast_once')
    if cache is None or cache[0] != key:
        cache = (key, [p.detach().to(dtype) for p in params])
        model.__dict__['_weights_cast_once'] = cache
    originals = [p.data for p in params]
    try:
        for param, copy in zip(params, cache[1]):
            param.data = copy
        yield
    finally:
        for param, original in zip(params, originals):
            param.data = original

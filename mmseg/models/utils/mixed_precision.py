"""Mixed precision: the config key ``mixed_precision = dict(dtype='bfloat16' | 'float16')``.

The network passes (student, EMA teacher, masked pass, test inference) run under
``torch.autocast`` of the input's device, so convolutions, linear layers and attention compute in
the low-precision dtype; parameters, gradients, optimizer state and the EMA update stay float32,
and losses and the pseudo-label softmax are computed in float32 (see ``float32``). 'float16'
needs CUDA and dynamic loss scaling (``torch.amp.GradScaler``, created by the UDA wrapper);
'bfloat16' has float32's range and needs no scaling (CPU and CUDA).
"""
from contextlib import nullcontext

import torch

__all__ = ['MIXED_PRECISION_DTYPES', 'parse_mixed_precision', 'set_mixed_precision',
           'autocast', 'float32']

MIXED_PRECISION_DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}


def parse_mixed_precision(cfg):
    """The autocast dtype of a ``mixed_precision`` config value, or None (float32).

    cfg: None, or a dict with ``dtype`` one of 'bfloat16', 'float16', 'float32' (= off).
    Raises ValueError naming the key for anything else.
    """
    if cfg is None:
        return None
    if not isinstance(cfg, dict) or set(cfg) - {'dtype'}:
        raise ValueError(f"mixed_precision must be dict(dtype='bfloat16' or 'float16'), got "
                         f'{cfg!r}')
    name = cfg.get('dtype')
    if name in (None, 'float32', 'fp32'):
        return None
    if name not in MIXED_PRECISION_DTYPES:
        raise ValueError(f'mixed_precision.dtype must be one of '
                         f"{sorted(MIXED_PRECISION_DTYPES) + ['float32']}, got {name!r}")
    return MIXED_PRECISION_DTYPES[name]


def set_mixed_precision(model, dtype):
    """Set ``mixed_precision`` = dtype (or None) on ``model`` and every segmentor inside it
    (student, teachers), which read it in their forward passes."""
    from ..segmentors.base import BaseSegmentor  # segmentors import this module
    for module in model.modules():
        if isinstance(module, BaseSegmentor):
            module.mixed_precision = dtype
    model.mixed_precision = dtype
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

"""The run options ``channels_last`` and ``allow_tf32`` (docs/performance.md).

``channels_last = True`` (default False): the model's 4-D weights and every image entering a
backbone are in the channels-last memory format (PyTorch tutorial "Channels Last Memory
Format"): the same numbers in another layout, for cuDNN's NHWC kernels. In NCHW PyTorch sends
depth-wise convolutions to cuDNN only in float16; channels-last uses cuDNN for every dtype.

``allow_tf32 = None | True | False`` (default None, PyTorch's defaults: TF32 for cuDNN
convolutions, not for matmuls): True lets CUDA float32 matmuls and convolutions use TensorFloat-32
(``torch.backends.cuda.matmul.allow_tf32`` and ``torch.backends.cudnn.allow_tf32``), False turns
it off for both. CPU arithmetic is never affected.
"""
import torch

__all__ = ['parse_channels_last', 'set_channels_last', 'parse_allow_tf32', 'apply_allow_tf32']


def parse_channels_last(value):
    """``channels_last`` as a bool (None: False). Raises ValueError naming the key otherwise."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f'channels_last must be True or False, got {value!r}')
    return value


def _to_channels_last(module, args):
    """Forward pre-hook of a backbone: its 4-D image input in channels-last memory format."""
    if args and torch.is_tensor(args[0]) and args[0].dim() == 4:
        return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])
    return None


def set_channels_last(model, enabled=True):
    """Put ``model``'s 4-D parameters and buffers in channels-last format and convert the input
    of every backbone inside it (student, teachers) with a forward pre-hook. No-op when not
    ``enabled``. Returns the model."""
    if not enabled:
        return model
    from ..segmentors.base import BaseSegmentor  # segmentors import mmseg.models.utils
    model.to(memory_format=torch.channels_last)
    for module in model.modules():
        backbone = getattr(module, 'backbone', None) if isinstance(module, BaseSegmentor) \
            else None
        if backbone is not None and not getattr(backbone, '_channels_last_hook', None):
            backbone._channels_last_hook = backbone.register_forward_pre_hook(_to_channels_last)
    return model


def parse_allow_tf32(value):
    """``allow_tf32``: None, True or False. Raises ValueError naming the key otherwise."""
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"allow_tf32 must be None (PyTorch's defaults), True or False, got "
                         f'{value!r}')
    return value


def apply_allow_tf32(value):
    """Set PyTorch's CUDA TF32 switches for ``allow_tf32`` (None: PyTorch's defaults, matmuls
    off and cuDNN on). They are process-wide, so tools set them once per run (and
    tools/benchmark.py before each step of a setting)."""
    value = parse_allow_tf32(value)
    torch.backends.cuda.matmul.allow_tf32 = bool(value)
    torch.backends.cudnn.allow_tf32 = True if value is None else value

"""Thin wrappers over torch functions used across the models."""
import torch
import torch.nn.functional as F


def resize(input, size=None, scale_factor=None, mode='nearest', align_corners=None,
           float32=False):
    """F.interpolate with sizes given as (h, w) tuples or torch.Size; ints are cast.

    float32: interpolate a lower-precision ``input`` (bfloat16 / float16 under autocast) in
    float32 and cast the result back to its dtype (``mixed_precision.fp32_upsample``,
    docs/performance.md); a float32 input is interpolated as it is.
    """
    if size is not None:
        size = tuple(int(s) for s in size)
    if mode in ('nearest', 'area'):
        align_corners = None
    if float32 and input.is_floating_point() and input.dtype != torch.float32:
        return F.interpolate(input.float(), size, scale_factor, mode, align_corners).to(
            input.dtype)
    return F.interpolate(input, size, scale_factor, mode, align_corners)

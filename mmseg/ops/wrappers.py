"""Thin wrappers over torch functions used across the models."""
import torch.nn.functional as F


def resize(input, size=None, scale_factor=None, mode='nearest', align_corners=None):
    """F.interpolate with sizes given as (h, w) tuples or torch.Size; ints are cast."""
    if size is not None:
        size = tuple(int(s) for s in size)
    if mode in ('nearest', 'area'):
        align_corners = None
    return F.interpolate(input, size, scale_factor, mode, align_corners)

"""Reduction helpers shared by the losses, and class weights from files."""
import os.path as osp

import mmcv
import numpy as np
import torch

__all__ = ['reduce_loss', 'weight_reduce_loss', 'get_class_weight']


def get_class_weight(class_weight):
    """Class weights as given (a list), or read from a ``.npy`` file (numpy) or any other file
    mmcv.load reads (``.pkl``, ``.json``, ``.yaml``), as mmseg 0.x does. None stays None.

    Raises FileNotFoundError naming a missing file.
    """
    if not isinstance(class_weight, str):
        return class_weight
    if not osp.isfile(class_weight):
        raise FileNotFoundError(f'class_weight file {class_weight} not found (expected a .npy '
                                f'or .pkl file with one weight per class)')
    if class_weight.endswith('.npy'):
        return np.load(class_weight)
    return mmcv.load(class_weight)


def reduce_loss(loss, reduction):
    """Reduce an element-wise loss with 'none' | 'mean' | 'sum'."""
    if reduction == 'none':
        return loss
    if reduction == 'mean':
        return loss.mean()
    if reduction == 'sum':
        return loss.sum()
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def weight_reduce_loss(loss, weight=None, reduction='mean', avg_factor=None):
    """Multiply by an element-wise ``weight``, then reduce.

    With ``avg_factor`` and reduction 'mean' the sum is divided by avg_factor instead of the
    element count (used for averaging over non-ignored pixels only).
    """
    if weight is not None:
        if weight.dim() != loss.dim():
            raise ValueError(f'loss weight must have the shape of the per-pixel loss '
                             f'{tuple(loss.shape)}, got {tuple(weight.shape)}')
        loss = loss * weight.to(loss.dtype)
    if avg_factor is None:
        return reduce_loss(loss, reduction)
    if reduction == 'mean':
        # eps keeps an all-ignored batch finite (loss 0, not NaN).
        return loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)
    if reduction == 'none':
        return loss
    raise ValueError('avg_factor can only be used with reduction "mean" or "none"')

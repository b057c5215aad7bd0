"""The EMA teacher and its pseudo-labels (docs/REFERENCE.md §3.3 steps 1 and 4), shared by DACS and MIC."""
from copy import deepcopy

import torch
from torch import nn
from torch.nn.modules.dropout import _DropoutNd

from ..builder import build_segmentor
from ..utils.dacs_transforms import filter_valid_pseudo_region, get_pseudo_label_and_weight
from ..utils.ema import update_ema_weights
from ..utils.mixed_precision import frozen_weights_cast_once

__all__ = ['EMATeacher', 'disable_dropout', 'build_frozen_segmentor', 'teacher_pseudo_label']


def disable_dropout(model):
    """Switch Dropout and DropPath off (``.training = False`` on those modules only).

    The rest of the teacher stays in training mode, as in the original (BatchNorm uses batch
    statistics).
    """
    for module in model.modules():
        if isinstance(module, _DropoutNd) or type(module).__name__ == 'DropPath':
            module.training = False


def build_frozen_segmentor(model_cfg):
    """A segmentor from ``model_cfg`` whose parameters never take gradients."""
    model = build_segmentor(deepcopy(model_cfg))
    for param in model.parameters():
        param.requires_grad_(False)
    return model


@torch.no_grad()
def teacher_pseudo_label(teacher, target_img, target_img_metas, pseudo_threshold, ignore_top,
                         ignore_bottom, valid_pseudo_mask=None):
    """Pseudo-label (B x H x W long) and pseudo-weight (B x H x W) of the target batch.

    Under ``mixed_precision.cast_teacher_once`` the teacher's weights are cast to the autocast
    dtype once per EMA update (``frozen_weights_cast_once``), not at every op.
    """
    disable_dropout(teacher)
    with frozen_weights_cast_once(teacher):
        logits = teacher.generate_pseudo_label(target_img, target_img_metas)
    pseudo_label, pseudo_weight = get_pseudo_label_and_weight(logits, pseudo_threshold)
    pseudo_weight = filter_valid_pseudo_region(pseudo_weight, ignore_top, ignore_bottom,
                                               valid_pseudo_mask)
    return pseudo_label, pseudo_weight


class EMATeacher(nn.Module):
    """An EMA copy ``ema_model`` of the student that makes pseudo-labels of the target batch."""

    def __init__(self, model_cfg, alpha, pseudo_threshold, ignore_top=0, ignore_bottom=0):
        super().__init__()
        self.ema_model = build_frozen_segmentor(model_cfg)
        self.alpha = alpha
        self.pseudo_threshold = pseudo_threshold
        self.ignore_top = ignore_top
        self.ignore_bottom = ignore_bottom

    def update_weights(self, student, iteration):
        """Copy the student at iteration 0, EMA afterwards (parameters only)."""
        update_ema_weights(self.ema_model, student, iteration, self.alpha)

    def forward(self, target_img, target_img_metas, valid_pseudo_mask=None):
        return teacher_pseudo_label(self.ema_model, target_img, target_img_metas,
                                    self.pseudo_threshold, self.ignore_top, self.ignore_bottom,
                                    valid_pseudo_mask)

"""Per-pixel cross-entropy of the decode heads (docs/REFERENCE.md §2.2)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..builder import LOSSES
from .utils import get_class_weight, weight_reduce_loss

__all__ = ['CrossEntropyLoss', 'cross_entropy', 'binary_cross_entropy', 'mask_cross_entropy']


def cross_entropy(pred, label, weight=None, class_weight=None, reduction='mean',
                  avg_factor=None, ignore_index=255, avg_non_ignore=False):
    """Softmax cross-entropy per pixel, ignored pixels 0, × weight, then reduced.

    pred: N×C×H×W logits; label: N×H×W long; weight: N×H×W (e.g. the pseudo-label weight).
    With reduction 'mean' the average runs over ALL pixels, ignored ones included, unless
    ``avg_non_ignore`` (docs/REFERENCE.md §2.2: the original counts every pixel).
    """
    loss = F.cross_entropy(pred, label, weight=class_weight, reduction='none',
                           ignore_index=ignore_index)
    if avg_factor is None and avg_non_ignore and reduction == 'mean':
        avg_factor = (label != ignore_index).sum().item()
    if weight is not None:
        weight = weight.float()
    return weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)


def _expand_onehot_labels(label, weight, num_classes, ignore_index):
    """N×H×W labels → N×C×H×W one-hot (ignored pixels all 0) and the matching weights."""
    valid = (label >= 0) & (label != ignore_index)
    safe_label = torch.where(valid, label, torch.zeros_like(label))
    bin_labels = F.one_hot(safe_label, num_classes).movedim(-1, 1) * valid.unsqueeze(1)
    valid_weight = valid.unsqueeze(1).expand_as(bin_labels).float()
    if weight is not None:
        valid_weight = valid_weight * weight.unsqueeze(1).float()
    return bin_labels.float(), valid_weight


def binary_cross_entropy(pred, label, weight=None, class_weight=None, reduction='mean',
                         avg_factor=None, ignore_index=255, avg_non_ignore=False):
    """Sigmoid cross-entropy of every class logit against the one-hot label.

    pred: N×C×H×W logits and label N×H×W indices, or pred and label of the same shape (binary
    targets). Ignored pixels have weight 0; 'mean' averages over all elements.
    """
    if pred.dim() != label.dim():
        label, weight = _expand_onehot_labels(label, weight, pred.size(1), ignore_index)
        if avg_factor is None and avg_non_ignore and reduction == 'mean':
            avg_factor = weight.gt(0).sum().item()
    else:
        valid = (label != ignore_index).float()
        weight = valid if weight is None else valid * weight.float()
        label = label * valid
        if avg_factor is None and avg_non_ignore and reduction == 'mean':
            avg_factor = valid.sum().item()
    loss = F.binary_cross_entropy_with_logits(pred, label.float(), pos_weight=class_weight,
                                              reduction='none')
    return weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)


def mask_cross_entropy(pred, target, label, reduction='mean', avg_factor=None,
                       class_weight=None, ignore_index=None, **kwargs):
    """Sigmoid cross-entropy of per-object masks (mmseg 0.x ``use_mask=True``): for object i
    the mask logits of its class ``label[i]`` against its binary ``target[i]``, averaged.

    pred: N×C×H×W (or N×C×...) mask logits; target: N×H×W binary masks; label: N class indices.
    Only reduction 'mean' without avg_factor and without ignore_index exist (ValueError).
    """
    if ignore_index is not None:
        raise ValueError('use_mask=True (mask cross-entropy) has no ignore_index')
    if reduction != 'mean' or avg_factor is not None:
        raise ValueError("use_mask=True supports reduction='mean' without avg_factor only")
    pred_slice = pred[torch.arange(pred.size(0), device=pred.device), label]
    return F.binary_cross_entropy_with_logits(pred_slice, target.float(), weight=class_weight,
                                              reduction='mean')[None]


@LOSSES.register_module()
class CrossEntropyLoss(nn.Module):
    """Cross-entropy with a loss weight, optional class weights and per-pixel weights.

    Called as ``loss(cls_score, label, weight=seg_weight, ignore_index=255)`` with cls_score
    N×C×H×W, label N×H×W, weight N×H×W; returns a scalar (reduction 'mean').
    ``class_weight``: a list, or a .npy/.pkl file of one weight per class (mmseg 0.x).
    ``use_mask=True``: ``loss(mask_logits, target_masks, class_labels, ignore_index=None)``, see
    mask_cross_entropy.
    """

    def __init__(self, use_sigmoid=False, use_mask=False, reduction='mean', class_weight=None,
                 loss_weight=1.0, avg_non_ignore=False):
        super().__init__()
        if use_sigmoid and use_mask:
            raise ValueError('CrossEntropyLoss: use_sigmoid and use_mask cannot both be True')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        self.use_sigmoid = use_sigmoid
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.class_weight = get_class_weight(class_weight)
        self.avg_non_ignore = avg_non_ignore
        self.use_mask = use_mask
        if use_mask:
            self.criterion = mask_cross_entropy
        else:
            self.criterion = binary_cross_entropy if use_sigmoid else cross_entropy

    def forward(self, cls_score, label, weight=None, avg_factor=None, reduction_override=None,
                ignore_index=255, **kwargs):
        reduction = reduction_override if reduction_override else self.reduction
        if self.use_mask:  # ``weight`` holds the class label of each mask; no ignore_index
            class_weight = (None if self.class_weight is None else
                            cls_score.new_tensor(self.class_weight))
            return self.loss_weight * mask_cross_entropy(
                cls_score, label, weight, reduction=reduction, avg_factor=avg_factor,
                class_weight=class_weight)
        class_weight = None
        if self.class_weight is not None:
            class_weight = cls_score.new_tensor(self.class_weight)
        loss = self.criterion(cls_score, label, weight, class_weight=class_weight,
                              reduction=reduction, avg_factor=avg_factor,
                              ignore_index=ignore_index, avg_non_ignore=self.avg_non_ignore)
        return self.loss_weight * loss

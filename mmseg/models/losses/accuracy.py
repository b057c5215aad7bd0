"""Pixel accuracy in percent, the ``acc_seg`` log value (docs/REFERENCE.md §2.2)."""
import torch
import torch.nn as nn

__all__ = ['accuracy', 'Accuracy']


def accuracy(pred, target, topk=1, thresh=None, ignore_index=None):
    """Top-k accuracy in percent over the pixels whose target is not ``ignore_index``.

    pred: N×C×... scores; target: N×... class indices. Returns a 1-element tensor for an int
    ``topk`` and a list of them for a tuple. With ``thresh``, a hit also needs score > thresh.
    """
    assert isinstance(topk, (int, tuple))
    return_single = isinstance(topk, int)
    topk = (topk, ) if return_single else topk
    maxk = max(topk)
    if pred.size(0) == 0:
        results = [pred.new_tensor(0.)] * len(topk)
        return results[0] if return_single else results
    if pred.dim() != target.dim() + 1:
        raise ValueError(f'accuracy: pred must have one more dim than target, got pred '
                         f'{tuple(pred.shape)} and target {tuple(target.shape)}')
    if pred.size(1) < maxk:
        raise ValueError(f'accuracy: top-{maxk} asked but pred has only {pred.size(1)} classes')
    if maxk == 1:
        # The usual top-1 case (acc_seg every step): max is ~3x faster than topk on the CPU.
        pred_value, pred_label = pred.max(dim=1, keepdim=True)
    else:
        pred_value, pred_label = pred.topk(maxk, dim=1)
    # k-th best class first: maxk × N × ...
    pred_label = pred_label.transpose(0, 1)
    pred_value = pred_value.transpose(0, 1)
    correct = pred_label.eq(target.unsqueeze(0).expand_as(pred_label))
    if thresh is not None:
        correct = correct & (pred_value > thresh)
    if ignore_index is not None:
        valid = target != ignore_index
        correct = correct[:, valid]
        num_valid = valid.sum()
    else:
        num_valid = torch.tensor(target.numel(), device=target.device)
    results = []
    for k in topk:
        hits = correct[:k].reshape(-1).float().sum(0, keepdim=True)
        # No valid pixel: 0 % (and not a division by zero).
        results.append(hits * (100.0 / num_valid.clamp(min=1)))
    return results[0] if return_single else results


class Accuracy(nn.Module):
    """Module form of :func:`accuracy`."""

    def __init__(self, topk=(1, ), thresh=None, ignore_index=None):
        super().__init__()
        self.topk = topk
        self.thresh = thresh
        self.ignore_index = ignore_index

    def forward(self, pred, target):
        return accuracy(pred, target, self.topk, self.thresh, self.ignore_index)

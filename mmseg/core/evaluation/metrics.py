"""Segmentation metrics with mmseg 0.16 semantics: per-class areas → IoU, Dice, F-score, accuracy.

Areas are counted with ``np.bincount`` over the non-ignored pixels; values outside
[0, num_classes) are not counted (like torch.histc with that range).
"""
from collections import OrderedDict

import mmcv
import numpy as np

__all__ = ['intersect_and_union', 'total_intersect_and_union', 'total_area_to_metrics',
           'mean_iou', 'mean_dice', 'mean_fscore', 'eval_metrics', 'f_score',
           'SUPPORTED_METRICS']

SUPPORTED_METRICS = ('mIoU', 'mDice', 'mFscore')


def _load_pred(pred_label):
    if isinstance(pred_label, str):
        try:
            return np.load(pred_label)
        except FileNotFoundError as error:
            raise FileNotFoundError(f'prediction file not found: {pred_label}') from error
    return np.asarray(pred_label)


def _load_label(label):
    if isinstance(label, str):
        try:
            return mmcv.imread(label, flag='unchanged', backend='pillow')
        except FileNotFoundError as error:
            raise FileNotFoundError(f'label file not found: {label}') from error
    return np.asarray(label)


def intersect_and_union(pred_label, label, num_classes, ignore_index, label_map=dict(),
                        reduce_zero_label=False):
    """Per-class areas of one image.

    pred_label: H×W array or a .npy path; label: H×W array or a label PNG path.
    Returns float64 arrays of shape (num_classes,): area_intersect, area_union,
    area_pred_label, area_label.
    """
    pred_label = _load_pred(pred_label).astype(np.int64)
    label = _load_label(label).astype(np.int64)
    if pred_label.shape != label.shape:
        raise ValueError(f'prediction shape {pred_label.shape} differs from the label shape '
                         f'{label.shape}')
    if label_map:
        mapped = label.copy()
        for old_id, new_id in label_map.items():
            mapped[label == old_id] = new_id
        label = mapped
    if reduce_zero_label:
        reduced = label - 1
        reduced[label == 0] = 255
        reduced[label == 255] = 255
        label = reduced
    valid = label != ignore_index
    pred_label, label = pred_label[valid], label[valid]

    def area(values):
        values = values[(values >= 0) & (values < num_classes)]
        return np.bincount(values, minlength=num_classes).astype(np.float64)

    area_intersect = area(pred_label[pred_label == label])
    area_pred_label = area(pred_label)
    area_label = area(label)
    area_union = area_pred_label + area_label - area_intersect
    return area_intersect, area_union, area_pred_label, area_label


def total_intersect_and_union(results, gt_seg_maps, num_classes, ignore_index, label_map=dict(),
                              reduce_zero_label=False):
    """Per-class areas summed over images (results and gt_seg_maps: iterables of equal length)."""
    if hasattr(results, '__len__') and hasattr(gt_seg_maps, '__len__') \
            and len(results) != len(gt_seg_maps):
        raise ValueError(f'{len(results)} predictions but {len(gt_seg_maps)} label maps')
    totals = [np.zeros(num_classes, dtype=np.float64) for _ in range(4)]
    for pred, gt in zip(results, gt_seg_maps):
        for total, part in zip(totals, intersect_and_union(
                pred, gt, num_classes, ignore_index, label_map, reduce_zero_label)):
            total += part
    return tuple(totals)


def f_score(precision, recall, beta=1):
    """F-beta score = (1 + β²)·P·R / (β²·P + R)."""
    return (1 + beta ** 2) * (precision * recall) / ((beta ** 2 * precision) + recall)


def _fscore_from_areas(area_intersect, area_pred_label, area_label, beta=1):
    """F-beta per class from the areas: (1 + β²)·TP / (β²·|label| + |pred|).

    Equal to f_score(precision, recall) wherever that is defined, but a class present in the
    prediction or the label with no true positive scores 0 (precision = recall = 0 would give
    0/0); only a class absent from both is NaN. For β = 1 this is the Dice coefficient.
    """
    return (1 + beta ** 2) * area_intersect / (beta ** 2 * area_label + area_pred_label)


def _check_metrics(metrics):
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in SUPPORTED_METRICS]
    if unknown:
        raise KeyError(f'metrics {unknown} are not supported; expected some of {SUPPORTED_METRICS}')
    return list(metrics)


def total_area_to_metrics(total_area_intersect, total_area_union, total_area_pred_label,
                          total_area_label, metrics=['mIoU'], nan_to_num=None, beta=1):
    """Metrics from summed areas: OrderedDict with aAcc (scalar) and per-class arrays
    IoU/Acc (mIoU), Dice/Acc (mDice), Fscore/Precision/Recall (mFscore). Classes absent from
    both prediction and label give NaN (or nan_to_num); Fscore of a class present in either but
    never hit is 0, so F1 equals Dice class by class."""
    metrics = _check_metrics(metrics)
    with np.errstate(divide='ignore', invalid='ignore'):
        ret = OrderedDict(aAcc=total_area_intersect.sum() / total_area_label.sum())
        for metric in metrics:
            if metric == 'mIoU':
                ret['IoU'] = total_area_intersect / total_area_union
                ret['Acc'] = total_area_intersect / total_area_label
            elif metric == 'mDice':
                ret['Dice'] = 2 * total_area_intersect / (total_area_pred_label + total_area_label)
                ret['Acc'] = total_area_intersect / total_area_label
            else:
                precision = total_area_intersect / total_area_pred_label
                recall = total_area_intersect / total_area_label
                ret['Fscore'] = _fscore_from_areas(total_area_intersect, total_area_pred_label,
                                                   total_area_label, beta)
                ret['Precision'] = precision
                ret['Recall'] = recall
    if nan_to_num is not None:
        ret = OrderedDict((k, np.nan_to_num(v, nan=nan_to_num)) for k, v in ret.items())
    return ret


def eval_metrics(results, gt_seg_maps, num_classes, ignore_index, metrics=['mIoU'],
                 nan_to_num=None, label_map=dict(), reduce_zero_label=False, beta=1):
    """Metrics over a list of predictions and labels (arrays or file paths), see
    total_area_to_metrics for the returned keys."""
    metrics = _check_metrics(metrics)
    areas = total_intersect_and_union(results, gt_seg_maps, num_classes, ignore_index,
                                      label_map, reduce_zero_label)
    return total_area_to_metrics(*areas, metrics=metrics, nan_to_num=nan_to_num, beta=beta)


def mean_iou(results, gt_seg_maps, num_classes, ignore_index, nan_to_num=None, label_map=dict(),
             reduce_zero_label=False):
    """aAcc, per-class IoU and Acc."""
    return eval_metrics(results, gt_seg_maps, num_classes, ignore_index, ['mIoU'], nan_to_num,
                        label_map, reduce_zero_label)


def mean_dice(results, gt_seg_maps, num_classes, ignore_index, nan_to_num=None, label_map=dict(),
              reduce_zero_label=False):
    """aAcc, per-class Dice and Acc."""
    return eval_metrics(results, gt_seg_maps, num_classes, ignore_index, ['mDice'], nan_to_num,
                        label_map, reduce_zero_label)


def mean_fscore(results, gt_seg_maps, num_classes, ignore_index, nan_to_num=None,
                label_map=dict(), reduce_zero_label=False, beta=1):
    """aAcc, per-class Fscore, Precision and Recall."""
    return eval_metrics(results, gt_seg_maps, num_classes, ignore_index, ['mFscore'], nan_to_num,
                        label_map, reduce_zero_label, beta)


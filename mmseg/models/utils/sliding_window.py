"""Sliding windows over an image: the window boxes and the averaging of window logits.

Used by the segmentor's slide inference (docs/REFERENCE.md §2.3) and by HRDA's overlapping detail crops
(docs/REFERENCE.md §4). Boxes are ``(y1, y2, x1, x2)`` with exclusive ends.
"""
import torch

__all__ = ['slide_window_boxes', 'merge_window_logits']


def slide_window_boxes(img_h, img_w, crop_size, stride):
    """Boxes of crop_size windows every stride pixels, row-major, shifted inside at the borders.

    A side shorter than the crop gives one window covering it (the window is clipped).
    """
    crop_h, crop_w = crop_size
    stride_h, stride_w = stride
    if min(crop_h, crop_w, stride_h, stride_w) <= 0:
        raise ValueError(f'crop_size {crop_size} and stride {stride} must be positive')
    # Number of window starts so that the last window reaches the border.
    grids_h = max(img_h - crop_h + stride_h - 1, 0) // stride_h + 1
    grids_w = max(img_w - crop_w + stride_w - 1, 0) // stride_w + 1
    boxes = []
    for row in range(grids_h):
        for col in range(grids_w):
            y2 = min(row * stride_h + crop_h, img_h)
            x2 = min(col * stride_w + crop_w, img_w)
            boxes.append((max(y2 - crop_h, 0), y2, max(x2 - crop_w, 0), x2))
    return boxes


def merge_window_logits(window_logits, boxes, out_size):
    """Sum the window logits into a map of out_size and divide by the per-pixel window count.

    window_logits: (N_windows·B)×C×h×w, window-major (windows[i] = rows i·B .. (i+1)·B - 1),
    or a list of N_windows B×C×h×w tensors; boxes in out_size coordinates. Returns B×C×H×W.
    """
    if torch.is_tensor(window_logits):
        if window_logits.shape[0] % len(boxes):
            raise ValueError(f'{window_logits.shape[0]} window logits for {len(boxes)} boxes')
        window_logits = window_logits.chunk(len(boxes), dim=0)
    if len(window_logits) != len(boxes):
        raise ValueError(f'{len(window_logits)} window logits for {len(boxes)} boxes')
    first = window_logits[0]
    height, width = out_size
    summed = first.new_zeros((first.shape[0], first.shape[1], height, width))
    count = first.new_zeros((first.shape[0], 1, height, width))
    for logits, (y1, y2, x1, x2) in zip(window_logits, boxes):
        if tuple(logits.shape[2:]) != (y2 - y1, x2 - x1):
            raise ValueError(f'window logits of size {tuple(logits.shape[2:])} do not fit box '
                             f'{(y1, y2, x1, x2)}')
        summed[:, :, y1:y2, x1:x2] += logits
        count[:, :, y1:y2, x1:x2] += 1
    if (count == 0).any():
        raise ValueError(f'the windows {boxes} do not cover the whole {height}×{width} map')
    return summed / count

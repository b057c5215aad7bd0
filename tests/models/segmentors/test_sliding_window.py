"""Sliding-window boxes and their averaging (slide inference, HRDA detail crops)."""
import pytest
import torch

from mmseg.models.utils.sliding_window import merge_window_logits, slide_window_boxes


def test_boxes_shift_inside_the_image_at_the_borders():
    # 64×96 image, 32×32 windows every 24 px: starts 0, 24, 48→shifted to 32 (rows) and
    # 0, 24, 48, 72→shifted to 64 (columns), worked out by hand.
    boxes = slide_window_boxes(64, 96, (32, 32), (24, 24))
    rows = [(0, 32), (24, 56), (32, 64)]
    cols = [(0, 32), (24, 56), (48, 80), (64, 96)]
    assert boxes == [(y1, y2, x1, x2) for y1, y2 in rows for x1, x2 in cols]


def test_image_smaller_than_the_crop_gives_one_clipped_window():
    assert slide_window_boxes(20, 40, (32, 64), (16, 16)) == [(0, 20, 0, 40)]


def test_non_overlapping_stride_tiles_exactly():
    assert slide_window_boxes(64, 64, (32, 32), (32, 32)) == [
        (0, 32, 0, 32), (0, 32, 32, 64), (32, 64, 0, 32), (32, 64, 32, 64)]


def test_merge_averages_the_windows_covering_each_pixel():
    boxes = slide_window_boxes(64, 96, (32, 32), (24, 24))
    batch = 2
    # Window k has the constant logit k + 1 (both images, both classes).
    windows = torch.cat([torch.full((batch, 2, 32, 32), float(k + 1)) for k in range(12)])
    merged = merge_window_logits(windows, boxes, (64, 96))
    assert merged.shape == (batch, 2, 64, 96)
    # Hand-counted: (0, 0) only window 1; (30, 30) windows 1, 2, 5, 6 (rows 0-1, cols 0-1);
    # (63, 95) only the last window 12; (40, 60) rows 1, 2 × cols 2 → windows 7, 11.
    assert merged[0, 0, 0, 0] == 1
    assert merged[1, 1, 30, 30] == pytest.approx((1 + 2 + 5 + 6) / 4)
    assert merged[0, 1, 63, 95] == 12
    assert merged[1, 0, 40, 60] == pytest.approx((7 + 11) / 2)


def test_merge_of_a_list_equals_merge_of_the_window_major_batch():
    boxes = [(0, 4, 0, 4), (0, 4, 2, 6)]
    first, second = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    merged = merge_window_logits(torch.cat([first, second]), boxes, (4, 6))
    assert torch.allclose(merged[:, :, :, :2], first[:, :, :, :2])
    assert torch.allclose(merged[:, :, :, 2:4], (first[:, :, :, 2:] + second[:, :, :, :2]) / 2)
    assert torch.allclose(merged[:, :, :, 4:], second[:, :, :, 2:])
    assert torch.equal(merge_window_logits([first, second], boxes, (4, 6)), merged)


def test_merge_rejects_uncovered_pixels_and_wrong_sizes():
    with pytest.raises(ValueError, match='do not cover'):
        merge_window_logits(torch.zeros(1, 1, 4, 4), [(0, 4, 0, 4)], (4, 8))
    with pytest.raises(ValueError, match='do not fit'):
        merge_window_logits(torch.zeros(1, 1, 4, 4), [(0, 4, 0, 3)], (4, 3))


def test_a_margin_of_one_pixel_adds_a_shifted_window():
    # 33 px with 32 px windows every 16 px: ceil(1 / 16) + 1 = 2 windows per side.
    assert slide_window_boxes(33, 33, (32, 32), (16, 16)) == [
        (0, 32, 0, 32), (0, 32, 1, 33), (1, 33, 0, 32), (1, 33, 1, 33)]
    # Stride 1 on an image smaller than the window: still exactly one window.
    assert slide_window_boxes(20, 40, (32, 64), (1, 1)) == [(0, 20, 0, 40)]


@pytest.mark.parametrize('crop_size,stride', [((0, 8), (4, 4)), ((8, 0), (4, 4)),
                                              ((8, 8), (0, 4)), ((8, 8), (4, 0))])
def test_non_positive_crop_or_stride_is_an_error(crop_size, stride):
    with pytest.raises(ValueError, match='must be positive'):
        slide_window_boxes(16, 16, crop_size, stride)


def test_merge_keeps_batch_and_channel_apart():
    # 2 images × 3 classes (batch != channels): each output holds its own window values.
    boxes = [(0, 4, 0, 4), (0, 4, 2, 6)]
    windows = torch.arange(2 * 2 * 3 * 16, dtype=torch.float32).reshape(4, 3, 4, 4)
    merged = merge_window_logits(windows, boxes, (4, 6))
    assert merged.shape == (2, 3, 4, 6)
    assert torch.equal(merged[:, :, :, :2], windows[:2, :, :, :2])
    assert torch.equal(merged[:, :, :, 4:], windows[2:, :, :, 2:])
    overlap = (windows[:2, :, :, 2:] + windows[2:, :, :, :2]) / 2
    assert torch.allclose(merged[:, :, :, 2:4], overlap)

"""HRDA's pure functions: crop boxes, cropping, box scaling and the scale fusion (docs/REFERENCE.md §4)."""
import numpy as np
import pytest
import torch

from mmseg.models.decode_heads.hrda_head import crop, fuse_scales, get_crop_bbox, scale_box


def test_crop_boxes_lie_inside_and_are_multiples_of_divisible():
    np.random.seed(0)
    boxes = {get_crop_bbox(64, 96, (32, 48), 8) for _ in range(400)}
    for y1, y2, x1, x2 in boxes:
        assert y2 - y1 == 32 and x2 - x1 == 48
        assert 0 <= y1 and y2 <= 64 and 0 <= x1 and x2 <= 96
        assert y1 % 8 == 0 and x1 % 8 == 0
    # offset = randint(0, (margin + 1) // 8) · 8: margins 32 and 48 give 4 × 6 offsets.
    assert {b[0] for b in boxes} == {0, 8, 16, 24}
    assert {b[2] for b in boxes} == {0, 8, 16, 24, 32, 40}


def test_crop_box_of_the_whole_image_and_of_a_too_small_margin():
    assert get_crop_bbox(32, 32, (32, 32), 8) == (0, 32, 0, 32)
    # Margin 4 < divisible 8: the only offset is 0.
    assert get_crop_bbox(36, 36, (32, 32), 8) == (0, 32, 0, 32)
    with pytest.raises(ValueError, match='does not fit'):
        get_crop_bbox(32, 32, (48, 16), 8)


def test_crop_cuts_the_last_two_dims():
    x = torch.arange(2 * 3 * 6 * 8).reshape(2, 3, 6, 8)
    assert torch.equal(crop(x, (1, 4, 2, 7)), x[:, :, 1:4, 2:7])
    assert torch.equal(crop(x[:, 0], (1, 4, 2, 7)), x[:, 0, 1:4, 2:7])
    assert torch.equal(crop(x[0, 0], (0, 2, 0, 3)), x[0, 0, :2, :3])


def test_scale_box_divides_and_truncates():
    assert scale_box((8, 24, 16, 40), 8) == (1, 3, 2, 5)
    assert scale_box((6, 10, 0, 3), 4) == (1, 2, 0, 0)


def test_fusion_with_crop_box_gives_detail_inside_and_context_outside():
    # Image 32×32: context logits 4×4 (2 everywhere), detail crop (8, 24, 8, 24) → 4×4 detail
    # logits (5 everywhere) at cells 2..5 of the 8×8 output; attention 1 before masking.
    lr = torch.full((1, 2, 4, 4), 2.0)
    hr = torch.full((1, 2, 4, 4), 5.0)
    fused, weighted_lr, att = fuse_scales(lr, hr, torch.ones(1, 2, 4, 4), 2, 4,
                                          crop_box=(8, 24, 8, 24))
    # Attention survives only at context cells 1..2 (box / 8); (1 − a)·lr is 0 there.
    assert torch.equal(weighted_lr[0, 0], torch.tensor([[2., 2, 2, 2], [2, 0, 0, 2],
                                                        [2, 0, 0, 2], [2, 2, 2, 2]]))
    # ×2 bilinear (align_corners False) of the 1-D mask [0, 1, 1, 0], worked out by hand:
    a1d = torch.tensor([0, .25, .75, 1, 1, .75, .25, 0])
    assert torch.allclose(att[0, 0], a1d[:, None] * a1d[None, :])
    assert fused.shape == (1, 2, 8, 8)
    assert fused[0, 0, 3, 3] == 5 and fused[0, 1, 4, 3] == 5       # detail inside
    assert fused[0, 0, 0, 0] == 2 and fused[0, 1, 7, 2] == 2       # context outside
    # Crop border cell (2, 2): a = .75² → 5a + 2(1 − a); just outside (1, 1): 2(1 − .25²).
    assert fused[0, 0, 2, 2].item() == pytest.approx(5 * .5625 + 2 * .4375)
    assert fused[0, 0, 1, 1].item() == pytest.approx(2 * (1 - .0625))


def test_fusion_without_crop_box_mixes_everywhere():
    lr = torch.full((2, 3, 4, 4), 2.0)
    hr = torch.full((2, 3, 8, 8), 5.0)
    fused, _, _ = fuse_scales(lr, hr, torch.full((2, 1, 4, 4), 0.25), 2, 4)
    assert torch.allclose(fused, torch.full((2, 3, 8, 8), 0.25 * 5 + 0.75 * 2))
    # Fixed attention 0 → the upsampled context; 1 → the detail logits.
    lr = torch.randn(1, 3, 4, 4)
    hr = torch.randn(1, 3, 8, 8)
    up = torch.nn.functional.interpolate(lr, scale_factor=2, mode='bilinear',
                                         align_corners=False)
    assert torch.allclose(fuse_scales(lr, hr, 0.0, 2, 4)[0], up)
    assert torch.allclose(fuse_scales(lr, hr, 1.0, 2, 4)[0], hr)


def test_fusion_rejects_detail_logits_that_do_not_fit_the_crop_box():
    with pytest.raises(ValueError, match=r'detail logits of size \(3, 3\) does not fit the box '
                       r'\(2, 6, 2, 6\) of the \(8, 8\) map'):
        fuse_scales(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 3, 3), torch.ones(1, 2, 4, 4),
                    2, 4, crop_box=(8, 24, 8, 24))


def test_fusion_with_off_diagonal_box_on_a_wide_image():
    # Detail image 48×96 (scale ratio 2, output stride 4): context logits 6×12, fused 12×24.
    # Box (16, 32, 32, 64) in detail pixels: detail logits 4×8 at fused cells rows 4..7,
    # cols 8..15; context cells rows 2..3, cols 4..7. A y/x swap would put it elsewhere.
    generator = torch.Generator().manual_seed(0)
    lr = torch.randn(2, 3, 6, 12, generator=generator)
    hr = torch.randn(2, 3, 4, 8, generator=generator)
    fused, weighted_lr, att = fuse_scales(lr, hr, torch.ones(2, 3, 6, 12), 2, 4,
                                          crop_box=(16, 32, 32, 64))
    assert fused.shape == (2, 3, 12, 24)
    # The masked attention, written out by hand: 1 on context rows 2..3, cols 4..7.
    mask = torch.zeros(6, 12)
    mask[2:4, 4:8] = 1
    assert torch.equal(weighted_lr, lr * (1 - mask))
    up = torch.nn.functional.interpolate
    expected_att = up(mask[None, None], scale_factor=2, mode='bilinear', align_corners=False)
    assert torch.allclose(att[:, 0], expected_att[:, 0].expand(2, 12, 24))
    canvas = torch.zeros(2, 3, 12, 24)
    canvas[:, :, 4:8, 8:16] = hr
    expected = expected_att * canvas + up(lr * (1 - mask), scale_factor=2, mode='bilinear',
                                          align_corners=False)
    assert torch.allclose(fused, expected, atol=1e-6)
    # Deep inside the box the attention is exactly 1: the detail logits themselves.
    assert torch.equal(fused[:, :, 5:7, 9:15], hr[:, :, 1:3, 1:7])
    # Two cells away from the box the context alone, upsampled.
    up_lr = up(lr, scale_factor=2, mode='bilinear', align_corners=False)
    assert torch.equal(fused[:, :, :3], up_lr[:, :, :3])
    assert torch.equal(fused[:, :, :, :7], up_lr[:, :, :, :7])
    assert torch.equal(fused[:, :, 9:], up_lr[:, :, 9:])
    assert torch.equal(fused[:, :, :, 17:], up_lr[:, :, :, 17:])


def test_fusion_resizes_detail_logits_of_odd_inputs_and_honours_align_corners():
    # Odd input sizes leave the detail grid (7×11) a cell off the upsampled context (6×10):
    # the detail logits are resized onto it, with the head's align_corners.
    generator = torch.Generator().manual_seed(1)
    lr = torch.randn(1, 2, 3, 5, generator=generator)
    hr = torch.randn(1, 2, 7, 11, generator=generator)
    up = torch.nn.functional.interpolate
    for align_corners in (False, True):
        fused, _, _ = fuse_scales(lr, hr, 1.0, 2, 4, align_corners=align_corners)
        expected = up(hr, size=(6, 10), mode='bilinear', align_corners=align_corners)
        assert torch.allclose(fused, expected, atol=1e-6)
        att = torch.rand(1, 1, 3, 5, generator=generator)
        fused, _, _ = fuse_scales(lr, hr[:, :, :6, :10], att, 2, 4,
                                  align_corners=align_corners)
        kwargs = dict(scale_factor=2, mode='bilinear', align_corners=align_corners)
        expected = up(att, **kwargs) * hr[:, :, :6, :10] + up((1 - att) * lr, **kwargs)
        assert torch.allclose(fused, expected, atol=1e-6)
    # align_corners=True differs from False on these grids (the flag is really passed on).
    assert not torch.allclose(up(lr, scale_factor=2, mode='bilinear', align_corners=True),
                              up(lr, scale_factor=2, mode='bilinear', align_corners=False))


def test_crop_box_offsets_follow_the_original_formula():
    # randint(0, (margin + 1) // divisible) · divisible: margin 30, divisible 8 → 31 // 8 = 3
    # offsets {0, 8, 16} (24 would fit but is never drawn, as in the original).
    np.random.seed(1)
    boxes = {get_crop_bbox(62, 40, (32, 40), 8) for _ in range(200)}
    assert {b[0] for b in boxes} == {0, 8, 16} and {b[2] for b in boxes} == {0}
    # divisible defaults to 1: every offset 0..margin.
    assert {get_crop_bbox(5, 3, (2, 3))[0] for _ in range(200)} == {0, 1, 2, 3}
    y1, y2, x1, x2 = get_crop_bbox(4, 4, (1, 1))  # a 1-px crop is allowed
    assert (y2 - y1, x2 - x1) == (1, 1)
    for bad in ((0, 4), (4, 0)):
        with pytest.raises(ValueError, match='must be positive'):
            get_crop_bbox(4, 4, bad)

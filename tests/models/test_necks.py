"""MultiLevelNeck: patch-grid maps -> strides 4, 8, 16, 32, cropped back to the unpadded image."""
import pytest
import torch
import torch.nn.functional as F

from mmseg.models import build_neck
from mmseg.models.backbones.timm_backbone import PatchGridFeatures
from mmseg.models.necks.multilevel_neck import resample_patch_grid


@pytest.mark.parametrize('stride', [4, 8, 16])
def test_resampling_equals_interpolate_when_the_image_is_a_multiple(stride):
    # 8 x 16 cells of 14 px = 112 x 224 px; every output size (p/s x grid) is an integer.
    x = torch.randn(2, 5, 8, 16, dtype=torch.float64)
    got = resample_patch_grid(x, 14, stride, (112, 224))
    want = F.interpolate(x, scale_factor=14 / stride, mode='bilinear', align_corners=False,
                         recompute_scale_factor=False)
    assert got.shape == want.shape == (2, 5, 112 // stride, 224 // stride)
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


def test_resampling_crops_the_padding_away():
    # A 100 x 60 image padded to 112 x 70: the stride-4 map covers ceil(100/4) x ceil(60/4) cells,
    # each sampled where it lies in the padded map (by hand: cell centre (j + 0.5) * 4 px).
    x = torch.arange(8 * 5, dtype=torch.float64).reshape(1, 1, 8, 5)
    full = F.interpolate(x, scale_factor=3.5, mode='bilinear', align_corners=False,
                         recompute_scale_factor=False)  # 28 x 17 over the padded 112 x 70
    got = resample_patch_grid(x, 14, 4, (100, 60))
    assert got.shape == (1, 1, 25, 15)
    torch.testing.assert_close(got, full[:, :, :25, :15], atol=1e-12, rtol=0)
    # A constant-gradient map is reproduced exactly: value(row y px) = (y / 14 - 0.5) clamped.
    ramp = torch.arange(8, dtype=torch.float64).view(1, 1, 8, 1).expand(1, 1, 8, 5)
    rows = resample_patch_grid(ramp, 14, 8, (100, 60))[0, 0, :, 0]
    expected = ((torch.arange(13, dtype=torch.float64) + 0.5) * 8 / 14 - 0.5).clamp(0, 7)
    torch.testing.assert_close(rows, expected, atol=1e-12, rtol=0)


def test_resampling_positions_stay_exact_in_bfloat16():
    # A 74-cell grid (1036 px) to stride 4: positions like 258.5 * 4 / 14 are not representable
    # in bf16; the sampling must still land where the float64 one does.
    x = torch.randn(1, 2, 74, 3, dtype=torch.float64)
    exact = resample_patch_grid(x, 14, 4, (1024, 40))
    low = resample_patch_grid(x.to(torch.bfloat16), 14, 4, (1024, 40))
    assert low.dtype == torch.bfloat16
    # = the float32 resampling of the same bf16 values, rounded once at the end
    reference = resample_patch_grid(x.to(torch.bfloat16).float(), 14, 4, (1024, 40))
    torch.testing.assert_close(low, reference.to(torch.bfloat16), atol=0, rtol=0)
    assert (low.double() - exact).abs().max() < 0.05


def test_neck_outputs_with_strides_and_with_scales():
    neck = build_neck(dict(type='MultiLevelNeck', in_channels=[6, 6, 6, 6], out_channels=4,
                           out_strides=[4, 8, 16, 32]))
    maps = PatchGridFeatures([torch.randn(2, 6, 8, 5) for _ in range(4)], (100, 60), 14)
    assert [tuple(o.shape) for o in neck(maps)] == [
        (2, 4, 25, 15), (2, 4, 13, 8), (2, 4, 7, 4), (2, 4, 4, 2)]
    # mmseg's behaviour: one input reused for every output, resized by the scales.
    plain = build_neck(dict(type='MultiLevelNeck', in_channels=[6], out_channels=4,
                            scales=[4, 2, 1, 0.5]))
    assert [tuple(o.shape[2:]) for o in plain([torch.randn(1, 6, 8, 8)])] == [
        (32, 32), (16, 16), (8, 8), (4, 4)]


def test_neck_errors_name_the_problem():
    with pytest.raises(ValueError, match='2 inputs for 4 outputs'):
        build_neck(dict(type='MultiLevelNeck', in_channels=[6, 6], out_channels=4))
    neck = build_neck(dict(type='MultiLevelNeck', in_channels=[6], out_channels=4,
                           out_strides=[4, 8]))
    with pytest.raises(ValueError, match='needs the patch-grid features of TIMMBackbone'):
        neck([torch.randn(1, 6, 8, 8)])
    with pytest.raises(ValueError, match='got 2 inputs, expected 1'):
        neck([torch.randn(1, 6, 8, 8)] * 2)

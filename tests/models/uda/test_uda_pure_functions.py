"""Unit tests of the pure tensor maths used by the UDA methods (EMA, DACS transforms, FD)."""
import math

import pytest
import torch
from torch import nn

from mmseg.models.utils import (downscale_label_ratio, class_mask, blur_kernel_size, denorm,
                                ema_alpha, filter_valid_pseudo_region, gaussian_blur,
                                get_class_masks, get_mean_std, get_pseudo_label_and_weight,
                                masked_feat_dist, one_mix, color_jitter, renorm,
                                update_ema_weights)

THINGS = [6, 7, 11, 12, 13, 14, 15, 16, 17, 18]


def _net():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    return net


def test_ema_alpha_warmup_by_hand():
    assert ema_alpha(0, 0.99) == 0
    assert ema_alpha(1, 0.99) == pytest.approx(0.5)
    assert ema_alpha(9, 0.99) == pytest.approx(0.9)
    assert ema_alpha(10000, 0.99) == pytest.approx(0.99)
    assert ema_alpha(99, 0.999) == pytest.approx(0.99)


def test_ema_update_parameters_only():
    torch.manual_seed(0)
    student, teacher = _net(), _net()
    teacher[1].running_mean.fill_(7.0)
    update_ema_weights(teacher, student, 0, 0.99)  # iteration 0 copies
    for t, s in zip(teacher.parameters(), student.parameters()):
        assert torch.equal(t, s)
        assert not t.requires_grad
    assert torch.all(teacher[1].running_mean == 7.0)  # buffers untouched

    old_teacher = [p.clone() for p in teacher.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    update_ema_weights(teacher, student, 3, 0.99)  # a = min(1 - 1/4, 0.99) = 0.75
    for t, t_old, s in zip(teacher.parameters(), old_teacher, student.parameters()):
        expected = 0.75 * t_old + 0.25 * s
        assert torch.allclose(t, expected)
        assert torch.allclose(t, t_old + 0.25)  # the student moved by exactly 1
    assert torch.all(teacher[1].running_mean == 7.0)


def test_ema_rejects_different_networks():
    with pytest.raises(ValueError, match='same model config'):
        update_ema_weights(nn.Linear(3, 2), nn.Linear(3, 4), 1, 0.99)


def test_pseudo_weight_by_hand():
    # 2 images of 1 x 2 pixels, 2 classes; probabilities chosen via logits.
    p = torch.tensor([[[0.99, 0.6]], [[0.2, 0.97]]])  # prob of class 0, B x H x W
    logits = torch.stack([torch.log(p), torch.log(1 - p)], dim=1)
    label, weight = get_pseudo_label_and_weight(logits, 0.968)
    assert label.tolist() == [[[0, 0]], [[1, 0]]]
    # confidences 0.99, 0.6, 0.8, 0.97 -> 2 of 4 >= 0.968
    assert weight.shape == (2, 1, 2)
    assert torch.allclose(weight, torch.full((2, 1, 2), 0.5))
    _, weight_none = get_pseudo_label_and_weight(logits, None)
    assert torch.equal(weight_none, torch.ones(2, 1, 2))


def test_pseudo_weight_counts_confidences_equal_to_the_threshold():
    # Equal logits give a confidence of exactly 0.5; (2, 0) and (0, 3) are above it.
    logits = torch.tensor([[0., 2.], [0., 0.]]), torch.tensor([[0., 0.], [3., 0.]])
    logits = torch.stack(logits)[None]  # 1 x 2 classes x 2 x 2
    label, weight = get_pseudo_label_and_weight(logits, 0.5)
    assert label.tolist() == [[[0, 0], [1, 0]]]  # ties go to the first class
    assert torch.equal(weight, torch.ones(1, 2, 2))  # 4 of 4 >= 0.5 (strict > gives 2 of 4)
    # The threshold equal to the confidence of the (2, 0) pixel: it and the (0, 3) pixel count.
    at_pixel = torch.softmax(torch.tensor([2., 0.]), 0)[0].item()
    _, weight = get_pseudo_label_and_weight(logits, at_pixel)
    assert torch.equal(weight, torch.full((1, 2, 2), 0.5))
    # The next float32 above it: only the (0, 3) pixel is left.
    above = float(torch.nextafter(torch.tensor(at_pixel), torch.tensor(1.0)))
    _, weight = get_pseudo_label_and_weight(logits, above)
    assert torch.equal(weight, torch.full((1, 2, 2), 0.25))


def test_denorm_and_renorm_by_hand():
    mean = torch.tensor([100., 50., 0.]).view(1, 3, 1, 1)
    std = torch.tensor([2., 4., 5.]).view(1, 3, 1, 1)
    img = torch.tensor([10., -5., 51.]).view(1, 3, 1, 1)
    # (10·2 + 100) / 255, (−5·4 + 50) / 255, (51·5 + 0) / 255
    rgb = torch.tensor([120., 30., 255.]).view(1, 3, 1, 1) / 255
    assert torch.allclose(denorm(img, mean, std), rgb)
    assert torch.allclose(renorm(rgb, mean, std), img, atol=1e-5)


def test_filter_valid_pseudo_region_one_bottom_row():
    out = filter_valid_pseudo_region(torch.ones(1, 3, 2), 0, 1, None)
    assert out[0].tolist() == [[1, 1], [1, 1], [0, 0]]


def test_class_masks_of_an_odd_number_of_classes():
    # 3 classes in the batch -> (3 + 1) // 2 = 2 of them pasted, in every draw.
    labels = torch.tensor([0, 4, 7]).view(1, 1, 1, 3).repeat(2, 1, 2, 1)
    torch.manual_seed(0)
    for _ in range(10):
        masks = get_class_masks(labels)
        assert masks.dtype == torch.float32
        assert torch.all(masks.sum(dim=(1, 2, 3)) == 2 * 2)  # 2 classes × 2 rows


def test_filter_valid_pseudo_region():
    weight = torch.full((2, 6, 4), 0.5)
    out = filter_valid_pseudo_region(weight, 1, 2, None)
    assert torch.all(out[:, 0] == 0) and torch.all(out[:, 4:] == 0)
    assert torch.all(out[:, 1:4] == 0.5)
    assert torch.all(weight == 0.5)  # input untouched
    valid = torch.ones(2, 1, 6, 4)
    valid[1, 0, :, 0] = 0
    out = filter_valid_pseudo_region(weight, 0, 0, valid)
    assert torch.all(out[1, :, 0] == 0) and out[0].sum() == 0.5 * 24 and out[1].sum() == 0.5 * 18
    # Both set: rows zeroed and the mask applied.
    out = filter_valid_pseudo_region(weight, 1, 0, valid)
    assert torch.all(out[:, 0] == 0) and torch.all(out[1, :, 0] == 0)
    assert out[0].sum() == 0.5 * 20 and out[1].sum() == 0.5 * 15


def test_class_masks_choose_half_of_batch_classes():
    torch.manual_seed(0)
    labels = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 255]]).view(2, 1, 1, 4)
    labels = labels.repeat(1, 1, 3, 1)  # B x 1 x 3 x 4
    for _ in range(20):
        masks = get_class_masks(labels)
        assert masks.shape == (2, 1, 3, 4)
        for image, mask in zip(labels, masks):
            # 4 classes in the batch (0, 1, 2, 255) -> exactly 2 chosen: the mask must be the
            # union of whole classes of this image, and never a partial class.
            for value in image.unique():
                inside = mask[image == value]
                assert torch.all(inside == inside[0])
    # Over many draws, each image gets exactly (n + n % 2) / 2 classes: count them with a
    # label batch where every image holds every class.
    full = torch.tensor([0, 3, 5, 255, 9]).view(1, 1, 1, 5).repeat(2, 1, 2, 1)  # 5 classes -> 3
    seen = set()
    for _ in range(30):
        masks = get_class_masks(full)
        for mask in masks:
            chosen = tuple(sorted(full[0, 0, 0][mask[0, 0].bool()].tolist()))
            assert len(chosen) == 3
            seen.add(chosen)
    assert len(seen) > 3  # really random


def test_one_mix_images_labels_weights():
    mask = torch.tensor([[1., 0.], [0., 1.]]).view(1, 1, 2, 2)
    src = torch.ones(1, 3, 2, 2)
    trg = torch.zeros(1, 3, 2, 2)
    mixed = one_mix(mask, src, trg)
    assert torch.equal(mixed[0, 2], mask[0, 0])
    lbl = one_mix(mask, torch.full((1, 1, 2, 2), 4), torch.full((1, 1, 2, 2), 9))
    assert lbl.dtype == torch.int64 and lbl.tolist() == [[[[4, 9], [9, 4]]]]
    weight = one_mix(mask[:, 0], torch.ones(1, 2, 2), torch.full((1, 2, 2), 0.3))
    assert torch.allclose(weight, torch.tensor([[[1., 0.3], [0.3, 1.]]]))


@pytest.mark.parametrize('side,expected', [(512, 51), (1024, 103), (64, 7), (256, 25), (30, 3),
                                           (100, 9), (90, 9)])
def test_blur_kernel_size(side, expected):
    # the odd number nearest to 0.1 * side, from docs/REFERENCE.md's floor(ceil(.1s) - .5 + ceil(.1s) % 2)
    tenth = math.ceil(0.1 * side)
    assert blur_kernel_size(side) == expected == math.floor(tenth - 0.5 + tenth % 2)
    assert expected % 2 == 1


def test_gaussian_blur_only_above_half():
    torch.manual_seed(0)
    img = torch.zeros(2, 3, 64, 64)
    img[:, :, 32, 32] = 1.0
    assert torch.equal(gaussian_blur(img, 0.4), img)
    blurred = gaussian_blur(img, 0.9)
    assert blurred.shape == img.shape
    assert blurred[0, 0, 32, 32] < 1.0 and blurred[0, 0, 32, 33] > 0
    assert torch.allclose(blurred.sum(dim=(2, 3)), img.sum(dim=(2, 3)), atol=1e-4)


def test_gaussian_blur_sigma_per_image_or_per_batch():
    # Two identical impulse images: one sigma per image blurs them differently (almost
    # surely), one sigma for the batch blurs them alike (MIC's augmented batch).
    img = torch.zeros(2, 1, 32, 32)
    img[:, :, 16, 16] = 1.0
    torch.manual_seed(0)
    per_image = gaussian_blur(img, 0.9)
    assert not torch.allclose(per_image[0], per_image[1])
    torch.manual_seed(0)
    per_batch = gaussian_blur(img, 0.9, same_on_batch=True)
    assert torch.equal(per_batch[0], per_batch[1])
    assert per_batch[0, 0, 16, 16] < 1.0


def test_color_jitter_in_rgb_space():
    torch.manual_seed(0)
    metas = [dict(img_norm_cfg=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                                    to_rgb=True))] * 2
    mean, std = get_mean_std(metas, torch.device('cpu'))
    assert mean.shape == (2, 3, 1, 1) and std[0, 1, 0, 0] == pytest.approx(57.12)
    img = torch.randn(2, 3, 16, 16)
    assert torch.equal(color_jitter(img, mean, std, 0.2, 0.2, 0.1), img)  # u <= p: off
    out = color_jitter(img, mean, std, 0.2, 0.2, 0.5)
    assert not torch.allclose(out, img)
    # jitter works in [0, 1] RGB: the output de-normalises into [0, 1]
    rgb = (out * std + mean) / 255
    assert rgb.min() >= -1e-4 and rgb.max() <= 1 + 1e-4
    with pytest.raises(KeyError, match='img_norm_cfg'):
        get_mean_std([dict(filename='a.png')], torch.device('cpu'))


def test_downscale_label_ratio_by_hand():
    gt = torch.full((1, 1, 4, 4), 255)
    gt[0, 0, :2, :2] = torch.tensor([[3, 3], [3, 7]])  # 3 at 75 %
    gt[0, 0, :2, 2:] = torch.tensor([[3, 3], [7, 7]])  # tie 50 %: below 0.75
    gt[0, 0, 2:, :2] = 11  # 100 %
    # bottom-right stays ignore (100 % ignore)
    out = downscale_label_ratio(gt, 2, 0.75, 19)
    assert out.shape == (1, 1, 2, 2) and out.dtype == torch.int64
    assert out[0, 0].tolist() == [[3, 255], [11, 255]]
    # without a minimum ratio, the majority wins (ties resolved to one of the tied classes)
    out = downscale_label_ratio(gt, 2, None, 19)
    assert out[0, 0, 0, 0] == 3 and out[0, 0, 0, 1] in (3, 7) and out[0, 0, 1, 1] == 255


def test_thing_class_feature_distance_by_loop():
    torch.manual_seed(0)
    gt = torch.randint(0, 19, (2, 1, 8, 8))
    gt[0, 0, :4, :4] = 13
    low = downscale_label_ratio(gt, 4, 0.75, 19)
    mask = class_mask(low, THINGS)
    assert mask.shape == (2, 1, 2, 2) and mask[0, 0, 0, 0]
    feat = torch.randn(2, 5, 2, 2)
    ref = torch.randn(2, 5, 2, 2)
    distances = []
    for b in range(2):
        for y in range(2):
            for x in range(2):
                if low[b, 0, y, x].item() in THINGS:
                    diff = feat[b, :, y, x] - ref[b, :, y, x]
                    distances.append(math.sqrt(float((diff ** 2).sum())))
    expected = sum(distances) / len(distances)
    assert masked_feat_dist(feat, ref, mask).item() == pytest.approx(expected, rel=1e-5)
    all_pixels = torch.sqrt(((feat - ref) ** 2).sum(1)).mean()
    assert masked_feat_dist(feat, ref).item() == pytest.approx(all_pixels.item(), rel=1e-5)
    empty = torch.zeros_like(mask)
    assert masked_feat_dist(feat, ref, empty).item() == 0

"""DACS tensor maths: pseudo-labels and weights, ClassMix, strong augmentation (docs/REFERENCE.md §3.3).

Images are B x 3 x H x W, normalised RGB; labels B x 1 x H x W long; weights B x H x W float.
"""
import math

import kornia
import torch

from .mixed_precision import float32

__all__ = [
    'get_mean_std', 'denorm', 'renorm', 'get_pseudo_label_and_weight',
    'filter_valid_pseudo_region', 'get_class_masks', 'one_mix', 'blur_kernel_size',
    'color_jitter', 'gaussian_blur', 'strong_transform'
]


def get_mean_std(img_metas, device):
    """Per-image normalisation mean and std from img_metas[i]['img_norm_cfg'] (B x 3 x 1 x 1)."""
    means, stds = [], []
    for index, meta in enumerate(img_metas):
        if 'img_norm_cfg' not in meta:
            raise KeyError(f"img_metas[{index}] has no 'img_norm_cfg' (keys: {sorted(meta)}): "
                           "add 'img_norm_cfg' to Collect's meta_keys (docs/REFERENCE.md §1.2)")
        means.append(torch.as_tensor(meta['img_norm_cfg']['mean'], dtype=torch.float32))
        stds.append(torch.as_tensor(meta['img_norm_cfg']['std'], dtype=torch.float32))
    mean = torch.stack(means).view(-1, 3, 1, 1).to(device)
    std = torch.stack(stds).view(-1, 3, 1, 1).to(device)
    return mean, std


def denorm(img, mean, std):
    """Normalised image -> RGB in [0, 1]."""
    return (img * std + mean) / 255.0


def renorm(img, mean, std):
    """RGB in [0, 1] -> normalised image."""
    return (img * 255.0 - mean) / std


@torch.no_grad()
def get_pseudo_label_and_weight(logits, pseudo_threshold):
    """Pseudo-label = argmax of the softmax; weight = fraction of confident pixels (docs/REFERENCE.md §3.3.4).

    logits: B x C x H x W. Returns the label (B x H x W long) and the weight (B x H x W), one
    scalar for the whole batch broadcast to every pixel; all ones when pseudo_threshold is None.
    """
    logits, full_precision = float32(logits.detach())  # bf16/fp16 logits under autocast
    with full_precision:
        probs = torch.softmax(logits, dim=1)
    confidence, pseudo_label = torch.max(probs, dim=1)
    if pseudo_threshold is None:
        return pseudo_label, torch.ones_like(confidence)
    confident_fraction = (confidence >= pseudo_threshold).float().mean()
    pseudo_weight = confident_fraction * torch.ones_like(confidence)
    return pseudo_label, pseudo_weight


def filter_valid_pseudo_region(pseudo_weight, ignore_top, ignore_bottom, valid_pseudo_mask=None):
    """Zero the weight of the top/bottom rows and multiply by valid_pseudo_mask (B x 1 x H x W)
    when given; the configs use one or the other, the original applies both when both are set.

    The rows are cropped because rectification artefacts at the image border make pseudo-labels
    drift (e.g. sky towards building); the mask is the newer form of the same idea (docs/REFERENCE.md §1).
    """
    pseudo_weight = pseudo_weight.clone()
    if ignore_top > 0:
        pseudo_weight[:, :ignore_top, :] = 0
    if ignore_bottom > 0:
        pseudo_weight[:, -ignore_bottom:, :] = 0
    if valid_pseudo_mask is not None:
        pseudo_weight = pseudo_weight * valid_pseudo_mask.squeeze(1).to(pseudo_weight.dtype)
    return pseudo_weight


def get_class_masks(labels):
    """ClassMix masks (docs/REFERENCE.md §3.3.5): B x 1 x H x W float, 1 where the source pixel is pasted.

    For each image, half (rounded up) of the classes present in the WHOLE label batch (255
    included) are chosen without replacement; the mask is that image's label in the chosen set.
    """
    classes = torch.unique(labels)
    num_classes = classes.numel()
    num_chosen = (num_classes + num_classes % 2) // 2
    masks = []
    for label in labels:
        choice = torch.randperm(num_classes)[:num_chosen].to(classes.device)
        masks.append(torch.isin(label, classes[choice]))
    return torch.stack(masks).to(torch.float32)


def one_mix(mask, first, second):
    """mask * first + (1 - mask) * second for a binary mask broadcast over channels.

    Works for images, labels and weights alike (the dtype of ``first`` is kept).
    """
    return torch.where(mask.bool(), first, second.to(first.dtype))


def blur_kernel_size(side):
    """Blur kernel size for an image side: the odd number nearest to 0.1 * side (docs/REFERENCE.md §3.3.5)."""
    tenth = math.ceil(0.1 * side)
    return int(math.floor(tenth - 0.5 + tenth % 2))


@torch.no_grad()
def color_jitter(img, mean, std, strength, probability, draw):
    """kornia colour jitter (brightness = contrast = saturation = hue = strength) if draw > p.

    Applied in [0, 1] RGB space (denormalise, jitter, renormalise); each image gets its own
    random jitter parameters.
    """
    if draw <= probability:
        return img
    # The original ran kornia 0.5, whose ColorJitter formulas (additive brightness, ...) newer
    # kornia keeps as ColorJiggle; its ColorJitter now follows torchvision's.
    jitter_cls = getattr(kornia.augmentation, 'ColorJiggle', kornia.augmentation.ColorJitter)
    jitter = jitter_cls(brightness=strength, contrast=strength, saturation=strength, hue=strength)
    return renorm(jitter(denorm(img, mean, std)), mean, std)


@torch.no_grad()
def gaussian_blur(img, draw, same_on_batch=False):
    """Gaussian blur with sigma ~ U(0.15, 1.15) if draw > 0.5 (docs/REFERENCE.md §3.3.5): one sigma per image
    (DACS blurs each mixed image on its own) or one for the batch (MIC's augmented inputs)."""
    if draw <= 0.5:
        return img
    kernel_size = (blur_kernel_size(img.shape[2]), blur_kernel_size(img.shape[3]))
    num_sigmas = 1 if same_on_batch else img.shape[0]
    sigma = 0.15 + torch.rand(num_sigmas, 1, device=img.device, dtype=img.dtype)
    sigma = sigma.expand(img.shape[0], 1)
    sigma = sigma.expand(-1, 2).contiguous()
    return kornia.filters.gaussian_blur2d(img, kernel_size, sigma)


def strong_transform(img, mean, std, jitter_draw, jitter_strength, jitter_probability,
                     blur_draw, same_blur_on_batch=False):
    """DACS strong augmentation of a normalised image batch: colour jitter, then blur.

    jitter_draw and blur_draw are the uniform numbers drawn once per iteration that decide
    whether each augmentation happens (blur_draw = 0 disables the blur).
    """
    img = color_jitter(img, mean, std, jitter_strength, jitter_probability, jitter_draw)
    return gaussian_blur(img, blur_draw, same_on_batch=same_blur_on_batch)

"""DAFormer's ImageNet feature distance (docs/REFERENCE.md §3.3 step 3): label downscaling and masked L2."""
import torch
import torch.nn.functional as F

__all__ = ['downscale_label_ratio', 'class_mask', 'masked_feat_dist']


def downscale_label_ratio(gt, scale_factor, min_ratio, num_classes, ignore_index=255):
    """Downscale a label map B x 1 x H x W by an integer factor by majority vote.

    One-hot with ignore as an extra class, average-pool with kernel = stride = scale_factor,
    take the majority class and its pixel fraction; fraction < min_ratio -> ignore_index.
    Returns B x 1 x H/s x W/s long.
    """
    if gt.dim() != 4 or gt.shape[1] != 1:
        raise ValueError(f'expected a label batch B x 1 x H x W, got shape {tuple(gt.shape)}')
    if int(scale_factor) != scale_factor or scale_factor < 1:
        raise ValueError(f'scale_factor must be a positive integer, got {scale_factor}')
    scale_factor = int(scale_factor)
    ignore_class = num_classes
    label = gt.squeeze(1).long().clone()
    label[label == ignore_index] = ignore_class
    if label.min() < 0 or label.max() > ignore_class:
        raise ValueError(f'labels must lie in [0, {num_classes - 1}] or be {ignore_index}, got '
                         f'values in [{int(gt.min())}, {int(gt.max())}]')
    one_hot = F.one_hot(label, num_classes + 1).permute(0, 3, 1, 2).float()
    fractions = F.avg_pool2d(one_hot, kernel_size=scale_factor)
    majority_fraction, majority_class = fractions.max(dim=1, keepdim=True)
    majority_class[majority_class == ignore_class] = ignore_index
    if min_ratio is not None:
        majority_class[majority_fraction < min_ratio] = ignore_index
    return majority_class


def class_mask(label, classes):
    """Boolean mask of the pixels whose label is one of ``classes`` (same shape as label)."""
    classes = torch.as_tensor(list(classes), device=label.device, dtype=label.dtype)
    return torch.isin(label, classes)


def masked_feat_dist(feat, feat_ref, mask=None):
    """Mean over the (masked) pixels of the L2 norm over channels of feat - feat_ref.

    feat, feat_ref: B x C x h x w; mask: B x 1 x h x w bool or None (all pixels). An empty mask
    gives 0 (no thing-class pixel in the batch), not NaN.
    """
    distance = torch.norm(feat.float() - feat_ref.float(), p=2, dim=1)  # float32 under autocast
    if mask is None:
        return distance.mean()
    selected = distance[mask.squeeze(1)]
    if selected.numel() == 0:
        return distance.sum() * 0
    return selected.mean()

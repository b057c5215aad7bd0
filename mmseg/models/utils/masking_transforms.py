"""MIC's random block masking (docs/REFERENCE.md §3.4)."""
import torch

from mmseg.ops import resize

__all__ = ['BlockMaskGenerator', 'build_mask_generator']


class BlockMaskGenerator:
    """Masks square blocks of side ``mask_block_size`` px, each with probability ``mask_ratio``."""

    def __init__(self, mask_ratio, mask_block_size):
        if not 0 <= mask_ratio <= 1:
            raise ValueError(f'mask_ratio must lie in [0, 1], got {mask_ratio}')
        if mask_block_size < 1:
            raise ValueError(f'mask_block_size must be >= 1, got {mask_block_size}')
        self.mask_ratio = mask_ratio
        self.mask_block_size = mask_block_size

    @torch.no_grad()
    def generate_mask(self, imgs):
        """Binary mask B x 1 x H x W (1 = keep), constant over each block and every channel."""
        batch, _, height, width = imgs.shape
        grid = (batch, 1, round(height / self.mask_block_size), round(width / self.mask_block_size))
        keep = (torch.rand(grid, device=imgs.device) > self.mask_ratio).to(imgs.dtype)
        return resize(keep, size=(height, width))

    @torch.no_grad()
    def mask_image(self, imgs):
        """imgs x mask: masked pixels become 0, the mean colour in normalised space."""
        return imgs * self.generate_mask(imgs)


def build_mask_generator(cfg):
    """``dict(type='block', mask_ratio, mask_block_size)`` -> BlockMaskGenerator (None -> None)."""
    if cfg is None:
        return None
    cfg = dict(cfg)
    mask_type = cfg.pop('type', None)
    if mask_type != 'block':
        raise ValueError(f"mask_generator type must be 'block', got {mask_type!r}")
    try:
        return BlockMaskGenerator(**cfg)
    except TypeError as error:
        raise TypeError(f'mask_generator {cfg}: expected keys mask_ratio and mask_block_size '
                        f'({error})') from None

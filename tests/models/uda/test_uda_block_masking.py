"""MIC block masks (docs/REFERENCE.md §3.4)."""
import pytest
import torch

from mmseg.models.utils import BlockMaskGenerator, build_mask_generator


def test_block_mask_aligned_and_same_on_channels():
    torch.manual_seed(0)
    gen = BlockMaskGenerator(mask_ratio=0.5, mask_block_size=16)
    imgs = torch.randn(3, 3, 64, 96) + 5  # no pixel is 0 before masking
    masked = gen.mask_image(imgs)
    zero = masked == 0
    # same mask on every channel
    assert torch.equal(zero[:, 0], zero[:, 1]) and torch.equal(zero[:, 0], zero[:, 2])
    # constant inside each 16 x 16 block
    blocks = zero[:, 0].view(3, 4, 16, 6, 16)
    per_block = blocks.float().mean(dim=(2, 4))
    assert torch.all((per_block == 0) | (per_block == 1))
    kept = ~zero
    assert torch.equal(masked[kept], imgs[kept])


def test_block_mask_grid_rounds_and_ratio_over_many_draws():
    torch.manual_seed(0)
    gen = BlockMaskGenerator(mask_ratio=0.7, mask_block_size=32)
    mask = gen.generate_mask(torch.zeros(2, 3, 80, 48))  # round(2.5) = 2, round(1.5) = 2
    assert mask.shape == (2, 1, 80, 48)
    fractions = [1 - gen.generate_mask(torch.zeros(8, 3, 128, 128)).mean().item()
                 for _ in range(50)]
    assert sum(fractions) / len(fractions) == pytest.approx(0.7, abs=0.03)


def test_build_mask_generator():
    cfg = dict(type='block', mask_ratio=0.7, mask_block_size=64)
    gen = build_mask_generator(cfg)
    assert gen.mask_ratio == 0.7 and gen.mask_block_size == 64
    assert cfg['type'] == 'block'  # the config is not consumed
    assert build_mask_generator(None) is None
    with pytest.raises(ValueError, match="'block'"):
        build_mask_generator(dict(type='random', mask_ratio=0.5))
    with pytest.raises(TypeError, match='mask_block_size'):
        build_mask_generator(dict(type='block', ratio=0.5))


@pytest.mark.parametrize('mask_ratio', [0.3, 0.8])
def test_block_mask_keeps_blocks_whose_draw_exceeds_the_ratio(mask_ratio):
    # 48×80 image, 16 px blocks: a 3×5 grid per image. A block is masked with probability
    # mask_ratio: kept where its uniform draw exceeds the ratio (the draws replayed by hand).
    gen = BlockMaskGenerator(mask_ratio=mask_ratio, mask_block_size=16)
    torch.manual_seed(3)
    mask = gen.generate_mask(torch.zeros(4, 3, 48, 80))
    torch.manual_seed(3)
    draws = torch.rand(4, 1, 3, 5)
    expected = (draws > mask_ratio).float().repeat_interleave(16, 2).repeat_interleave(16, 3)
    assert torch.equal(mask, expected)
    # The masked share is the ratio, not its complement (60 blocks, seeded).
    assert 1 - mask.mean().item() == pytest.approx(mask_ratio, abs=0.15)


def test_block_mask_ratio_zero_keeps_everything_and_one_masks_everything():
    imgs = torch.randn(2, 3, 32, 48)
    assert torch.equal(BlockMaskGenerator(0.0, 16).mask_image(imgs), imgs)
    assert torch.equal(BlockMaskGenerator(1.0, 16).mask_image(imgs), torch.zeros_like(imgs))

"""init_segmentor: a palette given in the config (data.test.palette) is drawn instead of the
checkpoint's (docs/CHECKS.md)."""
import mmcv
import torch

from mmseg.apis import init_segmentor
from mmseg.models import build_segmentor

SEGMENTOR = dict(
    type='EncoderDecoder', pretrained=None,
    backbone=dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64], num_heads=[1, 1, 2, 4],
                  depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1]),
    decode_head=dict(type='SegFormerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3],
                     channels=16, num_classes=2, decoder_params=dict(embed_dim=16),
                     loss_decode=dict(type='CrossEntropyLoss')),
    train_cfg=dict(), test_cfg=dict(mode='whole'))


def test_palette_of_the_config_wins_over_the_checkpoints(tmp_path):
    model = build_segmentor(mmcv.ConfigDict(SEGMENTOR))
    checkpoint = dict(state_dict=model.state_dict(),
                      meta=dict(CLASSES=('a', 'b'), PALETTE=[[1, 1, 1], [2, 2, 2]]))
    torch.save(checkpoint, tmp_path / 'm.pth')
    plain = mmcv.Config(dict(model=SEGMENTOR))
    assert init_segmentor(plain, str(tmp_path / 'm.pth'), device='cpu').PALETTE == \
        [[1, 1, 1], [2, 2, 2]]
    edited = mmcv.Config(dict(model=SEGMENTOR, data=dict(test=dict(palette=[[9, 9, 9],
                                                                            [8, 8, 8]]))))
    loaded = init_segmentor(edited, str(tmp_path / 'm.pth'), device='cpu')
    assert loaded.PALETTE == [[9, 9, 9], [8, 8, 8]] and loaded.CLASSES == ('a', 'b')
    given = init_segmentor(edited, str(tmp_path / 'm.pth'), device='cpu', palette=[[5, 5, 5]] * 2)
    assert given.PALETTE == [[5, 5, 5]] * 2

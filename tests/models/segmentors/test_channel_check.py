"""Build-time check of the decode head's in_channels against the backbone's outputs."""
import pytest
import torch

from mmseg.models import build_segmentor
from mmseg.models.builder import build_backbone
from mmseg.models.utils import backbone_out_channels

TINY_MIT = dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64], num_heads=[1, 1, 2, 4],
                depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1])


def _daformer_head(in_channels):
    return dict(type='DAFormerHead', in_channels=in_channels, in_index=[0, 1, 2, 3],
                channels=16, num_classes=19, norm_cfg=dict(type='BN', requires_grad=True),
                decoder_params=dict(embed_dims=16, embed_cfg=dict(type='mlp', act_cfg=None,
                                                                  norm_cfg=None),
                                    embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                    fusion_cfg=dict(type='conv', kernel_size=1,
                                                    act_cfg=dict(type='ReLU'),
                                                    norm_cfg=dict(type='BN',
                                                                  requires_grad=True))))


@pytest.mark.parametrize('backbone', [
    TINY_MIT,
    dict(type='ResNetV1c', depth=50, base_channels=8, stem_channels=8, out_indices=(1, 3)),
])
def test_backbone_out_channels_match_a_forward_pass(backbone):
    net = build_backbone(backbone).eval()
    with torch.no_grad():
        outputs = net(torch.zeros(1, 3, 64, 64))
    assert backbone_out_channels(net) == [o.shape[1] for o in outputs]


def test_mismatched_head_fails_at_build_time_naming_both_sides():
    model = dict(type='EncoderDecoder', backbone=TINY_MIT,
                 decode_head=_daformer_head([64, 128, 320, 512]))
    with pytest.raises(ValueError) as error:
        build_segmentor(model)
    message = str(error.value)
    assert 'decode_head.in_channels [64, 128, 320, 512]' in message
    assert 'MixVisionTransformer' in message and '[8, 16, 32, 64]' in message
    build_segmentor(dict(model, decode_head=_daformer_head([8, 16, 32, 64])))  # fits


def test_in_index_beyond_the_backbone_outputs_is_named():
    head = dict(_daformer_head([8, 16, 32, 64]), in_index=[1, 2, 3, 4])
    with pytest.raises(ValueError, match=r'in_index \[1, 2, 3, 4\] reads feature maps'):
        build_segmentor(dict(type='EncoderDecoder', backbone=TINY_MIT, decode_head=head))

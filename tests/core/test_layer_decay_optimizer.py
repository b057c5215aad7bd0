"""LayerDecayOptimizerConstructor: lr x rate^(L + 1 - layer) per ViT block, custom keys on top."""
import pytest
import torch.nn as nn
from mmcv.runner import build_optimizer

import mmseg.core  # noqa: F401  (registers the constructor)
from mmseg.core.optimizers import get_vit_layer_id
from mmseg.models import build_backbone


class TinySegmentor(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = build_backbone(dict(
            type='TIMMBackbone', model_name='vit_small_patch14_dinov2', embed_dim=16, depth=3,
            num_heads=2, img_size=28))
        self.decode_head = nn.Conv2d(16, 3, 1)


def lr_by_name(model, optimizer):
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(g['params'][0])]: g['lr'] for g in optimizer.param_groups}


def test_layer_ids():
    assert get_vit_layer_id('model.backbone.timm_model.blocks.4.attn.qkv.weight', 12) == 5
    assert get_vit_layer_id('backbone.timm_model.pos_embed', 12) == 0
    assert get_vit_layer_id('ema_model.backbone.timm_model.cls_token', 12) == 0
    assert get_vit_layer_id('backbone.timm_model.norm.weight', 12) == 13
    assert get_vit_layer_id('decode_head.conv_seg.weight', 12) == 13


def test_learning_rates_by_hand():
    model = TinySegmentor()
    optimizer = build_optimizer(model, dict(
        type='AdamW', lr=1.0, constructor='LayerDecayOptimizerConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.5, custom_keys=dict(head=dict(lr_mult=10.0)))))
    lrs = lr_by_name(model, optimizer)
    # L = 3 blocks: stem 0.5^4, block i 0.5^(3 - i), final norm 1, head 10 x 1.
    assert lrs['backbone.timm_model.patch_embed.proj.weight'] == 0.0625
    assert lrs['backbone.timm_model.cls_token'] == 0.0625
    assert lrs['backbone.timm_model.blocks.0.attn.qkv.weight'] == 0.125
    assert lrs['backbone.timm_model.blocks.2.mlp.fc1.bias'] == 0.5
    assert lrs['backbone.timm_model.norm.weight'] == 1.0
    assert lrs['decode_head.weight'] == 10.0
    assert len(lrs) == len(list(model.parameters()))


def test_rate_one_is_plain_constructor_and_bad_rate_raises():
    model = TinySegmentor()
    optimizer = build_optimizer(model, dict(type='AdamW', lr=0.1,
                                            constructor='LayerDecayOptimizerConstructor'))
    assert set(lr_by_name(model, optimizer).values()) == {0.1}
    with pytest.raises(ValueError, match='layer_decay_rate must be in'):
        build_optimizer(model, dict(type='AdamW', lr=0.1,
                                    constructor='LayerDecayOptimizerConstructor',
                                    paramwise_cfg=dict(layer_decay_rate=1.5)))
    with pytest.raises(ValueError, match='no backbone blocks'):
        build_optimizer(nn.Linear(2, 2), dict(type='AdamW', lr=0.1,
                                              constructor='LayerDecayOptimizerConstructor',
                                              paramwise_cfg=dict(layer_decay_rate=0.9)))

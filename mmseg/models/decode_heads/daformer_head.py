"""DAFormer's decoder: per-level embeddings, resize to stride 4, context-aware fusion (docs/REFERENCE.md §2.2)."""
import copy

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmseg.ops import resize
from ..builder import HEADS
from .aspp_head import ASPPWrapper
from .decode_head import BaseDecodeHead

__all__ = ['MLPEmbedding', 'DAFormerHead']


class MLPEmbedding(nn.Module):
    """One Linear on the flattened tokens: B×C×H×W → B×embed_dim×H×W."""

    def __init__(self, input_dim, embed_dim):
        super().__init__()
        self.proj = nn.Linear(input_dim, embed_dim)

    def forward(self, x):
        b, _, h, w = x.shape
        tokens = self.proj(x.flatten(2).transpose(1, 2))
        # A contiguous NCHW map, not a channels-last view of the tokens: the resize, concat and
        # (dilated, depth-wise) fusion convs downstream would inherit the channels-last layout,
        # in which oneDNN's dilated depth-wise conv is up to ~10x slower on CPU.
        return tokens.transpose(1, 2).reshape(b, -1, h, w).contiguous()


def build_embedding_layer(in_channels, embed_dims, cfg):
    """'mlp' (a Linear per token; norm_cfg/act_cfg must be None) or 'conv' (a ConvModule)."""
    cfg = copy.deepcopy(cfg)
    layer_type = cfg.pop('type')
    if layer_type == 'mlp':
        if cfg.get('norm_cfg') is not None or cfg.get('act_cfg') is not None:
            raise ValueError(f'embedding type mlp takes no norm_cfg/act_cfg, got {cfg}')
        return MLPEmbedding(in_channels, embed_dims)
    if layer_type == 'conv':
        kernel_size = cfg.pop('kernel_size', 1)
        return ConvModule(in_channels, embed_dims, kernel_size, padding=kernel_size // 2, **cfg)
    raise ValueError(f"DAFormerHead embedding type must be 'mlp' or 'conv', got {layer_type!r}")


def build_fusion_layer(in_channels, channels, cfg, align_corners):
    """'conv' (ConvModule, keys fuse_layer.conv/bn) or 'aspp' (ASPPWrapper, docs/REFERENCE.md §2.2)."""
    cfg = copy.deepcopy(cfg)
    layer_type = cfg.pop('type')
    if layer_type == 'conv':
        kernel_size = cfg.pop('kernel_size', 1)
        return ConvModule(in_channels, channels, kernel_size, padding=kernel_size // 2, **cfg)
    if layer_type == 'aspp':
        return ASPPWrapper(in_channels, channels, align_corners=align_corners, **cfg)
    raise ValueError(f"DAFormerHead fusion type must be 'conv' or 'aspp', got {layer_type!r}")


@HEADS.register_module()
class DAFormerHead(BaseDecodeHead):
    """inputs: 4 maps (strides 4..32) → logits B×num_classes×H/4×W/4.

    decoder_params: embed_dims, embed_cfg, embed_neck_cfg (the last level), fusion_cfg.
    """

    def __init__(self, **kwargs):
        super().__init__(input_transform='multiple_select', **kwargs)
        if not self.decoder_params:
            raise ValueError('DAFormerHead needs decoder_params with embed_dims, embed_cfg, '
                             'embed_neck_cfg and fusion_cfg')
        missing = {'embed_dims', 'embed_cfg', 'embed_neck_cfg', 'fusion_cfg'} - set(
            self.decoder_params)
        if missing:
            raise ValueError(f'DAFormerHead decoder_params lacks {sorted(missing)}')
        embed_dims = self.decoder_params['embed_dims']
        embed_cfg = self.decoder_params['embed_cfg']
        embed_neck_cfg = self.decoder_params['embed_neck_cfg']
        num_levels = len(self.in_index)
        self.embed_layers = nn.ModuleDict({
            str(i): build_embedding_layer(
                in_c, embed_dims, embed_neck_cfg if level == num_levels - 1 else embed_cfg)
            for level, (i, in_c) in enumerate(zip(self.in_index, self.in_channels))
        })
        self.fuse_layer = build_fusion_layer(num_levels * embed_dims, self.channels,
                                             self.decoder_params['fusion_cfg'],
                                             self.align_corners)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        # Every level is embedded and brought to the size of the finest map (stride 4).
        target_size = x[0].shape[2:]
        embedded = []
        for i, feat in zip(self.in_index, x):
            emb = self.embed_layers[str(i)](feat)
            if emb.shape[2:] != target_size:
                emb = resize(emb, size=target_size, mode='bilinear',
                             align_corners=self.align_corners, float32=self.fp32_upsample)
            embedded.append(emb)
        return self.cls_seg(self.fuse_layer(torch.cat(embedded, dim=1)))

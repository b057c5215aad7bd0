"""SegFormer's all-MLP decoder (docs/REFERENCE.md §2.2)."""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmseg.ops import resize
from ..builder import HEADS
from .daformer_head import MLPEmbedding
from .decode_head import BaseDecodeHead

__all__ = ['SegFormerHead']


@HEADS.register_module()
class SegFormerHead(BaseDecodeHead):
    """inputs: 4 maps → logits B×num_classes×H/4×W/4 via ``linear_pred``.

    decoder_params: embed_dim (768 for B5). ``conv_seg`` of the base class stays unused (it
    exists in the original checkpoints, docs/REFERENCE.md §2.2's parameter count includes it).
    """

    def __init__(self, **kwargs):
        super().__init__(input_transform='multiple_select', **kwargs)
        if not self.decoder_params or 'embed_dim' not in self.decoder_params:
            raise ValueError('SegFormerHead needs decoder_params=dict(embed_dim=...)')
        embed_dim = self.decoder_params['embed_dim']
        self.linear_c = nn.ModuleDict({
            str(i): MLPEmbedding(in_c, embed_dim)
            for i, in_c in zip(self.in_index, self.in_channels)
        })
        self.linear_fuse = ConvModule(len(self.in_index) * embed_dim, embed_dim, 1,
                                      norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.linear_pred = nn.Conv2d(embed_dim, self.num_classes, kernel_size=1)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        target_size = x[0].shape[2:]
        embedded = []
        for i, feat in zip(self.in_index, x):
            emb = self.linear_c[str(i)](feat)
            if emb.shape[2:] != target_size:
                emb = resize(emb, size=target_size, mode='bilinear',
                             align_corners=self.align_corners, float32=self.fp32_upsample)
            embedded.append(emb)
        fused = self.linear_fuse(torch.cat(embedded, dim=1))
        if self.dropout is not None:
            fused = self.dropout(fused)
        return self.linear_pred(fused)

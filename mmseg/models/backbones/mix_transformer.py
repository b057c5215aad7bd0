"""Mix Transformer (MiT) backbones of SegFormer, mit_b0 ... mit_b5 (docs/REFERENCE.md §2.1).

Module and parameter names follow SegFormer's ImageNet checkpoints exactly, so that
``pretrained/mit_b5.pth`` loads without renaming.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmcv.runner import BaseModule

from ..builder import BACKBONES
from .checkpoint_loading import load_pretrained_weights

__all__ = ['MixVisionTransformer', 'mit_b0', 'mit_b1', 'mit_b2', 'mit_b3', 'mit_b4', 'mit_b5']

MIT_DOWNLOAD_HINT = ("download SegFormer's ImageNet-pretrained MiT weights (mit_b0.pth ... "
                     "mit_b5.pth) into pretrained/")


def _block_norm(dim):
    # Block and stage norms use eps 1e-6 (docs/REFERENCE.md §2.1); the patch-embedding norm and the
    # reduction norm of the attention keep LayerNorm's default eps, as in SegFormer.
    return nn.LayerNorm(dim, eps=1e-6)


class OverlapPatchEmbed(nn.Module):
    """Strided conv with overlapping windows + LayerNorm: B×C×H×W → (B×N×D, H', W')."""

    def __init__(self, patch_size, stride, in_chans, embed_dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride,
                              padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        x = self.proj(x)
        _, _, h, w = x.shape
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class EfficientAttention(nn.Module):
    """Multi-head attention whose keys/values come from a map shrunk by ``sr_ratio``.

    x: B×N×C tokens of an H×W map → B×N×C.
    """

    def __init__(self, dim, num_heads, qkv_bias=True, qk_scale=None, attn_drop=0.,
                 proj_drop=0., sr_ratio=1):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f'embed dim {dim} must be divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads)**-0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x, h, w):
        b, n, c = x.shape
        head_dim = c // self.num_heads
        q = self.q(x).reshape(b, n, self.num_heads, head_dim).transpose(1, 2)
        kv_input = x
        if self.sr_ratio > 1:
            kv_map = x.transpose(1, 2).reshape(b, c, h, w)
            kv_input = self.norm(self.sr(kv_map).flatten(2).transpose(1, 2))
        # kv: 2 × B × heads × M × d, the first half of the channels being k.
        kv = self.kv(kv_input).reshape(b, -1, 2, self.num_heads, head_dim).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]
        # softmax(q k^T · scale) v, fused where the device supports it.
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        out = out.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))


class DWConv(nn.Module):
    """Depth-wise 3×3 conv on the token map (the 'Mix' of Mix-FFN)."""

    def __init__(self, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, bias=True, groups=dim)

    def forward(self, x, h, w):
        b, n, c = x.shape
        x = self.dwconv(x.transpose(1, 2).reshape(b, c, h, w))
        return x.flatten(2).transpose(1, 2)


class MixFFN(nn.Module):
    """fc1 → depth-wise conv → GELU → fc2 (docs/REFERENCE.md §2.1)."""

    def __init__(self, in_features, hidden_features, drop=0.):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.dwconv = DWConv(hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x, h, w):
        x = self.drop(self.act(self.dwconv(self.fc1(x), h, w)))
        return self.drop(self.fc2(x))


class MiTBlock(nn.Module):
    """x + DropPath(Attn(LN(x))), then x + DropPath(MixFFN(LN(x)))."""

    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias, qk_scale, drop, attn_drop,
                 drop_path, sr_ratio):
        super().__init__()
        self.norm1 = _block_norm(dim)
        self.attn = EfficientAttention(dim, num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale,
                                       attn_drop=attn_drop, proj_drop=drop, sr_ratio=sr_ratio)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2 = _block_norm(dim)
        self.mlp = MixFFN(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x, h, w):
        x = x + self.drop_path(self.attn(self.norm1(x), h, w))
        return x + self.drop_path(self.mlp(self.norm2(x), h, w))


@BACKBONES.register_module()
class MixVisionTransformer(BaseModule):
    """Four-stage MiT encoder: img B×3×H×W → 4 maps B×C_i×H/s×W/s, s = 4, 8, 16, 32.

    ``pretrained`` (a path) is loaded by :meth:`init_weights` / :meth:`load_pretrained`; the
    weights are SegFormer-initialised at construction. ``with_cp``: activation checkpointing of
    every block while training (recomputed in the backward pass: less memory, ~1/3 more time).
    """

    def __init__(self, in_chans=3, embed_dims=(64, 128, 256, 512), num_heads=(1, 2, 4, 8),
                 mlp_ratios=(4, 4, 4, 4), qkv_bias=True, qk_scale=None, drop_rate=0.,
                 attn_drop_rate=0., drop_path_rate=0.1, depths=(3, 4, 6, 3),
                 sr_ratios=(8, 4, 2, 1), style=None, pretrained=None, init_cfg=None,
                 freeze_patch_emb=False, with_cp=False):
        if init_cfg is not None and init_cfg.get('type') == 'Pretrained':
            if pretrained is not None:
                raise ValueError('give MixVisionTransformer either pretrained or '
                                 'init_cfg=dict(type="Pretrained"), not both')
            pretrained, init_cfg = init_cfg['checkpoint'], None
        super().__init__(init_cfg=init_cfg)
        lengths = {len(v) for v in (embed_dims, num_heads, mlp_ratios, depths, sr_ratios)}
        if lengths != {4}:
            raise ValueError('MixVisionTransformer needs 4 values in embed_dims, num_heads, '
                             f'mlp_ratios, depths and sr_ratios, got {embed_dims}, {num_heads}, '
                             f'{mlp_ratios}, {depths}, {sr_ratios}')
        del style  # accepted for config compatibility (docs/REFERENCE.md §2.1)
        self.embed_dims = list(embed_dims)
        self.depths = list(depths)
        self.pretrained = pretrained
        self.with_cp = with_cp
        # Stochastic depth grows linearly over all blocks of all stages.
        drop_path_rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stage_in = [in_chans] + list(embed_dims[:-1])
        block_idx = 0
        for i in range(4):
            stage = i + 1
            patch_size, stride = (7, 4) if i == 0 else (3, 2)
            setattr(self, f'patch_embed{stage}',
                    OverlapPatchEmbed(patch_size, stride, stage_in[i], embed_dims[i]))
            blocks = nn.ModuleList([
                MiTBlock(embed_dims[i], num_heads[i], mlp_ratios[i], qkv_bias, qk_scale,
                         drop_rate, attn_drop_rate, drop_path_rates[block_idx + j], sr_ratios[i])
                for j in range(depths[i])
            ])
            block_idx += depths[i]
            setattr(self, f'block{stage}', blocks)
            setattr(self, f'norm{stage}', _block_norm(embed_dims[i]))
        self._init_segformer_weights()
        if freeze_patch_emb:
            self.freeze_patch_emb()

    def _init_segformer_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def init_weights(self, pretrained=None):
        """SegFormer init, then the ImageNet weights of ``pretrained`` (or self.pretrained)."""
        pretrained = pretrained if pretrained is not None else self.pretrained
        self._init_segformer_weights()
        if pretrained is not None:
            self.load_pretrained(pretrained)

    def load_pretrained(self, path):
        """Load SegFormer's ImageNet MiT checkpoint; its classifier ``head.*`` is dropped."""
        self.pretrained = path
        return load_pretrained_weights(self, path, MIT_DOWNLOAD_HINT, ignored_prefixes=('head.', ))

    def freeze_patch_emb(self):
        self.patch_embed1.requires_grad_(False)

    def forward(self, x):
        b = x.shape[0]
        outs = []
        for stage in range(1, 5):
            x, h, w = getattr(self, f'patch_embed{stage}')(x)
            for blk in getattr(self, f'block{stage}'):
                if self.with_cp and torch.is_grad_enabled() and self.training:
                    x = cp.checkpoint(blk, x, h, w, use_reentrant=False)
                else:
                    x = blk(x, h, w)
            x = getattr(self, f'norm{stage}')(x)
            x = x.reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
            outs.append(x)
        return outs


def _variant_settings(name, embed_dims, depths, overrides):
    """docs/REFERENCE.md §2.1's settings of a MiT variant; only drop rates and loading options may change."""
    settings = dict(embed_dims=embed_dims, num_heads=(1, 2, 5, 8), mlp_ratios=(4, 4, 4, 4),
                    qkv_bias=True, depths=depths, sr_ratios=(8, 4, 2, 1), drop_rate=0.0,
                    drop_path_rate=0.1)
    clash = sorted(set(settings) & set(overrides) - {'drop_rate', 'drop_path_rate'})
    if clash:
        raise ValueError(f'{name} fixes {", ".join(clash)}; use MixVisionTransformer to change '
                         'them')
    settings.update(overrides)
    return settings


_WIDE = (64, 128, 320, 512)


@BACKBONES.register_module()
class mit_b0(MixVisionTransformer):

    def __init__(self, **kwargs):
        super().__init__(**_variant_settings('mit_b0', (32, 64, 160, 256), (2, 2, 2, 2), kwargs))


@BACKBONES.register_module()
class mit_b1(MixVisionTransformer):

    def __init__(self, **kwargs):
        super().__init__(**_variant_settings('mit_b1', _WIDE, (2, 2, 2, 2), kwargs))


@BACKBONES.register_module()
class mit_b2(MixVisionTransformer):

    def __init__(self, **kwargs):
        super().__init__(**_variant_settings('mit_b2', _WIDE, (3, 4, 6, 3), kwargs))


@BACKBONES.register_module()
class mit_b3(MixVisionTransformer):

    def __init__(self, **kwargs):
        super().__init__(**_variant_settings('mit_b3', _WIDE, (3, 4, 18, 3), kwargs))


@BACKBONES.register_module()
class mit_b4(MixVisionTransformer):

    def __init__(self, **kwargs):
        super().__init__(**_variant_settings('mit_b4', _WIDE, (3, 8, 27, 3), kwargs))


@BACKBONES.register_module()
class mit_b5(MixVisionTransformer):

    def __init__(self, **kwargs):
        super().__init__(**_variant_settings('mit_b5', _WIDE, (3, 6, 40, 3), kwargs))

"""Atrous spatial pyramid pooling: parallel dilated branches and DAFormer's ASPP fusion."""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule

from mmseg.ops import resize

from ..utils.depthwise_conv import DepthwiseGradConv2d  # noqa: F401 (registers the conv type)

__all__ = ['ASPPModule', 'ASPPWrapper']


class ASPPModule(nn.ModuleList):
    """One conv branch per dilation: x B×C×H×W → list of B×channels×H×W.

    Dilation 1 gives a 1×1 ConvModule; the others a 3×3 conv with that dilation and padding,
    depth-wise separable when ``sep`` (keys ``{k}.conv`` / ``{k}.depthwise_conv``,
    ``{k}.pointwise_conv``, docs/REFERENCE.md §A). With ``conv_cfg`` None the separable branches
    build their convolutions as ``DepthwiseGradConv2d`` (mmseg/models/utils/depthwise_conv.py):
    the same parameters and outputs, a faster backward pass of the depth-wise part on the CPU.
    """

    def __init__(self, dilations, in_channels, channels, conv_cfg=None, norm_cfg=None,
                 act_cfg=dict(type='ReLU'), sep=False):
        super().__init__()
        self.dilations = tuple(dilations)
        sep_conv_cfg = conv_cfg if conv_cfg is not None else dict(type='DepthwiseGradConv2d')
        for dilation in dilations:
            if dilation == 1:
                branch = ConvModule(in_channels, channels, 1, conv_cfg=conv_cfg,
                                    norm_cfg=norm_cfg, act_cfg=act_cfg)
            elif sep:
                branch = DepthwiseSeparableConvModule(in_channels, channels, 3,
                                                      dilation=dilation, padding=dilation,
                                                      conv_cfg=sep_conv_cfg, norm_cfg=norm_cfg,
                                                      act_cfg=act_cfg)
            else:
                branch = ConvModule(in_channels, channels, 3, dilation=dilation,
                                    padding=dilation, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                    act_cfg=act_cfg)
            self.append(branch)

    def forward(self, x):
        return [branch(x) for branch in self]


class ASPPWrapper(nn.Module):
    """ASPP as a fusion block: [image pool +] branches, concatenated, 3×3 ``bottleneck``.

    x B×in_channels×H×W → B×channels×H×W (DAFormer's 'aspp' fusion, docs/REFERENCE.md §2.2).
    """

    def __init__(self, in_channels, channels, dilations=(1, 6, 12, 18), sep=False, pool=False,
                 conv_cfg=None, norm_cfg=None, act_cfg=dict(type='ReLU'), align_corners=False):
        super().__init__()
        self.align_corners = align_corners
        self.image_pool = None
        if pool:
            self.image_pool = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                ConvModule(in_channels, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                           act_cfg=act_cfg))
        self.aspp_modules = ASPPModule(dilations, in_channels, channels, conv_cfg=conv_cfg,
                                       norm_cfg=norm_cfg, act_cfg=act_cfg, sep=sep)
        num_branches = len(dilations) + int(pool)
        self.bottleneck = ConvModule(num_branches * channels, channels, 3, padding=1,
                                     conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x):
        branches = []
        if self.image_pool is not None:
            pooled = self.image_pool(x)
            branches.append(resize(pooled, size=x.shape[2:], mode='bilinear',
                                   align_corners=self.align_corners))
        branches.extend(self.aspp_modules(x))
        return self.bottleneck(torch.cat(branches, dim=1))


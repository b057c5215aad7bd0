"""Multi-level neck: one-stride ViT features -> a feature pyramid for the segmentation heads."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, xavier_init

from mmseg.ops import resize
from ..builder import NECKS

__all__ = ['MultiLevelNeck', 'resample_patch_grid']


def resample_patch_grid(x, patch_size, stride, image_size):
    """Bilinear resampling of a patch-grid map to a stride-``stride`` map of the unpadded image.

    x: B×C×h×w, cell (i, j) covering pixels [i*p, (i+1)*p) of the (padded) image, p = patch_size.
    Returns B×C×ceil(H/stride)×ceil(W/stride) for image_size (H, W), whose cell (i, j) is sampled
    at the centre of pixels [i*s, (i+1)*s): the padding beyond H, W is cropped away, and the
    geometry equals ``F.interpolate(x, scale_factor=p/s, mode='bilinear')`` where sizes agree.
    """
    out_h, out_w = (math.ceil(size / stride) for size in image_size)
    h, w = x.shape[2:]
    # Centres of the output cells in units of patch cells, normalised to [-1, 1] over the grid;
    # at least in float32, since bf16/fp16 would round the fractional positions.
    dtype = torch.promote_types(x.dtype, torch.float32)
    positions = [(torch.arange(n, device=x.device, dtype=dtype) + 0.5) * stride /
                 patch_size * 2 / size - 1 for n, size in ((out_h, h), (out_w, w))]
    grid_y, grid_x = torch.meshgrid(*positions, indexing='ij')
    grid = torch.stack([grid_x, grid_y], dim=-1).expand(x.shape[0], out_h, out_w, 2)
    out = F.grid_sample(x.to(dtype), grid, mode='bilinear', padding_mode='border',
                        align_corners=False)
    return out.to(x.dtype)


@NECKS.register_module()
class MultiLevelNeck(nn.Module):
    """Lateral 1x1 convs, resampling to several scales, then 3x3 convs (mmseg's MultiLevelNeck
    for ViT encoders).

    Input: a list of B×C_i×h×w maps (one per entry of ``in_channels``; a single map is reused for
    every output). Output: a list of ``len(scales)`` (or ``len(out_strides)``) maps with
    ``out_channels`` channels.

    Args:
        in_channels (list[int]): channels of the inputs.
        out_channels (int): channels of every output.
        scales (list[float]): resize factor of each output relative to the input grid (mmseg's
            behaviour; used when ``out_strides`` is None).
        out_strides (list[int] | None): output strides in pixels (e.g. [4, 8, 16, 32]). Needs the
            inputs of :class:`TIMMBackbone` (they carry the patch size and the unpadded image
            size): output k is then B×C×ceil(H/s_k)×ceil(W/s_k), cropped back to the image.
        norm_cfg, act_cfg (dict | None): of the ConvModules.

    Raises:
        ValueError: a wrong number of inputs, or out_strides with inputs that lack patch sizes.
    """

    def __init__(self, in_channels, out_channels, scales=(0.5, 1, 2, 4), out_strides=None,
                 norm_cfg=None, act_cfg=None):
        super().__init__()
        assert isinstance(in_channels, (list, tuple)), 'in_channels must be a list'
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.scales = list(scales)
        self.out_strides = list(out_strides) if out_strides is not None else None
        self.num_outs = len(self.out_strides) if self.out_strides else len(self.scales)
        if len(self.in_channels) not in (1, self.num_outs):
            raise ValueError(f'MultiLevelNeck: {len(self.in_channels)} inputs for '
                             f'{self.num_outs} outputs; give 1 input or one per output')
        self.lateral_convs = nn.ModuleList(
            ConvModule(c, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for c in self.in_channels)
        self.convs = nn.ModuleList(
            ConvModule(out_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg) for _ in range(self.num_outs))
        self.init_weights()

    def init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                xavier_init(m, distribution='uniform')

    def forward(self, inputs):
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'MultiLevelNeck: got {len(inputs)} inputs, expected '
                             f'{len(self.in_channels)} (in_channels)')
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        if len(laterals) == 1:
            laterals = laterals * self.num_outs
        return [conv(self._resample(x, k, inputs)) for k, (conv, x) in
                enumerate(zip(self.convs, laterals))]

    def _resample(self, x, k, inputs):
        if self.out_strides is None:
            return resize(x, scale_factor=self.scales[k], mode='bilinear')
        if not hasattr(inputs, 'patch_size'):
            raise ValueError('MultiLevelNeck: out_strides needs the patch-grid features of '
                             'TIMMBackbone (with patch_size and image_size); use scales for '
                             'other backbones')
        return resample_patch_grid(x, inputs.patch_size, self.out_strides[k], inputs.image_size)

"""ResNet and ResNetV1c (deep stem) with dilated last stages, the DeepLabV2 encoder (docs/REFERENCE.md §2.2).

Module names follow the open-mmlab ImageNet checkpoints (``stem.{0,1,3,4,6,7}``,
``layer{i}.{b}.conv{1,2,3}``/``bn{1,2,3}``/``downsample.{0,1}``), docs/REFERENCE.md §B.
"""

import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmcv.runner import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..builder import BACKBONES
from .checkpoint_loading import load_pretrained_weights, resolve_pretrained_path

__all__ = ['Bottleneck', 'ResNet', 'ResNetV1c']

# Names of the original configs → local files (we never download, docs/REFERENCE.md §2.2).
RESNET_DOWNLOAD_HINT = ("download open-mmlab's ImageNet ResNet-V1c weights (resnet50_v1c / "
                        "resnet101_v1c) into pretrained/")


class Bottleneck(nn.Module):
    """1×1 → 3×3 (stride, dilation) → 1×1 (×4 channels) with identity/projection shortcut."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, dilation=1, downsample=None, conv_cfg=None,
                 norm_cfg=dict(type='BN')):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, planes)[1]
        # 'pytorch' style: the stride sits on the 3×3 conv.
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, stride=stride,
                                      padding=dilation, dilation=dilation, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)[1]
        self.conv3 = build_conv_layer(conv_cfg, planes, out_planes, 1, bias=False)
        self.bn3 = build_norm_layer(norm_cfg, out_planes)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@BACKBONES.register_module()
class ResNet(BaseModule):
    """Bottleneck ResNet (depth 50/101/152): img B×3×H×W → maps of the stages in out_indices.

    With strides (1, 2, 1, 1) and dilations (1, 1, 2, 4) the last map is 2048×H/8×W/8.
    """

    arch_settings = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

    def __init__(self, depth, in_channels=3, stem_channels=64, base_channels=64, num_stages=4,
                 strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1), out_indices=(3, ),
                 style='pytorch', deep_stem=False, avg_down=False, frozen_stages=-1,
                 conv_cfg=None, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                 contract_dilation=False, zero_init_residual=True, pretrained=None,
                 init_cfg=None):
        if init_cfg is not None and init_cfg.get('type') == 'Pretrained':
            pretrained, init_cfg = init_cfg['checkpoint'], None
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise ValueError(f'ResNet depth must be one of {sorted(self.arch_settings)}, '
                             f'got {depth}')
        if style != 'pytorch':
            raise ValueError(f"only style='pytorch' is supported, got {style!r}")
        if avg_down:
            raise ValueError('avg_down=True (ResNetV1d) is not supported; use ResNetV1c')
        if not (len(strides) == len(dilations) == num_stages and 1 <= num_stages <= 4):
            raise ValueError(f'strides {strides} and dilations {dilations} need num_stages '
                             f'({num_stages}, at most 4) entries')
        if max(out_indices) >= num_stages:
            raise ValueError(f'out_indices {out_indices} must be < num_stages {num_stages}')
        self.depth = depth
        self.deep_stem = deep_stem
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual
        self.pretrained = pretrained
        self._make_stem(in_channels, stem_channels, conv_cfg, norm_cfg)
        self.res_layers = []
        inplanes = stem_channels
        for i, num_blocks in enumerate(self.arch_settings[depth][:num_stages]):
            planes = base_channels * 2**i
            layer = self._make_res_layer(inplanes, planes, num_blocks, strides[i], dilations[i],
                                         contract_dilation, conv_cfg, norm_cfg)
            inplanes = planes * Bottleneck.expansion
            setattr(self, f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
        self.feat_dim = inplanes
        self._init_random_weights()
        self._freeze_stages()

    def _make_stem(self, in_channels, stem_channels, conv_cfg, norm_cfg):
        if self.deep_stem:
            # V1c: three 3×3 convs (stride 2 on the first) instead of one 7×7 conv.
            half = stem_channels // 2
            layers = []
            for cin, cout, stride in ((in_channels, half, 2), (half, half, 1),
                                      (half, stem_channels, 1)):
                layers += [
                    build_conv_layer(conv_cfg, cin, cout, 3, stride=stride, padding=1,
                                     bias=False),
                    build_norm_layer(norm_cfg, cout)[1],
                    nn.ReLU(inplace=True)
                ]
            self.stem = nn.Sequential(*layers)
        else:
            self.conv1 = build_conv_layer(conv_cfg, in_channels, stem_channels, 7, stride=2,
                                          padding=3, bias=False)
            self.bn1 = build_norm_layer(norm_cfg, stem_channels)[1]
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    @staticmethod
    def _make_res_layer(inplanes, planes, num_blocks, stride, dilation, contract_dilation,
                        conv_cfg, norm_cfg):
        out_planes = planes * Bottleneck.expansion
        downsample = None
        if stride != 1 or inplanes != out_planes:
            downsample = nn.Sequential(
                build_conv_layer(conv_cfg, inplanes, out_planes, 1, stride=stride, bias=False),
                build_norm_layer(norm_cfg, out_planes)[1])
        # contract_dilation: the first block of a dilated stage uses half the dilation.
        first_dilation = dilation // 2 if contract_dilation and dilation > 1 else dilation
        blocks = [
            Bottleneck(inplanes, planes, stride, first_dilation, downsample, conv_cfg, norm_cfg)
        ]
        blocks += [
            Bottleneck(out_planes, planes, 1, dilation, None, conv_cfg, norm_cfg)
            for _ in range(1, num_blocks)
        ]
        return nn.Sequential(*blocks)

    def _init_random_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, (_BatchNorm, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.zero_init_residual:
            # Each residual branch starts as zero, so a block starts as the identity.
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)

    def _freeze_stages(self):
        stem = [self.stem] if self.deep_stem else [self.conv1, self.bn1]
        if self.frozen_stages >= 0:
            for m in stem:
                m.eval()
                m.requires_grad_(False)
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            layer.eval()
            layer.requires_grad_(False)

    def init_weights(self, pretrained=None):
        """Random init, then the ImageNet weights of ``pretrained`` (or self.pretrained)."""
        pretrained = pretrained if pretrained is not None else self.pretrained
        self._init_random_weights()
        if pretrained is not None:
            self.load_pretrained(pretrained)

    def load_pretrained(self, pretrained):
        """Load a path or an ``open-mmlab://resnet*_v1c`` name; the classifier ``fc.*`` goes."""
        path = resolve_pretrained_path(pretrained)
        self.pretrained = pretrained
        return load_pretrained_weights(self, path, RESNET_DOWNLOAD_HINT, ignored_prefixes=('fc.', ))

    def forward(self, x):
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return outs

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


@BACKBONES.register_module()
class ResNetV1c(ResNet):
    """ResNet with the deep stem (three 3×3 convs), the DeepLabV2 encoder."""

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=False, **kwargs)

"""Tiny registered networks for the segmentor tests (independent of the real MiT / heads)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmseg.models.builder import MODELS


@MODELS.register_module(force=True)
class TinySegTestBackbone(nn.Module):
    """Strided 3×3 convs: one B×C×H/stride×W/stride map as a one-element list (like [C5])."""

    def __init__(self, out_channels=8, stride=4):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(3 if i == 0 else out_channels, out_channels, 3, stride=2, padding=1)
            for i in range(stride.bit_length() - 1))
        # Names kept short for the pretrained-loading tests.
        self.conv1, self.conv2 = self.convs[0], self.convs[1]

    def forward(self, img):
        x = img
        for i, conv in enumerate(self.convs):
            x = conv(x if i == 0 else torch.relu(x))
        return [x]


@MODELS.register_module(force=True)
class TinyPyramidTestBackbone(nn.Module):
    """Four maps of strides 4, 8, 16, 32 (the MiT output layout) from plain convs."""

    def __init__(self, channels=(8, 8, 16, 16)):
        super().__init__()
        self.stages = nn.ModuleList()
        in_c = 3
        for i, out_c in enumerate(channels):
            kernel, stride = (7, 4) if i == 0 else (3, 2)
            self.stages.append(nn.Conv2d(in_c, out_c, kernel, stride=stride,
                                         padding=kernel // 2))
            in_c = out_c
        self.input_shapes = []

    def forward(self, img):
        self.input_shapes.append(tuple(img.shape))
        outs, x = [], img
        for stage in self.stages:
            x = torch.relu(stage(x))
            outs.append(x)
        return outs


@MODELS.register_module(force=True)
class TinySegTestHead(nn.Module):
    """1×1 classifier on the first map; mean CE over all pixels × seg_weight (docs/REFERENCE.md §2.2)."""

    def __init__(self, in_channels=8, num_classes=3, align_corners=False):
        super().__init__()
        self.num_classes = num_classes
        self.align_corners = align_corners
        self.conv_seg = nn.Conv2d(in_channels, num_classes, 1)

    def forward(self, inputs):
        return self.conv_seg(inputs[0])

    def forward_test(self, inputs, img_metas, test_cfg):
        return self.forward(inputs)

    def forward_train(self, inputs, img_metas, gt_semantic_seg, train_cfg, seg_weight=None):
        logits = F.interpolate(self.forward(inputs), size=gt_semantic_seg.shape[2:],
                               mode='bilinear', align_corners=self.align_corners)
        label = gt_semantic_seg.squeeze(1)
        loss = F.cross_entropy(logits, label, ignore_index=255, reduction='none')
        if seg_weight is not None:
            loss = loss * seg_weight
        valid = label != 255
        acc = (logits.argmax(1) == label)[valid].float().mean() * 100
        return dict(loss_seg=loss.mean(), acc_seg=acc)


@pytest.fixture
def make_metas():
    """make_metas(batch, height, width, flip=False) -> img_metas of an unpadded test batch."""

    def make(batch, height, width, flip=False, ori_shape=None):
        ori = ori_shape or (height, width, 3)
        return [dict(ori_shape=ori, img_shape=(height, width, 3), pad_shape=(height, width, 3),
                     flip=flip, flip_direction='horizontal') for _ in range(batch)]

    return make


@pytest.fixture
def tiny_segmentor_cfg():
    return dict(type='EncoderDecoder', backbone=dict(type='TinySegTestBackbone'),
                decode_head=dict(type='TinySegTestHead'), test_cfg=dict(mode='whole'))


def daformer_head_cfg(in_channels, num_classes=3, fusion='aspp'):
    """A small DAFormerHead config (sepaspp fusion by default, 16-channel embeddings)."""
    norm_cfg = dict(type='BN', requires_grad=True)
    fusion_cfg = dict(type='aspp', sep=True, dilations=(1, 2), pool=False,
                      act_cfg=dict(type='ReLU'), norm_cfg=norm_cfg) if fusion == 'aspp' \
        else dict(type='conv', kernel_size=1, act_cfg=dict(type='ReLU'), norm_cfg=norm_cfg)
    return dict(type='DAFormerHead', in_channels=list(in_channels),
                in_index=list(range(len(in_channels))), channels=16, dropout_ratio=0.1,
                num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
                decoder_params=dict(embed_dims=16,
                                    embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                    embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                                    fusion_cfg=fusion_cfg),
                loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))


@pytest.fixture
def hrda_cfg():
    """HRDA(DAFormer sepaspp) on the conv pyramid: 64 px inputs, 32 px detail crops."""
    head = daformer_head_cfg((8, 8, 16, 16))
    head.update(type='HRDAHead', single_scale_head='DAFormerHead', attention_classwise=True,
                hr_loss_weight=0.1, attention_embed_dim=8)
    return dict(type='HRDAEncoderDecoder', backbone=dict(type='TinyPyramidTestBackbone'),
                decode_head=head, scales=[1, 0.5], hr_crop_size=(32, 32), feature_scale=0.5,
                crop_coord_divisible=8, hr_slide_inference=True, train_cfg=dict(),
                test_cfg=dict(mode='whole'))


@pytest.fixture
def hrda_dlv2_cfg():
    """HRDA on DLV2Head (output stride 8): 64 px inputs, 32 px crops, offsets divisible by 16."""
    head = dict(type='HRDAHead', single_scale_head='DLV2Head', in_channels=8, in_index=-1,
                dilations=(1, 2), num_classes=3, align_corners=False, hr_loss_weight=0.1,
                loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
    return dict(type='HRDAEncoderDecoder', backbone=dict(type='TinySegTestBackbone', stride=8),
                decode_head=head, scales=[1, 0.5], hr_crop_size=(32, 32), feature_scale=0.5,
                crop_coord_divisible=16, train_cfg=dict(), test_cfg=dict(mode='whole'))

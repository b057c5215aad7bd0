"""Base class of the decode heads: input selection, classifier, losses (docs/REFERENCE.md §2.2)."""
from abc import ABCMeta, abstractmethod

import torch
import torch.nn as nn
from mmcv.runner import BaseModule

from mmseg.ops import resize
from ..builder import build_loss
from ..losses import accuracy
from ..utils.mixed_precision import float32

__all__ = ['BaseDecodeHead']


class BaseDecodeHead(BaseModule, metaclass=ABCMeta):
    """A head maps backbone features to logits B×num_classes×h×w.

    in_index / input_transform pick the inputs: None → ``inputs[in_index]``;
    'multiple_select' → the list ``[inputs[i] for i in in_index]``; 'resize_concat' → those maps
    resized to the first one and concatenated on channels. ``decoder_params`` are read by the
    subclasses. ``conv_seg`` = Conv2d(channels, num_classes, 1) after Dropout2d(dropout_ratio).
    """

    # ``mixed_precision.fp32_upsample`` (set by set_mixed_precision): bilinear resizes of the
    # fusion in float32 under autocast (mmseg/models/utils/mixed_precision.py).
    fp32_upsample = False

    def __init__(self, in_channels, channels, *, num_classes=19, dropout_ratio=0.1,
                 conv_cfg=None, norm_cfg=None, act_cfg=dict(type='ReLU'), in_index=-1,
                 input_transform=None,
                 loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                 decoder_params=None, ignore_index=255, sampler=None, align_corners=False,
                 init_cfg=dict(type='Normal', std=0.01, override=dict(name='conv_seg'))):
        super().__init__(init_cfg)
        if sampler is not None:
            raise ValueError(f'pixel samplers are not part of mic-seg, got sampler={sampler}')
        self._init_inputs(in_channels, in_index, input_transform)
        self.channels = channels
        self.num_classes = num_classes
        self.dropout_ratio = dropout_ratio
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.decoder_params = decoder_params
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        self.loss_decode = build_loss(loss_decode)
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None
        nn.init.normal_(self.conv_seg.weight, mean=0, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)

    def extra_repr(self):
        return (f'input_transform={self.input_transform}, ignore_index={self.ignore_index}, '
                f'align_corners={self.align_corners}')

    def _init_inputs(self, in_channels, in_index, input_transform):
        if input_transform not in (None, 'resize_concat', 'multiple_select'):
            raise ValueError("input_transform must be None, 'resize_concat' or "
                             f"'multiple_select', got {input_transform!r}")
        self.input_transform = input_transform
        self.in_index = in_index
        if input_transform is None:
            if not isinstance(in_channels, int) or not isinstance(in_index, int):
                raise ValueError('with input_transform None, in_channels and in_index must be '
                                 f'ints, got {in_channels!r} and {in_index!r}')
            self.in_channels = in_channels
            return
        if not (isinstance(in_channels, (list, tuple)) and isinstance(in_index, (list, tuple))
                and len(in_channels) == len(in_index)):
            raise ValueError(f'with input_transform {input_transform!r}, in_channels and '
                             f'in_index must be lists of one length, got {in_channels!r} and '
                             f'{in_index!r}')
        self.in_channels = sum(in_channels) if input_transform == 'resize_concat' \
            else list(in_channels)

    def _transform_inputs(self, inputs):
        """Select (and for 'resize_concat' fuse) the backbone maps this head reads."""
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == 'multiple_select':
            return selected
        size = selected[0].shape[2:]
        selected = [
            resize(x, size=size, mode='bilinear', align_corners=self.align_corners,
                   float32=self.fp32_upsample)
            for x in selected
        ]
        return torch.cat(selected, dim=1)

    @abstractmethod
    def forward(self, inputs):
        """Logits B×num_classes×h×w of the backbone features."""

    def forward_train(self, inputs, img_metas, gt_semantic_seg, train_cfg, seg_weight=None,
                      return_logits=False):
        """Logits and their losses: dict(loss_seg, acc_seg) (+ ``logits`` B×C×h×w when asked,
        for methods that reuse the training prediction). gt_semantic_seg: B×1×H×W."""
        # Through __call__, not self.forward: a compiled head (config key ``compile``,
        # nn.Module.compile) runs its compiled forward only when called.
        seg_logits = self(inputs)
        losses = self.losses(seg_logits, gt_semantic_seg, seg_weight)
        if return_logits:
            losses['logits'] = seg_logits
        return losses

    def forward_test(self, inputs, img_metas, test_cfg):
        return self(inputs)

    def cls_seg(self, feat):
        """Dropout + 1×1 classifier: B×channels×h×w → B×num_classes×h×w."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def losses(self, seg_logit, seg_label, seg_weight=None):
        """Cross-entropy and pixel accuracy after resizing the logits to the label size.

        seg_logit: B×C×h×w; seg_label: B×1×H×W long; seg_weight: B×H×W or None. Computed in
        float32 under mixed precision.
        """
        seg_logit, full_precision = float32(seg_logit)
        with full_precision:
            seg_logit = resize(seg_logit, size=seg_label.shape[2:], mode='bilinear',
                               align_corners=self.align_corners)
            seg_label = seg_label.squeeze(1)
            loss = dict()
            loss['loss_seg'] = self.loss_decode(seg_logit, seg_label, weight=seg_weight,
                                                ignore_index=self.ignore_index)
            loss['acc_seg'] = accuracy(seg_logit, seg_label, ignore_index=self.ignore_index)
        return loss

"""Backbone + decode head segmentor with whole / sliding-window inference (docs/REFERENCE.md §2.3)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmseg.core import add_prefix
from mmseg.ops import resize
from .. import builder
from ..backbones.checkpoint_loading import load_backbone_pretrained
from ..builder import SEGMENTORS
from ..utils.channel_check import check_head_in_channels
from ..utils.mixed_precision import autocast
from ..utils.sliding_window import merge_window_logits, slide_window_boxes
from .base import BaseSegmentor

__all__ = ['EncoderDecoder']

@SEGMENTORS.register_module()
class EncoderDecoder(BaseSegmentor):
    """Backbone (+ neck) → decode head (+ auxiliary heads).

    ``pretrained`` (a checkpoint path, or ``open-mmlab://NAME`` read from ``pretrained/``) is
    loaded into the backbone at construction and again after ``init_weights``.
    """

    def __init__(self, backbone, decode_head, neck=None, auxiliary_head=None, train_cfg=None,
                 test_cfg=None, pretrained=None, init_cfg=None):
        super().__init__(init_cfg)
        self.backbone = builder.build_backbone(backbone)
        self.neck = builder.build_neck(neck) if neck is not None else None
        if neck is None:
            check_head_in_channels(self.backbone, decode_head, 'decode_head')
        self.decode_head = builder.build_head(decode_head)
        self.align_corners = getattr(self.decode_head, 'align_corners', False)
        self.num_classes = self.decode_head.num_classes
        self._init_auxiliary_head(auxiliary_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg if test_cfg is not None else dict(mode='whole')
        self.pretrained = pretrained
        if pretrained:
            load_backbone_pretrained(self.backbone, pretrained)

    def _init_auxiliary_head(self, auxiliary_head):
        if auxiliary_head is None:
            self.auxiliary_head = None
        elif isinstance(auxiliary_head, (list, tuple)):
            self.auxiliary_head = nn.ModuleList(builder.build_head(cfg) for cfg in auxiliary_head)
        else:
            self.auxiliary_head = builder.build_head(auxiliary_head)
        if auxiliary_head is not None and self.neck is None:
            for cfg in auxiliary_head if isinstance(auxiliary_head, (list, tuple)) \
                    else [auxiliary_head]:
                check_head_in_channels(self.backbone, cfg, 'auxiliary_head')

    def init_weights(self):
        super().init_weights()
        # A backbone's own init_weights may draw fresh weights over the ImageNet ones.
        if self.pretrained:
            load_backbone_pretrained(self.backbone, self.pretrained)

    # ----------------------------------------------------------------------------- features
    def extract_feat(self, img):
        """Backbone (+ neck) feature maps of img B×3×H×W."""
        x = self.backbone(img)
        if self.with_neck:
            x = self.neck(x)
        return x

    def encode_decode(self, img, img_metas):
        """Logits B×C×H×W of img, resized (bilinear) to the size of img."""
        x = self.extract_feat(img)
        out = self._decode_head_forward_test(x, img_metas)
        return resize(out, size=img.shape[2:], mode='bilinear', align_corners=self.align_corners)

    def generate_pseudo_label(self, img, img_metas):
        """Teacher logits for pseudo-labels (docs/REFERENCE.md §3.3 step 4); HRDA overrides this."""
        return self.encode_decode(img, img_metas)

    def forward_with_aux(self, img, img_metas):
        """Training-mode logits at the input size: ``{'main': ..., ['aux': ...]}`` (AdvSeg)."""
        x = self.extract_feat(img)
        ret = dict(main=self._resize_training_logits(
            self._decode_head_forward_test(x, img_metas), img))
        if isinstance(self.auxiliary_head, nn.Module) and \
                not isinstance(self.auxiliary_head, nn.ModuleList):
            aux = self.auxiliary_head.forward_test(x, img_metas, self.test_cfg)
            ret['aux'] = self._resize_training_logits(aux, img)
        return ret

    # ----------------------------------------------------------------------------- training
    def _decode_head_forward_train(self, x, img_metas, gt_semantic_seg, seg_weight=None,
                                   return_logits=False):
        # Asked for only when wanted, so heads without the argument keep working.
        extra = dict(return_logits=True) if return_logits else {}
        losses = self.decode_head.forward_train(x, img_metas, gt_semantic_seg, self.train_cfg,
                                                seg_weight, **extra)
        return add_prefix(losses, 'decode')

    def _decode_head_forward_test(self, x, img_metas):
        return self.decode_head.forward_test(x, img_metas, self.test_cfg)

    def _auxiliary_head_forward_train(self, x, img_metas, gt_semantic_seg, seg_weight=None,
                                      return_logits=False):
        losses = dict()
        extra = dict(return_logits=True) if return_logits else {}
        if isinstance(self.auxiliary_head, nn.ModuleList):
            for idx, head in enumerate(self.auxiliary_head):
                loss_aux = head.forward_train(x, img_metas, gt_semantic_seg, self.train_cfg,
                                              seg_weight, **extra)
                losses.update(add_prefix(loss_aux, f'aux_{idx}'))
        else:
            loss_aux = self.auxiliary_head.forward_train(x, img_metas, gt_semantic_seg,
                                                         self.train_cfg, seg_weight, **extra)
            losses.update(add_prefix(loss_aux, 'aux'))
        return losses

    def forward_train(self, img, img_metas, gt_semantic_seg, seg_weight=None, return_feat=False,
                      return_logits=False):
        """Losses ``decode.*`` (+ ``aux.*``) of img B×3×H×W against gt B×1×H×W.

        seg_weight: optional B×H×W per-pixel loss weight; return_feat adds ``features``;
        return_logits adds ``logits`` = {'main'[, 'aux']} as forward_with_aux gives them.
        """
        x = self.extract_feat(img)
        losses = dict()
        if return_feat:
            losses['features'] = x
        losses.update(self._decode_head_forward_train(x, img_metas, gt_semantic_seg, seg_weight,
                                                      return_logits))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, img_metas, gt_semantic_seg,
                                                             seg_weight, return_logits))
        if return_logits:
            losses['logits'] = self._collect_training_logits(losses, img)
        return losses

    def _collect_training_logits(self, losses, img):
        """Pop the heads' ``*.logits`` into {'main'[, 'aux']} at the size of forward_with_aux."""
        logits = dict(main=losses.pop('decode.logits'))
        if 'aux.logits' in losses:  # one auxiliary head (a list of them has no 'aux' output)
            logits['aux'] = losses.pop('aux.logits')
        for key in [k for k in losses if k.endswith('.logits')]:
            losses.pop(key)
        return {k: self._resize_training_logits(v, img) for k, v in logits.items()}

    def _resize_training_logits(self, logits, img):
        return resize(logits, size=img.shape[2:], mode='bilinear',
                      align_corners=self.align_corners)

    # ----------------------------------------------------------------------------- testing
    def _test_cfg_get(self, key, default=None):
        return self.test_cfg.get(key, default)

    def slide_inference(self, img, img_meta, rescale):
        """Logits of crop_size windows every stride pixels, summed and divided by the count.

        With ``batched_slide`` all windows go through the network as one batch.
        """
        crop_size = self._test_cfg_get('crop_size')
        stride = self._test_cfg_get('stride')
        if crop_size is None or stride is None:
            raise KeyError(f'test_cfg mode "slide" needs crop_size and stride, got '
                           f'{dict(self.test_cfg)}')
        batch_size = img.shape[0]
        boxes = slide_window_boxes(img.shape[2], img.shape[3], crop_size, stride)
        crops = [img[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in boxes]
        if self._test_cfg_get('batched_slide', False):
            # All windows have the same size (clipped alike where the image is smaller).
            window_logits = self.encode_decode(torch.cat(crops, dim=0), img_meta)
            window_logits = list(window_logits.split(batch_size, dim=0))
        else:
            window_logits = [self.encode_decode(c, img_meta) for c in crops]
        logits = merge_window_logits(window_logits, boxes, img.shape[2:])
        if rescale:
            logits = self._rescale(logits, img_meta)
        return logits

    def whole_inference(self, img, img_meta, rescale):
        """Logits of the whole image in one pass."""
        logits = self.encode_decode(img, img_meta)
        if rescale:
            logits = self._rescale(logits, img_meta)
        return logits

    def _rescale(self, logits, img_meta):
        """Drop padding (beyond img_shape), then resize to ori_shape (bilinear)."""
        if 'img_shape' in img_meta[0]:
            h, w = img_meta[0]['img_shape'][:2]
            logits = logits[:, :, :h, :w]
        return resize(logits, size=img_meta[0]['ori_shape'][:2], mode='bilinear',
                      align_corners=self.align_corners)

    def _outputs_attention(self):
        """True while HRDA's --hrda-out ATT makes the network output attention, not logits."""
        return bool(getattr(self.decode_head, 'debug_output_attention', False))

    def inference(self, img, img_meta, rescale):
        """Softmax probabilities B×C×H×W (test_cfg mode whole|slide), un-flipped."""
        mode = self._test_cfg_get('mode', 'whole')
        if mode not in ('slide', 'whole'):
            raise ValueError(f'test_cfg.mode must be "slide" or "whole", got {mode!r}')
        ori_shape = img_meta[0]['ori_shape']
        if any(meta['ori_shape'] != ori_shape for meta in img_meta):
            raise ValueError('all images of a test batch need the same ori_shape')
        with autocast(self.mixed_precision, img):
            if mode == 'slide':
                logits = self.slide_inference(img, img_meta, rescale)
            else:
                logits = self.whole_inference(img, img_meta, rescale)
        logits = logits.float()  # no-op in float32; softmax and averaging in float32
        output = logits if self._outputs_attention() else F.softmax(logits, dim=1)
        if img_meta[0].get('flip', False):
            direction = img_meta[0].get('flip_direction', 'horizontal')
            if direction not in ('horizontal', 'vertical'):
                raise ValueError(f'unknown flip_direction {direction!r}')
            output = output.flip(dims=(3,) if direction == 'horizontal' else (2,))
        return output

    def _to_prediction(self, probs):
        """Argmax train IDs (or the attention map under --hrda-out ATT) as numpy arrays."""
        pred = probs[:, 0] if self._outputs_attention() else probs.argmax(dim=1)
        return list(pred.cpu().numpy())

    def simple_test(self, img, img_meta, rescale=True):
        """List of B label maps (numpy H×W) of one test augmentation."""
        return self._to_prediction(self.inference(img, img_meta, rescale))

    def aug_test(self, imgs, img_metas, rescale=True):
        """Label maps of the mean softmax over augmentations (scales / flips), at ori_shape."""
        # Different scales only line up after rescaling to the original size.
        probs = self.inference(imgs[0], img_metas[0], rescale=True)
        for img, meta in zip(imgs[1:], img_metas[1:]):
            probs = probs + self.inference(img, meta, rescale=True)
        return self._to_prediction(probs / len(imgs))

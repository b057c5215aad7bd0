"""HRDA's multi-resolution head: context + detail predictions fused by a learned scale attention.

docs/REFERENCE.md §4. The pure pieces (crop boxes, cropping, box scaling, the fusion) are functions here, used
by ``HRDAHead`` and ``HRDAEncoderDecoder``. Boxes are ``(y1, y2, x1, x2)``, ends exclusive.
"""
import copy

import numpy as np
import torch

from mmseg.core import add_prefix
from mmseg.ops import resize
from ..builder import HEADS, build_head
from ..utils.sliding_window import merge_window_logits
from .decode_head import BaseDecodeHead

__all__ = ['HRDAHead', 'get_crop_bbox', 'crop', 'scale_box', 'fuse_scales']

# Output stride of each supported single-scale head (docs/REFERENCE.md §4).
_HEAD_OUTPUT_STRIDES = {'DAFormerHead': 4, 'DLV2Head': 8}
_HRDA_MODES = ('', 'LR', 'HR', 'ATT')


def get_crop_bbox(img_h, img_w, crop_size, divisible=1):
    """A random crop_size box inside img_h×img_w whose offsets are multiples of ``divisible``.

    offset = randint(0, (margin + 1) // divisible) · divisible (at least offset 0 possible).
    """
    crop_h, crop_w = crop_size
    if not (0 < crop_h <= img_h and 0 < crop_w <= img_w):
        raise ValueError(f'HRDA crop {tuple(crop_size)} does not fit in the {img_h}×{img_w} '
                         f'input: hr_crop_size must be positive and at most the input size')
    offsets = []
    for margin in (img_h - crop_h, img_w - crop_w):
        num_offsets = max((margin + 1) // divisible, 1)
        offsets.append(np.random.randint(0, num_offsets) * divisible)
    return offsets[0], offsets[0] + crop_h, offsets[1], offsets[1] + crop_w


def crop(tensor, box):
    """The box of the last two dims of a ...×H×W tensor (labels B×1×H×W, weights B×H×W)."""
    if tensor.dim() < 2:
        raise ValueError(f'crop needs a tensor with at least 2 dims, got shape '
                         f'{tuple(tensor.shape)}')
    y1, y2, x1, x2 = box
    return tensor[..., y1:y2, x1:x2]


def scale_box(box, divisor):
    """Box coordinates divided by ``divisor`` (and truncated), e.g. pixels → logit cells."""
    return tuple(int(coord / divisor) for coord in box)


def _insert(canvas, values, box, what):
    y1, y2, x1, x2 = box
    region = canvas[:, :, y1:y2, x1:x2]
    if region.shape[2:] != values.shape[2:]:
        raise ValueError(f'{what} of size {tuple(values.shape[2:])} does not fit the box '
                         f'{box} of the {tuple(canvas.shape[2:])} map (hr_crop_size must be a '
                         f'multiple of the head output stride)')
    canvas[:, :, y1:y2, x1:x2] = values


def fuse_scales(lr_seg, hr_seg, attention, scale_ratio, hr_output_stride, crop_box=None,
                align_corners=False, float32_resize=False):
    """HRDA fusion (docs/REFERENCE.md §4): fused = a·hr + up((1 − a)·lr) with a = attention.

    lr_seg: B×C×h×w context logits; attention: B×{C|1}×h×w in [0, 1] or a float.
    hr_seg: detail logits, B×C×(crop/os) of the crop at crop_box (training) or B×C×(s·h)×(s·w)
    over the whole image (crop_box None); scale_ratio s = hr_scale / lr_scale.
    crop_box: in detail-image pixels; divided by hr_output_stride for the detail logits and by
    hr_output_stride·s for the context logits, where the attention is zeroed outside it.
    float32_resize: the bilinear resizes in float32 under autocast (mixed_precision.fp32_upsample).
    Returns (fused B×C×(s·h)×(s·w), the weighted context (1 − a)·lr, a upsampled).
    """
    if crop_box is not None:
        y1, y2, x1, x2 = scale_box(crop_box, hr_output_stride * scale_ratio)
        mask = lr_seg.new_zeros((lr_seg.shape[0], 1, *lr_seg.shape[2:]))
        mask[:, :, y1:y2, x1:x2] = 1
        attention = attention * mask
    lr_seg = (1 - attention) * lr_seg
    up_lr_seg = resize(lr_seg, scale_factor=scale_ratio, mode='bilinear',
                       align_corners=align_corners, float32=float32_resize)
    if torch.is_tensor(attention):
        attention = resize(attention, scale_factor=scale_ratio, mode='bilinear',
                           align_corners=align_corners, float32=float32_resize)
    if crop_box is not None:
        hr_inserted = torch.zeros_like(up_lr_seg)
        _insert(hr_inserted, hr_seg, scale_box(crop_box, hr_output_stride), 'detail logits')
    elif hr_seg.shape[2:] != up_lr_seg.shape[2:]:
        # Rounding of odd input sizes can leave the two grids a cell apart.
        hr_inserted = resize(hr_seg, size=up_lr_seg.shape[2:], mode='bilinear',
                             align_corners=align_corners, float32=float32_resize)
    else:
        hr_inserted = hr_seg
    return attention * hr_inserted + up_lr_seg, lr_seg, attention


def _attention_head_cfg(head_cfg, embed_dim, classwise):
    """The scale-attention head: the single-scale head at embed_dim width, 1×1 conv fusion."""
    cfg = copy.deepcopy(head_cfg)
    if cfg['type'] == 'DAFormerHead':
        cfg['channels'] = embed_dim
        decoder_params = copy.deepcopy(cfg.get('decoder_params') or {})
        decoder_params['embed_dims'] = embed_dim
        fusion = decoder_params.get('fusion_cfg', {})
        if fusion.get('type') == 'aspp':
            decoder_params['fusion_cfg'] = dict(
                type='conv', kernel_size=1, act_cfg=fusion.get('act_cfg', dict(type='ReLU')),
                norm_cfg=fusion.get('norm_cfg'))
        cfg['decoder_params'] = decoder_params
    if not classwise:
        cfg['num_classes'] = 1
    return cfg


@HEADS.register_module()
class HRDAHead(BaseDecodeHead):
    """inputs = [context features, detail features | {'features', 'boxes'} of slid windows].

    ``head`` decodes both scales, ``scale_attention`` (sigmoid) weighs them; the segmentor sets
    ``hr_crop_box`` before a training forward. Output: fused logits at the detail stride.
    """

    def __init__(self, single_scale_head, lr_loss_weight=0, hr_loss_weight=0, scales=[1],
                 attention_embed_dim=256, attention_classwise=True, enable_hr_crop=False,
                 hr_slide_inference=True, fixed_attention=None, debug_output_attention=False,
                 **kwargs):
        if single_scale_head not in _HEAD_OUTPUT_STRIDES:
            raise ValueError(f'HRDAHead single_scale_head must be one of '
                             f'{sorted(_HEAD_OUTPUT_STRIDES)}, got {single_scale_head!r}')
        head_cfg = dict(copy.deepcopy(kwargs), type=single_scale_head)
        base_kwargs = copy.deepcopy(kwargs)
        base_kwargs['init_cfg'] = None  # no classifier of its own to initialise
        if single_scale_head == 'DAFormerHead':
            head_cfg.pop('input_transform', None)  # DAFormerHead sets it itself
            base_kwargs['input_transform'] = 'multiple_select'
        else:
            base_kwargs.pop('dilations', None)
            base_kwargs['channels'] = 1
        super().__init__(**base_kwargs)
        # Both scales are decoded by self.head; the fused output needs no classifier here.
        del self.conv_seg
        del self.dropout
        self.os = _HEAD_OUTPUT_STRIDES[single_scale_head]
        self.head = build_head(head_cfg)
        self.fixed_attention = fixed_attention
        self.scale_attention = None
        if fixed_attention is None:
            self.scale_attention = build_head(
                _attention_head_cfg(head_cfg, attention_embed_dim, attention_classwise))
        self.lr_loss_weight = lr_loss_weight
        self.hr_loss_weight = hr_loss_weight
        self.scales = sorted(scales)
        self.enable_hr_crop = enable_hr_crop
        self.hr_slide_inference = hr_slide_inference
        self.debug_output_attention = debug_output_attention
        self._configured_output = (fixed_attention, debug_output_attention)
        self.hr_crop_box = None

    def set_hr_crop_box(self, box):
        self.hr_crop_box = box

    def reset_crop(self):
        self.hr_crop_box = None

    def set_output_mode(self, mode):
        """--hrda-out: '' fused, 'LR' context only, 'HR' detail only, 'ATT' the attention."""
        if mode not in _HRDA_MODES:
            raise ValueError(f'HRDA output mode must be one of {_HRDA_MODES}, got {mode!r}')
        self.fixed_attention, self.debug_output_attention = self._configured_output
        if mode == 'LR':
            self.fixed_attention = 0.0
        elif mode == 'HR':
            self.fixed_attention = 1.0
        elif mode == 'ATT':
            self.debug_output_attention = True

    def decode_hr(self, inputs, batch_size):
        """Detail logits; slid windows ({'features', 'boxes'}) are merged by averaging."""
        if not (isinstance(inputs, dict) and 'boxes' in inputs):
            return self.head(inputs)
        boxes = [scale_box(box, self.os) for box in inputs['boxes']]
        window_logits = self.head(inputs['features'])  # windows·B, window-major
        out_size = (max(b[1] for b in boxes), max(b[3] for b in boxes))
        if window_logits.shape[0] != batch_size * len(boxes):
            raise ValueError(f'{window_logits.shape[0]} window logits for {len(boxes)} windows '
                             f'of {batch_size} images')
        return merge_window_logits(window_logits, boxes, out_size)

    def get_scale_attention(self, inputs):
        if self.fixed_attention is not None:
            return self.fixed_attention
        return torch.sigmoid(self.scale_attention(inputs))

    def forward(self, inputs):
        """(fused, (1 − a)·context, detail) logits; the attention map alone under 'ATT'."""
        if len(inputs) != 2:
            raise ValueError(f'HRDAHead needs [context features, detail features], got '
                             f'{len(inputs)} entries')
        lr_inputs, hr_inputs = inputs
        lr_seg = self.head(lr_inputs)
        hr_seg = self.decode_hr(hr_inputs, lr_seg.shape[0])
        attention = self.get_scale_attention(lr_inputs)
        fused, lr_seg, attention = fuse_scales(
            lr_seg, hr_seg, attention, self.scales[1] / self.scales[0], self.os,
            crop_box=self.hr_crop_box, align_corners=self.align_corners,
            float32_resize=self.fp32_upsample)
        if self.debug_output_attention:
            # docs/REFERENCE.md §4: the attention summed over classes, weighted by the fused softmax.
            attention = torch.sum(attention * torch.softmax(fused, dim=1), dim=1, keepdim=True)
            return attention, None, None
        return fused, lr_seg, hr_seg

    def forward_train(self, inputs, img_metas, gt_semantic_seg, train_cfg, seg_weight=None,
                      return_logits=False):
        """Losses of the fused, detail and context outputs (+ ``logits``: the fused one)."""
        if self.enable_hr_crop and self.hr_crop_box is None:
            raise RuntimeError('HRDAHead.forward_train with enable_hr_crop needs the crop box: '
                               'the segmentor must call set_hr_crop_box first')
        try:
            seg_logits = self.forward(inputs)
            losses = self.losses(seg_logits, gt_semantic_seg, seg_weight)
        finally:
            self.reset_crop()
        if return_logits:
            losses['logits'] = seg_logits[0]
        return losses

    def forward_test(self, inputs, img_metas, test_cfg):
        return self.forward(inputs)[0]

    def losses(self, seg_logit, seg_label, seg_weight=None):
        """Fused loss × (1 − hr_w − lr_w), + ``hr.*`` on the crop × hr_w, + ``lr.*`` × lr_w.

        The ``lr`` logits are the attention-weighted context, as in the original.
        """
        fused, lr_seg, hr_seg = seg_logit
        loss = super().losses(fused, seg_label, seg_weight)
        if self.lr_loss_weight == 0 and self.hr_loss_weight == 0:
            return loss
        if self.lr_loss_weight > 0:
            loss.update(add_prefix(super().losses(lr_seg, seg_label, seg_weight), 'lr'))
            loss['lr.loss_seg'] = loss['lr.loss_seg'] * self.lr_loss_weight
        if self.hr_loss_weight > 0:
            hr_label, hr_weight = seg_label, seg_weight
            if self.enable_hr_crop:
                hr_label = crop(seg_label, self.hr_crop_box)
                hr_weight = crop(seg_weight, self.hr_crop_box) if seg_weight is not None \
                    else None
            loss.update(add_prefix(super().losses(hr_seg, hr_label, hr_weight), 'hr'))
            loss['hr.loss_seg'] = loss['hr.loss_seg'] * self.hr_loss_weight
        loss['loss_seg'] = loss['loss_seg'] * (1 - self.lr_loss_weight - self.hr_loss_weight)
        return loss

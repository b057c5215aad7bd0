"""HRDA segmentor: a low-resolution context crop and a high-resolution detail crop (docs/REFERENCE.md §4)."""
import torch
import torch.utils.checkpoint as cp

from mmseg.ops import resize
from ..builder import SEGMENTORS
from ..decode_heads.hrda_head import crop, get_crop_bbox
from ..utils.sliding_window import slide_window_boxes
from .encoder_decoder import EncoderDecoder

__all__ = ['HRDAEncoderDecoder']

_FEATURE_SCALE_ALL = 'all'


@SEGMENTORS.register_module()
class HRDAEncoderDecoder(EncoderDecoder):
    """Two scales (sorted ascending: 0 = context, 1 = detail) through one backbone, fused by
    ``HRDAHead``. Training uses a random hr_crop_size detail crop; pseudo-labels and tests slide
    overlapping hr_crop_size windows over the detail image as one batch.
    """

    def __init__(self, backbone, decode_head, neck=None, auxiliary_head=None, train_cfg=None,
                 test_cfg=None, pretrained=None, init_cfg=None, scales=[1], hr_crop_size=None,
                 hr_slide_inference=True, hr_slide_overlapping=True, crop_coord_divisible=1,
                 blur_hr_crop=False, feature_scale=1, hr_with_cp=False):
        scales = sorted(scales)
        if len(scales) != 2:
            raise ValueError(f'HRDAEncoderDecoder needs two scales (context, detail), got '
                             f'{scales}')
        if auxiliary_head is not None:
            raise ValueError('HRDAEncoderDecoder does not support an auxiliary_head')
        if feature_scale != _FEATURE_SCALE_ALL and feature_scale not in scales:
            raise ValueError(f"feature_scale must be one of the scales {scales} or 'all', got "
                             f"{feature_scale!r}")
        if decode_head.get('type') != 'HRDAHead':
            raise ValueError(f"HRDAEncoderDecoder needs decode_head type 'HRDAHead', got "
                             f"{decode_head.get('type')!r}")
        decode_head = dict(decode_head, scales=scales, enable_hr_crop=hr_crop_size is not None,
                           hr_slide_inference=hr_slide_inference)
        super().__init__(backbone, decode_head, neck=neck, train_cfg=train_cfg,
                         test_cfg=test_cfg, pretrained=pretrained, init_cfg=init_cfg)
        self.scales = scales
        self.feature_scale = feature_scale
        self.crop_size = tuple(hr_crop_size) if hr_crop_size is not None else None
        self.hr_slide_inference = hr_slide_inference
        self.hr_slide_overlapping = hr_slide_overlapping
        self.crop_coord_divisible = crop_coord_divisible
        self.blur_hr_crop = blur_hr_crop
        # Activation checkpointing of the detail crop's backbone pass in training (memory).
        self.hr_with_cp = hr_with_cp
        # Detail crop box of the last training forward, for extract_feat with feature_scale 'all'.
        self.last_train_crop_box = None

    def set_hrda_out(self, mode):
        """tools/test.py --hrda-out: '' fused, 'LR' context, 'HR' detail, 'ATT' attention."""
        self.decode_head.set_output_mode(mode)

    # ----------------------------------------------------------------------------- scaling
    def extract_unscaled_feat(self, img):
        x = self.backbone(img)
        if self.with_neck:
            x = self.neck(x)
        return x

    def resize(self, img, scale):
        """img bilinearly rescaled by ``scale`` (no-op for 1)."""
        if scale == 1:
            return img
        return resize(img, scale_factor=scale, mode='bilinear', align_corners=self.align_corners)

    def blur_downup(self, img, scale=0.5):
        """Down- and up-sample (a detail input as blurry as the context one)."""
        return self.resize(self.resize(img, scale), 1 / scale)

    def scaled_input(self, img, scale):
        if scale == 1 and self.blur_hr_crop:
            return self.blur_downup(img)
        return self.resize(img, scale)

    def extract_feat(self, img, crop_box=None):
        """Features at feature_scale (docs/REFERENCE.md §3.3 step 3 compares these); for 'all' a list over
        scales, the detail one cropped at crop_box (default: the last training crop)."""
        if self.feature_scale != _FEATURE_SCALE_ALL:
            return self.extract_unscaled_feat(self.resize(img, self.feature_scale))
        crop_box = crop_box if crop_box is not None else self.last_train_crop_box
        feats = []
        for i, scale in enumerate(self.scales):
            scaled = self.scaled_input(img, scale)
            if i >= 1 and self.crop_size is not None:
                if crop_box is None:
                    raise RuntimeError("extract_feat with feature_scale 'all' needs the detail "
                                       'crop box: pass crop_box or run forward_train first')
                scaled = crop(scaled, crop_box)
            feats.append(self.extract_unscaled_feat(scaled))
        return feats

    # ----------------------------------------------------------------------------- inference
    def extract_slide_feat(self, img):
        """Features of hr_crop_size windows (stride crop/2 when overlapping) as one batch.

        Returns {'features': per level (windows·B)×C×h×w, window-major; 'boxes': [(y1,y2,x1,x2)]}.
        """
        if self.hr_slide_overlapping:
            stride = tuple(side // 2 for side in self.crop_size)
        else:
            stride = self.crop_size
        boxes = slide_window_boxes(img.shape[2], img.shape[3], self.crop_size, stride)
        windows = torch.cat([crop(img, box) for box in boxes], dim=0)
        return dict(features=self.extract_unscaled_feat(windows), boxes=boxes)

    def encode_decode(self, img, img_metas):
        """Fused logits B×C×H×W at the size of img: context of the whole image, detail by
        overlapping windows, attention not masked (docs/REFERENCE.md §4)."""
        mres_feats = []
        for i, scale in enumerate(self.scales):
            scaled = self.scaled_input(img, scale)
            if i >= 1 and self.hr_slide_inference and self.crop_size is not None:
                mres_feats.append(self.extract_slide_feat(scaled))
            else:
                mres_feats.append(self.extract_unscaled_feat(scaled))
        out = self._decode_head_forward_test(mres_feats, img_metas)
        return resize(out, size=img.shape[2:], mode='bilinear', align_corners=self.align_corners)

    # ----------------------------------------------------------------------------- training
    def _forward_train_features(self, img):
        """Context features of the rescaled image and detail features of a random crop; the
        crop box goes to the head (and last_train_crop_box)."""
        mres_feats = []
        for i, scale in enumerate(self.scales):
            scaled = self.scaled_input(img, scale)
            if i >= 1 and self.crop_size is not None:
                box = get_crop_bbox(*scaled.shape[-2:], self.crop_size,
                                    self.crop_coord_divisible)
                self.last_train_crop_box = box
                self.decode_head.set_hr_crop_box(box)
                scaled = crop(scaled, box)
                if self.hr_with_cp and torch.is_grad_enabled():
                    mres_feats.append(cp.checkpoint(self.extract_unscaled_feat, scaled,
                                                    use_reentrant=False))
                    continue
            mres_feats.append(self.extract_unscaled_feat(scaled))
        return mres_feats

    def forward_train(self, img, img_metas, gt_semantic_seg, seg_weight=None, return_feat=False,
                      return_logits=False):
        """Losses ``decode.*`` (fused), ``decode.hr.*`` / ``decode.lr.*``; ``features`` are those
        of feature_scale (the context features for 0.5; a list over scales for 'all')."""
        mres_feats = self._forward_train_features(img)
        losses = dict()
        if return_feat:
            if self.feature_scale == _FEATURE_SCALE_ALL:
                losses['features'] = mres_feats
            else:
                losses['features'] = mres_feats[self.scales.index(self.feature_scale)]
        losses.update(self._decode_head_forward_train(mres_feats, img_metas, gt_semantic_seg,
                                                      seg_weight, return_logits))
        if return_logits:
            losses['logits'] = self._collect_training_logits(losses, img)
        return losses

    def forward_with_aux(self, img, img_metas):
        """Fused training prediction (random detail crop), resized to 0.5 × the input (AdvSeg,
        docs/REFERENCE.md §3.5): ``{'main': B×C×H/2×W/2}``."""
        mres_feats = self._forward_train_features(img)
        try:
            fused = self.decode_head.forward(mres_feats)[0]
        finally:
            self.decode_head.reset_crop()
        return dict(main=self._resize_training_logits(fused, img))

    def _resize_training_logits(self, logits, img):
        """The fused training prediction goes to the discriminator at 0.5 × the input size."""
        size = tuple(side // 2 for side in img.shape[2:])
        return resize(logits, size=size, mode='bilinear', align_corners=self.align_corners)

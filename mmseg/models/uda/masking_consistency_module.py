"""MIC: masked image consistency (docs/REFERENCE.md §3.4), a module used inside DACS, AdvSeg and MinEnt.

The student must predict, from a block-masked image, the (pseudo-)label of the whole image.
"""
import torch
from torch import nn

from ..utils.dacs_transforms import get_mean_std, strong_transform
from ..utils.masking_transforms import build_mask_generator
from .teacher_module import EMATeacher

__all__ = ['MaskingConsistencyModule', 'MASK_MODES', 'SOURCE_MASK_MODES',
           'MIC_OWN_TEACHER_DEFAULTS']

MASK_MODES = ('separate', 'separateaug', 'separatesrc', 'separatesrcaug', 'separatetrg',
              'separatetrgaug')
# The modes that mask only source images: the ones a source-only run can use.
SOURCE_MASK_MODES = ('separatesrc', 'separatesrcaug')


class MaskingConsistencyModule(nn.Module):
    """Masked training step of MIC; ``teacher`` (an EMATeacher) only when it needs its own.

    cfg: the UDA config (mask_mode, mask_alpha, mask_pseudo_threshold, mask_lambda,
    mask_generator, color_jitter_strength/probability, and for an own teacher model, alpha,
    pseudo_threshold, pseudo_weight_ignore_top/bottom; source_only optional).
    """

    def __init__(self, require_teacher, cfg):
        super().__init__()
        self.mask_mode = cfg['mask_mode']
        if self.mask_mode not in MASK_MODES:
            raise ValueError(f'mask_mode must be one of {MASK_MODES}, got {self.mask_mode!r}')
        if cfg.get('mask_generator') is None:
            raise ValueError(f"mask_mode {self.mask_mode!r} needs a mask_generator, e.g. "
                             "dict(type='block', mask_ratio=0.7, mask_block_size=64)")
        self.source_only = cfg.get('source_only', False)
        if self.source_only and self.mask_mode not in SOURCE_MASK_MODES:
            # Source-only runs (domain generalisation) have no target images to mask.
            raise ValueError(f'uda.mask_mode={self.mask_mode!r} masks target images, but '
                             f'uda.source_only=True trains without them: use one of '
                             f'{SOURCE_MASK_MODES} (docs/domains.md)')
        self.color_jitter_strength = cfg['color_jitter_strength']
        self.color_jitter_probability = cfg['color_jitter_probability']
        self.mask_alpha = cfg['mask_alpha']
        self.mask_pseudo_threshold = cfg['mask_pseudo_threshold']
        self.mask_lambda = cfg['mask_lambda']
        self.mask_gen = build_mask_generator(cfg['mask_generator'])
        self.teacher = None
        if require_teacher or self.mask_alpha != 'same' or self.mask_pseudo_threshold != 'same':
            self.teacher = self._build_teacher(cfg)
        self.debug = False
        self.debug_output = {}

    def _build_teacher(self, cfg):
        """Own EMA teacher: 'same' alpha/threshold mean the host's values (docs/REFERENCE.md §3.4)."""
        alpha = cfg['alpha'] if self.mask_alpha == 'same' else self.mask_alpha
        threshold = cfg['pseudo_threshold'] if self.mask_pseudo_threshold == 'same' \
            else self.mask_pseudo_threshold
        return EMATeacher(cfg['model'], alpha, threshold, cfg['pseudo_weight_ignore_top'],
                          cfg['pseudo_weight_ignore_bottom'])

    def update_weights(self, student, iteration):
        if self.teacher is not None:
            self.teacher.update_weights(student, iteration)

    def forward(self, model, img, img_metas, gt_semantic_seg, target_img, target_img_metas,
                valid_pseudo_mask=None, pseudo_label=None, pseudo_weight=None):
        """Losses of the student ``model`` on the masked batch (``decode.loss_seg`` x lambda).

        pseudo_label / pseudo_weight (B x H x W) are the host's, used without an own teacher.
        """
        if not self.source_only:
            pseudo_label, pseudo_weight = self._pseudo_labels(
                target_img, target_img_metas, valid_pseudo_mask, pseudo_label, pseudo_weight)
        masked_img, masked_lbl, masked_weight = self._select_inputs(
            img, gt_semantic_seg, target_img, pseudo_label, pseudo_weight)
        if 'aug' in self.mask_mode:
            masked_img = self._augment(masked_img, img_metas)
        masked_img = self.mask_gen.mask_image(masked_img)
        losses = model.forward_train(masked_img, img_metas, masked_lbl, seg_weight=masked_weight)
        if self.mask_lambda != 1:
            losses['decode.loss_seg'] = losses['decode.loss_seg'] * self.mask_lambda
        if self.debug:
            self.debug_output = dict(masked_img=masked_img.detach(),
                                     masked_lbl=masked_lbl.detach())
        return losses

    def _pseudo_labels(self, target_img, target_img_metas, valid_pseudo_mask, pseudo_label,
                       pseudo_weight):
        """The own teacher's pseudo-labels, else those shared by the host method."""
        if self.teacher is not None:
            return self.teacher(target_img, target_img_metas, valid_pseudo_mask)
        if pseudo_label is None or pseudo_weight is None:
            raise ValueError('MIC without its own teacher (mask_alpha and '
                             "mask_pseudo_threshold 'same') needs the host's pseudo-labels")
        return pseudo_label, pseudo_weight

    def _select_inputs(self, img, gt_semantic_seg, target_img, pseudo_label, pseudo_weight):
        """Images, labels (B x 1 x H x W) and weights (B x H x W or None) of the mode."""
        if self.mask_mode in SOURCE_MASK_MODES:
            return img, gt_semantic_seg, None
        if self.mask_mode in ('separatetrg', 'separatetrgaug'):
            return target_img, pseudo_label.unsqueeze(1), pseudo_weight
        # separate / separateaug: source image 0 and target image 0 in one batch.
        if img.shape[0] != 2:
            raise ValueError(f'mask_mode {self.mask_mode!r} needs a batch of 2 images '
                             f'(samples_per_gpu=2), got {img.shape[0]}')
        masked_img = torch.stack([img[0], target_img[0]])
        masked_lbl = torch.stack([gt_semantic_seg[0], pseudo_label[0].unsqueeze(0)])
        masked_weight = torch.stack([torch.ones_like(pseudo_weight[0]), pseudo_weight[0]])
        return masked_img, masked_lbl, masked_weight

    def _augment(self, masked_img, img_metas):
        """The strong colour augmentation of DACS with fresh draws (no mixing); the original
        augments the whole masked batch at once, so one blur sigma serves the batch."""
        mean, std = get_mean_std(img_metas, masked_img.device)
        mean, std = mean[:1], std[:1]
        jitter_draw, blur_draw = torch.rand(2).tolist()
        return strong_transform(masked_img.clone(), mean, std, jitter_draw,
                                self.color_jitter_strength, self.color_jitter_probability,
                                blur_draw, same_blur_on_batch=True)


# MIC keys of the AdvSeg and MinEnt configs (docs/REFERENCE.md §3.5): MIC is off unless mask_mode is set and
# then runs with its own EMA teacher whose 'same' values are these.
MIC_OWN_TEACHER_DEFAULTS = dict(
    alpha=0.999,
    mask_alpha='same',
    mask_pseudo_threshold='same',
    pseudo_threshold=0.968,
    pseudo_weight_ignore_top=0,
    pseudo_weight_ignore_bottom=0,
    blur=True,
    color_jitter_strength=0.2,
    color_jitter_probability=0.2,
    mask_mode=None,
    mask_lambda=0,
    mask_generator=None,
)

"""DACS self-training with DAFormer's additions (feature distance, pseudo-label cropping) and
MIC (docs/REFERENCE.md §3.2 - 3.4).

One iteration, in order (each loss is backpropagated when computed): EMA teacher update,
supervised source step, ImageNet feature distance, teacher pseudo-labels, ClassMix + strong
augmentation, mixed step, masked (MIC) step, debug images.
"""
import mmcv
import torch

from ..builder import UDA
from ..utils.dacs_transforms import get_class_masks, get_mean_std, one_mix, strong_transform
from ..utils.ema import update_ema_weights
from ..utils.feature_distance import class_mask, downscale_label_ratio, masked_feat_dist
from ..utils.mixed_precision import frozen_weights_cast_once
from .masking_consistency_module import MaskingConsistencyModule
from .teacher_module import build_frozen_segmentor, teacher_pseudo_label
from .uda_decorator import UDADecorator, check_uda_keys

__all__ = ['DACS', 'DACS_DEFAULTS']

# The keys of configs/_base_/uda/dacs.py with their original values (docs/REFERENCE.md §3.2).
DACS_DEFAULTS = dict(
    source_only=False,
    alpha=0.99,
    pseudo_threshold=0.968,
    pseudo_weight_ignore_top=0,
    pseudo_weight_ignore_bottom=0,
    imnet_feature_dist_lambda=0,
    imnet_feature_dist_classes=None,
    imnet_feature_dist_scale_min_ratio=None,
    mix='class',
    blur=True,
    color_jitter_strength=0.2,
    color_jitter_probability=0.2,
    mask_mode=None,
    mask_alpha='same',
    mask_pseudo_threshold='same',
    mask_lambda=0,
    mask_generator=None,
    debug_img_interval=1000,
    print_grad_magnitude=False,
)


@UDA.register_module()
class DACS(UDADecorator):
    """Student ``model``, EMA teacher ``ema_model``, frozen ``imnet_model`` (feature distance
    on), and ``mic`` (MaskingConsistencyModule, when mask_mode is set)."""

    def __init__(self, model, max_iters=None, train_cfg=None, test_cfg=None, init_cfg=None,
                 **cfg):
        check_uda_keys(type(self).__name__, cfg, DACS_DEFAULTS)
        super().__init__(model, max_iters, train_cfg, test_cfg, init_cfg)
        cfg = {**DACS_DEFAULTS, **cfg}
        if cfg['mix'] != 'class':
            raise ValueError(f"DACS supports mix='class' (ClassMix) only, got {cfg['mix']!r}")
        for key, value in cfg.items():
            setattr(self, key, value)
        self.enable_fdist = self.imnet_feature_dist_lambda > 0
        if self.enable_fdist and model.get('feature_scale') == 'all':
            raise ValueError("imnet_feature_dist_lambda > 0 needs one feature scale: HRDA's "
                             "feature_scale='all' gives features of two scales; use 0.5")
        self.ema_model = None if self.source_only else build_frozen_segmentor(model)
        self.imnet_model = build_frozen_segmentor(model) if self.enable_fdist else None
        self.mic = None
        if self.mask_mode is not None:
            self.mic = MaskingConsistencyModule(
                require_teacher=False, cfg=dict(cfg, model=model, max_iters=max_iters))
        self.debug_panels = []

    def get_ema_model(self):
        return getattr(self.ema_model, 'module', self.ema_model)

    def get_imnet_model(self):
        return getattr(self.imnet_model, 'module', self.imnet_model)

    def forward_train(self, img, img_metas, gt_semantic_seg, target_img=None,
                      target_img_metas=None, valid_pseudo_mask=None):
        """One DACS(+FD, +MIC) iteration; losses are backpropagated here. Returns log_vars.

        img: B x 3 x H x W source images, gt_semantic_seg: B x 1 x H x W train IDs. With
        ``source_only`` the target batch may be absent (a plain source dataset: domain
        generalisation, docs/domains.md); otherwise a missing target raises ValueError.
        """
        if target_img is None and not self.source_only:
            raise ValueError('DACS got no target images: data.train must be a UDADataset (with '
                             'a target), or set uda.source_only=True to train on the source '
                             'alone (docs/domains.md)')
        debug = self.is_debug_iteration(self.debug_img_interval)
        self.update_teachers()
        log_vars, src_feat = self.train_source(img, img_metas, gt_semantic_seg)
        if self.enable_fdist:
            log_vars.update(self.train_feature_distance(img, gt_semantic_seg, src_feat))
        del src_feat
        pseudo_label, pseudo_weight = None, None
        if not self.source_only:
            pseudo_label, pseudo_weight = teacher_pseudo_label(
                self.get_ema_model(), target_img, target_img_metas, self.pseudo_threshold,
                self.pseudo_weight_ignore_top, self.pseudo_weight_ignore_bottom,
                valid_pseudo_mask)
            mixed_img, mixed_lbl, mixed_weight = self.class_mix(
                img, img_metas, gt_semantic_seg, target_img, pseudo_label, pseudo_weight)
            log_vars.update(self.train_mixed(mixed_img, img_metas, mixed_lbl, mixed_weight))
        if self.mic is not None:
            log_vars.update(self.train_masked(img, img_metas, gt_semantic_seg, target_img,
                                              target_img_metas, valid_pseudo_mask,
                                              pseudo_label, pseudo_weight, debug))
        if debug:
            self.save_debug_images(img_metas, self.debug_panels)
        self.debug_panels = []  # drop the references to this batch's tensors
        self.local_iter += 1
        return log_vars

    def update_teachers(self):
        """Step 1: the EMA teachers follow the student (copy at iteration 0)."""
        if self.ema_model is not None:
            update_ema_weights(self.get_ema_model(), self.get_model(), self.local_iter,
                               self.alpha)
        if self.mic is not None:
            self.mic.update_weights(self.get_model(), self.local_iter)

    def train_source(self, img, img_metas, gt_semantic_seg):
        """Step 2: supervised source loss; the graph is kept for the feature distance."""
        losses = self.get_model().forward_train(img, img_metas, gt_semantic_seg,
                                                return_feat=True)
        src_feat = losses.pop('features')
        log_vars = self.backward_losses(losses, retain_graph=self.enable_fdist)
        if self.print_grad_magnitude:
            self._source_grads = self._backbone_grads()
            mmcv.print_log(f'Seg. Grad.: {self._grad_norm(self._source_grads)}', 'mmseg')
        self.debug_panels += [('Source Image', img, 'image'),
                              ('Source Seg GT', gt_semantic_seg, 'label')]
        return log_vars, src_feat

    def train_feature_distance(self, img, gt_semantic_seg, src_feat):
        """Step 3: lambda x L2 distance to the frozen ImageNet features at the last stage,
        over the pixels whose downscaled source label is one of the chosen classes."""
        imnet_model = self.get_imnet_model()
        imnet_model.eval()
        with torch.no_grad(), frozen_weights_cast_once(imnet_model):
            imnet_feat = imnet_model.extract_feat(img)[-1].detach()
        feat = src_feat[-1]
        mask = None
        if self.imnet_feature_dist_classes is not None:
            scale_factor = gt_semantic_seg.shape[-1] // feat.shape[-1]
            scaled_gt = downscale_label_ratio(gt_semantic_seg, scale_factor,
                                              self.imnet_feature_dist_scale_min_ratio,
                                              self.num_classes)
            mask = class_mask(scaled_gt, self.imnet_feature_dist_classes)
            self.debug_panels += [('Scaled GT', scaled_gt, 'label'), ('FDist Mask', mask, 'gray')]
        feat_dist = self.imnet_feature_dist_lambda * masked_feat_dist(feat, imnet_feat, mask)
        log_vars = self.backward_losses({'loss_imnet_feat_dist': feat_dist}, prefix='src')
        if self.print_grad_magnitude:
            fd_grads = [g2 - g1 for g1, g2 in zip(self._source_grads, self._backbone_grads())]
            mmcv.print_log(f'Fdist Grad.: {self._grad_norm(fd_grads)}', 'mmseg')
        return log_vars

    def class_mix(self, img, img_metas, gt_semantic_seg, target_img, pseudo_label,
                  pseudo_weight):
        """Step 5: ClassMix of source into target, then colour jitter and blur.

        Returns the mixed image (B x 3 x H x W), label (B x 1 x H x W) and weight (B x H x W).
        """
        mix_masks = get_class_masks(gt_semantic_seg)
        mixed_img = one_mix(mix_masks, img, target_img)
        mixed_lbl = one_mix(mix_masks, gt_semantic_seg, pseudo_label.unsqueeze(1))
        mixed_weight = one_mix(mix_masks.squeeze(1), torch.ones_like(pseudo_weight),
                               pseudo_weight)
        mean, std = get_mean_std(img_metas, img.device)
        # One draw per iteration decides whether jitter / blur happen (docs/REFERENCE.md §3.3 step 5).
        jitter_draw, blur_draw = torch.rand(2).tolist()
        mixed_img = strong_transform(mixed_img, mean, std, jitter_draw,
                                     self.color_jitter_strength,
                                     self.color_jitter_probability,
                                     blur_draw if self.blur else 0)
        self.debug_panels += [('Target Image', target_img, 'image'),
                              ('Target Seg (Pseudo) GT', pseudo_label, 'label'),
                              ('Mixed Image', mixed_img, 'image'),
                              ('Domain Mask', mix_masks, 'gray'),
                              ('Seg Targ', mixed_lbl, 'label'),
                              ('Pseudo W.', mixed_weight, 'gray')]
        return mixed_img, mixed_lbl, mixed_weight

    def train_mixed(self, mixed_img, img_metas, mixed_lbl, mixed_weight):
        """Step 6: student loss on the mixed batch, weighted per pixel."""
        losses = self.get_model().forward_train(mixed_img, img_metas, mixed_lbl,
                                                seg_weight=mixed_weight)
        return self.backward_losses(losses, prefix='mix')

    def train_masked(self, img, img_metas, gt_semantic_seg, target_img, target_img_metas,
                     valid_pseudo_mask, pseudo_label, pseudo_weight, debug):
        """Step 7: MIC's masked consistency loss."""
        self.mic.debug = debug
        losses = self.mic(self.get_model(), img, img_metas, gt_semantic_seg, target_img,
                          target_img_metas, valid_pseudo_mask, pseudo_label, pseudo_weight)
        if debug:
            self.debug_panels += [('Masked Image', self.mic.debug_output['masked_img'], 'image'),
                                  ('Masked Label', self.mic.debug_output['masked_lbl'], 'label')]
        return self.backward_losses(losses, prefix='masked')

    def _backbone_grads(self):
        return [p.grad.detach().clone() for p in self.get_model().backbone.parameters()
                if p.grad is not None]

    @staticmethod
    def _grad_norm(grads):
        """Global L2 norm of a list of gradients."""
        if not grads:
            return 0.0
        return torch.norm(torch.stack([torch.norm(g) for g in grads])).item()

"""MinEnt: entropy minimisation on the target domain (ADVENT), optionally with MIC (docs/REFERENCE.md §3.5)."""
import math

import torch
import torch.nn.functional as F

from ..builder import UDA
from .masking_consistency_module import MIC_OWN_TEACHER_DEFAULTS, MaskingConsistencyModule
from .uda_decorator import UDADecorator, check_uda_keys

__all__ = ['MinEnt', 'MINENT_DEFAULTS', 'entropy_loss']

# configs/_base_/uda/minent.py (docs/REFERENCE.md §3.5).
MINENT_DEFAULTS = dict(
    lambda_ent=dict(main=0.001, aux=0.0002),
    debug_img_interval=1000,
    **MIC_OWN_TEACHER_DEFAULTS,
)


def entropy_loss(probs):
    """-sum p log2(p + 1e-30) / (N H W log2 C) of softmax probabilities N x C x H x W."""
    if probs.dim() != 4:
        raise ValueError(f'entropy_loss expects N x C x H x W, got {tuple(probs.shape)}')
    n, c, h, w = probs.shape
    return -torch.sum(probs * torch.log2(probs + 1e-30)) / (n * h * w * math.log2(c))


@UDA.register_module()
class MinEnt(UDADecorator):
    """Source cross-entropy + lambda x target entropy (+ MIC with its own teacher)."""

    def __init__(self, model, max_iters=None, train_cfg=None, test_cfg=None, init_cfg=None,
                 **cfg):
        check_uda_keys(type(self).__name__, cfg, MINENT_DEFAULTS)
        super().__init__(model, max_iters, train_cfg, test_cfg, init_cfg)
        cfg = {**MINENT_DEFAULTS, **cfg}
        self.lambda_ent = dict(cfg['lambda_ent'])
        self.debug_img_interval = cfg['debug_img_interval']
        self.mic = None
        if cfg['mask_mode'] is not None:
            self.mic = MaskingConsistencyModule(
                require_teacher=True, cfg=dict(cfg, model=model, max_iters=max_iters))

    def forward_train(self, img, img_metas, gt_semantic_seg, target_img, target_img_metas,
                      valid_pseudo_mask=None):
        """Source step, target entropy step, MIC step; each backpropagated. Returns log_vars."""
        if self.mic is not None:
            self.mic.update_weights(self.get_model(), self.local_iter)
        losses = self.get_model().forward_train(img, img_metas, gt_semantic_seg)
        log_vars = self.backward_losses(losses)
        pred_trg = self.get_model().forward_with_aux(target_img, target_img_metas)
        losses = {
            f'ent.loss.{k}': self.lambda_ent[k] * entropy_loss(F.softmax(pred, dim=1))
            for k, pred in pred_trg.items()
        }
        log_vars.update(self.backward_losses(losses))
        if self.mic is not None:
            losses = self.mic(self.get_model(), img, img_metas, gt_semantic_seg, target_img,
                              target_img_metas, valid_pseudo_mask)
            log_vars.update(self.backward_losses(losses, prefix='masked'))
        self.save_prediction_debug_images(img_metas, img, gt_semantic_seg, target_img, pred_trg)
        self.local_iter += 1
        return log_vars

"""The base of the UDA methods: a wrapper around the student segmentor (docs/REFERENCE.md §3.1)."""
import os.path as osp
from copy import deepcopy

import torch

from mmseg.core import add_prefix
from ..builder import UDA, build_segmentor
from ..segmentors.base import BaseSegmentor
from ..utils.dacs_transforms import get_mean_std
from ..utils.mixed_precision import autocast, float32
from ..utils.visualization import save_image_grid, to_display_image

__all__ = ['UDADecorator', 'check_uda_keys']


def check_uda_keys(method, given, allowed):
    """Raise a TypeError naming every key of ``given`` that ``method`` does not know."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(f'{method} got unknown config keys {unknown}; allowed keys are '
                        f'{sorted(allowed)}')


@UDA.register_module()
class UDADecorator(BaseSegmentor):
    """Holds the student ``model`` and trains it with one optimizer step per train_step.

    Testing (extract_feat, encode_decode, forward_test, simple_test, aug_test, inference) is
    the student's. Subclasses implement ``forward_train``, which calls backward itself.
    The base class trains on the labelled source batch only.
    """

    def __init__(self, model, max_iters=None, train_cfg=None, test_cfg=None, init_cfg=None):
        super().__init__(init_cfg)
        if not isinstance(model, dict) or 'type' not in model:
            raise TypeError(f'{type(self).__name__} needs the segmentor config as `model` (a '
                            f'dict with a type), got {model!r}')
        self.model_cfg = deepcopy(model)
        self.model = build_segmentor(deepcopy(model))
        self.max_iters = max_iters
        self.train_cfg = train_cfg if train_cfg is not None else model.get('train_cfg')
        self.test_cfg = test_cfg if test_cfg is not None else model.get('test_cfg')
        self.num_classes = self.model.num_classes
        self.local_iter = 0

    def get_model(self):
        """The student segmentor (unwrapped from a DDP wrapper if any)."""
        return getattr(self.model, 'module', self.model)

    # ------------------------------------------------------------------ testing: the student
    def extract_feat(self, img):
        return self.get_model().extract_feat(img)

    def encode_decode(self, img, img_metas):
        return self.get_model().encode_decode(img, img_metas)

    def inference(self, img, img_meta, rescale):
        return self.get_model().inference(img, img_meta, rescale)

    def forward_test(self, imgs, img_metas, **kwargs):
        return self.get_model().forward_test(imgs, img_metas, **kwargs)

    def simple_test(self, img, img_meta, rescale=True):
        return self.get_model().simple_test(img, img_meta, rescale)

    def aug_test(self, imgs, img_metas, rescale=True):
        return self.get_model().aug_test(imgs, img_metas, rescale)

    def show_result(self, img, result, palette=None, **kwargs):
        return self.get_model().show_result(
            img, result, palette=palette if palette is not None else self.PALETTE, **kwargs)

    # ------------------------------------------------------------------ training
    def train_step(self, data_batch, optimizer, **kwargs):
        """zero_grad -> forward_train (backward inside, possibly several times) -> step.

        The config sets ``optimizer_config = None`` so that no optimizer hook steps again.
        Under ``mixed_precision`` the passes run in autocast, the backward passes outside it;
        float16 scales the losses dynamically (``self.grad_scaler``).
        """
        optimizer.zero_grad()
        if self.mixed_precision == torch.float16 and getattr(self, 'grad_scaler', None) is None:
            self.grad_scaler = torch.amp.GradScaler(data_batch['img'].device.type)
        with autocast(self.mixed_precision, data_batch['img']):
            log_vars = self(**data_batch)
        if getattr(self, 'grad_scaler', None) is not None:
            self.grad_scaler.step(optimizer)
            self.grad_scaler.update()
        else:
            optimizer.step()
        log_vars.pop('loss', None)
        return dict(log_vars=log_vars, num_samples=len(data_batch['img_metas']))

    def forward_train(self, img, img_metas, gt_semantic_seg, target_img=None,
                      target_img_metas=None, valid_pseudo_mask=None):
        """Supervised source step only (the target batch is ignored); returns log_vars."""
        losses = self.get_model().forward_train(img, img_metas, gt_semantic_seg)
        log_vars = self.backward_losses(losses)
        self.local_iter += 1
        return log_vars

    def train_state_dict(self):
        """Training state outside the module's state dict, saved in checkpoints for an exact
        resume (mmseg.core.runner): the iteration counter that drives the EMA teachers."""
        return dict(local_iter=self.local_iter)

    def load_train_state_dict(self, state):
        self.local_iter = int(state['local_iter'])

    def backward_losses(self, losses, prefix=None, retain_graph=False):
        """Sum the losses, backpropagate them now, and return their float log vars.

        ``prefix`` names the step in the log keys (``mix.decode.loss_seg``, ...).
        """
        losses = {k: v for k, v in losses.items() if k != 'features'}
        if prefix is not None:
            losses = add_prefix(losses, prefix)
        loss, log_vars = self._parse_losses(losses)
        loss, full_precision = float32(loss)  # the backward pass runs outside autocast
        if getattr(self, 'grad_scaler', None) is not None:
            loss = self.grad_scaler.scale(loss)
        with full_precision:
            loss.backward(retain_graph=retain_graph)
        log_vars.pop('loss', None)
        return log_vars

    # ------------------------------------------------------------------ debug images
    def is_debug_iteration(self, interval):
        """True every ``interval`` iterations when a work_dir is known (train_cfg.work_dir)."""
        work_dir = (self.train_cfg or {}).get('work_dir')
        return bool(interval) and work_dir is not None and self.local_iter % interval == 0

    def save_prediction_debug_images(self, img_metas, img, gt_semantic_seg, target_img,
                                     pred_trg):
        """Debug figure of the output-space methods (AdvSeg, MinEnt) every debug_img_interval
        iterations: source image and label, target image and the student's prediction."""
        if self.is_debug_iteration(self.debug_img_interval):
            self.save_debug_images(img_metas, [
                ('Source Image', img, 'image'), ('Source Seg GT', gt_semantic_seg, 'label'),
                ('Target Image', target_img, 'image'),
                ('Target Pred', pred_trg['main'].argmax(1), 'label')])

    def save_debug_images(self, img_metas, panels):
        """One figure per batch image: ``<work_dir>/debug/<iter:06d>_<j>.png`` (docs/REFERENCE.md §3.3.8).

        panels: list of (title, tensor, kind) where the tensor is batched (B x ...) and kind is
        'image' (normalised 3 x H x W), 'label' (train IDs) or 'gray' (values in [0, 1]).
        """
        out_dir = osp.join(self.train_cfg['work_dir'], 'debug')
        batch_size = len(img_metas)
        mean, std = get_mean_std(img_metas, torch.device('cpu'))
        for j in range(batch_size):
            figure_panels = []
            for title, tensor, kind in panels:
                if tensor is None or tensor.shape[0] <= j:
                    continue
                item = tensor[j].detach().cpu()
                if kind == 'image':
                    figure_panels.append((title, to_display_image(item, mean[j], std[j]), 'rgb'))
                else:
                    figure_panels.append((title, item.float(), kind))
            save_image_grid(osp.join(out_dir, f'{self.local_iter:06d}_{j}.png'), figure_panels)

"""AdvSeg: output-space adversarial adaptation of AdaptSegNet, optionally with MIC (docs/REFERENCE.md §3.5)."""
import torch
import torch.nn.functional as F
from torch import nn, optim

from ..builder import UDA
from .fc_discriminator import FCDiscriminator
from .masking_consistency_module import MIC_OWN_TEACHER_DEFAULTS, MaskingConsistencyModule
from .uda_decorator import UDADecorator, check_uda_keys

__all__ = ['AdvSeg', 'ADVSEG_DEFAULTS']

# configs/_base_/uda/advseg.py (docs/REFERENCE.md §3.5).
ADVSEG_DEFAULTS = dict(
    discriminator_type='LS',
    lr_D=1e-4,
    lr_D_power=0.9,
    lr_D_min=0,
    lambda_adv_target=dict(main=0.001, aux=0.0002),
    debug_img_interval=1000,
    **MIC_OWN_TEACHER_DEFAULTS,
)

SOURCE_DOMAIN, TARGET_DOMAIN = 0, 1


@UDA.register_module()
class AdvSeg(UDADecorator):
    """Student ``model`` and one discriminator per output in ``model_D`` ('main'; 'aux' with
    an auxiliary head), each with its own Adam optimizer and poly learning rate."""

    def __init__(self, model, max_iters=None, train_cfg=None, test_cfg=None, init_cfg=None,
                 **cfg):
        check_uda_keys(type(self).__name__, cfg, ADVSEG_DEFAULTS)
        super().__init__(model, max_iters, train_cfg, test_cfg, init_cfg)
        cfg = {**ADVSEG_DEFAULTS, **cfg}
        if cfg['discriminator_type'] not in ('LS', 'Vanilla'):
            raise ValueError("discriminator_type must be 'LS' (MSE) or 'Vanilla' (BCE), got "
                             f"{cfg['discriminator_type']!r}")
        if max_iters is None:
            raise ValueError('AdvSeg needs max_iters (runner.max_iters) for the D learning rate')
        self.discriminator_type = cfg['discriminator_type']
        self.lr_D, self.lr_D_power, self.lr_D_min = cfg['lr_D'], cfg['lr_D_power'], cfg['lr_D_min']
        self.debug_img_interval = cfg['debug_img_interval']
        outputs = ['main'] + (['aux'] if self.get_model().with_auxiliary_head else [])
        self.lambda_adv_target = {k: cfg['lambda_adv_target'][k] for k in outputs}
        self.model_D = nn.ModuleDict(
            {k: FCDiscriminator(self._num_classes_of(k)) for k in outputs})
        # Plain dict: the D optimizers are no submodules (not in the state dict; their state is
        # in the checkpoint's meta, see train_state_dict).
        self.optimizer_D = {
            k: optim.Adam(self.model_D[k].parameters(), lr=self.lr_D, betas=(0.9, 0.99))
            for k in outputs
        }
        self.mic = None
        if cfg['mask_mode'] is not None:
            self.mic = MaskingConsistencyModule(
                require_teacher=True, cfg=dict(cfg, model=model, max_iters=max_iters))

    def _num_classes_of(self, output):
        model = self.get_model()
        head = model.decode_head if output == 'main' else model.auxiliary_head
        return head.num_classes

    def discriminator_loss(self, logits, domain):
        """LS: MSE to the domain label; Vanilla: BCE with logits."""
        target = torch.full_like(logits, float(domain))
        if self.discriminator_type == 'LS':
            return F.mse_loss(logits, target)
        return F.binary_cross_entropy_with_logits(logits, target)

    def lr_of_discriminator(self, iteration):
        """(lr_D - lr_D_min) (1 - iter / max_iters)^power + lr_D_min."""
        progress = 1 - iteration / self.max_iters
        return (self.lr_D - self.lr_D_min) * progress**self.lr_D_power + self.lr_D_min

    def train_step(self, data_batch, optimizer, **kwargs):
        """Like UDADecorator.train_step, plus the discriminators' Adam.

        As in the original AdvSeg, the discriminators are submodules of this model, so the
        runner's segmentor optimizer (SGD for the DeepLabV2 runs of the paper's experiment 81)
        holds their parameters too and steps them again, with the gradients of step (d), after
        their own Adam: each iteration the discriminator gets both updates. (The Adam step is
        here, after the forward pass, so that under DDP it sees the averaged gradients.)
        """
        optimizer.zero_grad()
        log_vars = self(**data_batch)
        for optimizer_D in self.optimizer_D.values():
            optimizer_D.step()
        optimizer.step()
        log_vars.pop('loss', None)
        return dict(log_vars=log_vars, num_samples=len(data_batch['img_metas']))

    def train_state_dict(self):
        """The iteration counter plus the discriminators' Adam states (for an exact resume)."""
        state = super().train_state_dict()
        state['optimizer_D'] = {k: v.state_dict() for k, v in self.optimizer_D.items()}
        return state

    def load_train_state_dict(self, state):
        super().load_train_state_dict(state)
        for key, optimizer_D in self.optimizer_D.items():
            optimizer_D.load_state_dict(state['optimizer_D'][key])

    def forward_train(self, img, img_metas, gt_semantic_seg, target_img, target_img_metas,
                      valid_pseudo_mask=None):
        """(a) source, (b) fool D on target, (c) MIC, (d) train D (its Adam steps in
        train_step). Returns log_vars."""
        for optimizer_D in self.optimizer_D.values():
            optimizer_D.zero_grad()
            for group in optimizer_D.param_groups:
                group['lr'] = self.lr_of_discriminator(self.local_iter)
        if self.mic is not None:
            self.mic.update_weights(self.get_model(), self.local_iter)
        self.model_D.requires_grad_(False)
        losses = self.get_model().forward_train(img, img_metas, gt_semantic_seg,
                                                return_logits=True)
        # The source prediction of step (a) ({'main'[, 'aux']}; HRDA's fused output at half the
        # input size) feeds D in step (d), detached.
        pred_src = {k: v.detach() for k, v in losses.pop('logits').items()}
        log_vars = self.backward_losses(losses)
        pred_trg = self.get_model().forward_with_aux(target_img, target_img_metas)
        log_vars.update(self.train_generator(pred_trg))
        if self.mic is not None:
            losses = self.mic(self.get_model(), img, img_metas, gt_semantic_seg, target_img,
                              target_img_metas, valid_pseudo_mask)
            log_vars.update(self.backward_losses(losses, prefix='masked'))
        self.model_D.requires_grad_(True)
        log_vars.update(self.train_discriminators(pred_src, pred_trg))
        self.save_prediction_debug_images(img_metas, img, gt_semantic_seg, target_img, pred_trg)
        self.local_iter += 1
        return log_vars

    def train_generator(self, pred_trg):
        """(b) lambda x D-loss(D(softmax(target prediction)), source label)."""
        losses = {}
        for k, pred in pred_trg.items():
            d_out = self.model_D[k](F.softmax(pred, dim=1))
            losses[f'G_trg.loss.{k}'] = self.lambda_adv_target[k] * \
                self.discriminator_loss(d_out, SOURCE_DOMAIN)
        return self.backward_losses(losses)

    def train_discriminators(self, pred_src, pred_trg):
        """(d) D learns the domains on detached predictions (each loss halved)."""
        log_vars = {}
        for domain_name, domain, preds in (('D_src', SOURCE_DOMAIN, pred_src),
                                           ('D_trg', TARGET_DOMAIN, pred_trg)):
            losses = {}
            for k, pred in preds.items():
                d_out = self.model_D[k](F.softmax(pred.detach(), dim=1))
                losses[f'{domain_name}.loss.{k}'] = self.discriminator_loss(d_out, domain) / 2
            log_vars.update(self.backward_losses(losses))
        return log_vars

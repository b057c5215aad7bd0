"""mmcv's IterBasedRunner with exact resume, atomic checkpoints and safe loading.

A checkpoint's ``meta`` holds, besides mmcv's keys, ``resume``: the random-number-generator
states (Python, NumPy, torch), the data order (epoch, batches of that epoch already trained,
the epoch's shuffling seed) and the UDA wrapper's training state (its iteration counter; AdvSeg's
discriminator optimizers). ``meta['iter']`` counts the finished iterations, so a resumed run
continues with the next one. See docs/ARCHITECTURE.md, "Resume".
"""
import re
import time
from collections import OrderedDict

import mmcv
import torch
from mmcv.parallel import is_module_wrapper
from mmcv.runner import RUNNERS, IterBasedRunner
from mmcv.runner.checkpoint import get_state_dict, load_state_dict, weights_to_cpu
from torch.optim import Optimizer

from mmseg.utils.errors import UserKeyError, UserRuntimeError

from .checkpoint import (check_state_dict_fits, load_checkpoint_file, save_checkpoint_file,
                         set_rng_state, update_latest_link, get_rng_state)
from .log_buffer import TensorLogBuffer

__all__ = ['ResumableIterBasedRunner']


@RUNNERS.register_module()
class ResumableIterBasedRunner(IterBasedRunner):
    """IterBasedRunner whose checkpoints continue a run exactly (same losses and weights as an
    uninterrupted run when the data loader has no worker processes).

    ``trust_checkpoint``: load checkpoints holding arbitrary pickled objects (unsafe).
    """

    def __init__(self, *args, trust_checkpoint=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.trust_checkpoint = trust_checkpoint
        self._pending_resume = None
        # The losses arrive as device tensors and are read at log time (mmseg/core/log_buffer.py).
        self.log_buffer = TensorLogBuffer()

    @property
    def uda_module(self):
        return self.model.module if is_module_wrapper(self.model) else self.model

    # ------------------------------------------------------------------ saving
    def save_checkpoint(self, out_dir, filename_tmpl='iter_{}.pth', meta=None,
                        save_optimizer=True, create_symlink=True):
        """Write ``iter_<N>.pth`` (N = finished iterations) atomically, then point latest.pth
        at it. A hook with ``check_pending`` (NonFiniteLossHook) first checks the losses it has
        not read yet, so that no checkpoint holds weights of a non-finite iteration."""
        for hook in self.hooks:
            if hasattr(hook, 'check_pending'):
                hook.check_pending(self)
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f'meta should be a dict or None, got {type(meta)}')
        meta = dict(meta or {})
        meta.update(self.meta or {})
        meta.update(epoch=self.epoch + 1, iter=self.iter + 1, mmcv_version=mmcv.__version__,
                    time=time.asctime(), resume=self._resume_state())
        model = self.uda_module
        if getattr(model, 'CLASSES', None) is not None:
            meta.setdefault('CLASSES', model.CLASSES)
        checkpoint = dict(meta=meta, state_dict=weights_to_cpu(get_state_dict(model)))
        if save_optimizer and isinstance(self.optimizer, Optimizer):
            checkpoint['optimizer'] = self.optimizer.state_dict()
        elif save_optimizer and isinstance(self.optimizer, dict):
            checkpoint['optimizer'] = {k: v.state_dict() for k, v in self.optimizer.items()}
        filename = filename_tmpl.format(self.iter + 1)
        save_checkpoint_file(checkpoint, f'{out_dir}/{filename}')
        if create_symlink:
            update_latest_link(out_dir, filename)

    def _resume_state(self):
        state = dict(rng=get_rng_state(), data=self._data_state())
        if hasattr(self.uda_module, 'train_state_dict'):
            state['uda'] = self.uda_module.train_state_dict()
        return state

    def _data_state(self):
        """Epoch of the training loader, batches of it already trained, its shuffling seed."""
        loader = getattr(self, 'data_loader', None)
        if loader is None or not hasattr(loader, '_dataloader') or self.mode != 'train':
            return None
        batches = self.iter + 1 - loader.epoch * len(loader)
        seed = getattr(getattr(loader._dataloader, 'sampler', None), 'seed', None)
        return dict(epoch=loader.epoch, batches=batches, seed=seed)

    # ------------------------------------------------------------------ loading
    def load_checkpoint(self, filename, map_location='cpu', strict=False,
                        revise_keys=((r'^module\.', ''), )):
        """Load weights from ``filename`` (safe loading unless trust_checkpoint; URLs such as
        open-mmlab:// go through mmcv's loaders)."""
        if '://' in str(filename):
            return super().load_checkpoint(filename, map_location, strict, list(revise_keys))
        checkpoint = load_checkpoint_file(filename, map_location, trust=self.trust_checkpoint)
        if not isinstance(checkpoint, dict):
            raise UserRuntimeError(f'{filename} holds a {type(checkpoint).__name__}, expected a '
                                   "dict with a 'state_dict'")
        state_dict = checkpoint.get('state_dict', checkpoint)
        for pattern, replacement in revise_keys:
            state_dict = OrderedDict((re.sub(pattern, replacement, k), v)
                                     for k, v in state_dict.items())
        if strict:  # one line naming the keys, instead of mmcv's RuntimeError listing
            check_state_dict_fits(self.uda_module, state_dict, filename)
        load_state_dict(self.uda_module, state_dict, strict, self.logger)
        return checkpoint

    def resume(self, checkpoint, resume_optimizer=True, map_location='cpu'):
        """Restore weights, optimizer, counters; the random and data state are restored when
        training starts (after the data loaders exist)."""
        if map_location == 'default':
            map_location = 'cpu' if not torch.cuda.is_available() else None
        filename = checkpoint
        # Resuming continues this model's run: the checkpoint must fit it exactly (the same
        # keys and shapes), never a partial load of another model's weights.
        checkpoint = self.load_checkpoint(filename, map_location=map_location, strict=True)
        meta = checkpoint.get('meta') or {}
        if 'iter' not in meta:
            raise UserKeyError(f'{filename} has no meta.iter: not a checkpoint of a training run '
                           f'(use --load-from to start from its weights)')
        self._epoch, self._iter, self._inner_iter = meta.get('epoch', 0), meta['iter'], meta['iter']
        # The hooks' messages (the best score so far of save_best), as mmcv's resume keeps them.
        if self.meta is None:
            self.meta = {}
        self.meta.setdefault('hook_msgs', {}).update(meta.get('hook_msgs') or {})
        if 'optimizer' in checkpoint and resume_optimizer:
            if isinstance(self.optimizer, dict):
                for key, optimizer in self.optimizer.items():
                    optimizer.load_state_dict(checkpoint['optimizer'][key])
            else:
                self.optimizer.load_state_dict(checkpoint['optimizer'])
        state = meta.get('resume')
        if state is None:
            self.logger.warning(f'{filename} was written without resume state: the random '
                                'generators, the data order and the UDA iteration counter '
                                'start afresh')
        else:
            if state.get('uda') is not None and hasattr(self.uda_module, 'load_train_state_dict'):
                self.uda_module.load_train_state_dict(state['uda'])
            self._pending_resume = state
        self.logger.info(f'resumed from {filename}: {self.iter} iterations done, continuing '
                         f'with iteration {self.iter + 1}')

    # ------------------------------------------------------------------ training
    def train(self, data_loader, **kwargs):
        if self._pending_resume is not None:
            state, self._pending_resume = self._pending_resume, None
            self._restore_data_and_rng(data_loader, state)
        super().train(data_loader, **kwargs)

    def _restore_data_and_rng(self, loader, state):
        """Continue the interrupted epoch (same permutation, trained batches skipped), or start
        the next one as the uninterrupted run would; then restore the generators."""
        data = state.get('data')
        dataloader = loader._dataloader
        sampler = getattr(dataloader, 'sampler', None)
        if data is None:
            set_rng_state(state['rng'])
            return
        if data['batches'] >= len(loader):  # the epoch was complete
            loader._epoch = data['epoch'] + 1
            set_rng_state(state['rng'])
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(loader._epoch)
            loader.iter_loader = iter(dataloader)
            return
        loader._epoch = data['epoch']
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(loader._epoch)
        if hasattr(sampler, 'resume_from') and data.get('seed') is not None:
            sampler.resume_from(data['seed'], data['batches'] * dataloader.batch_size)
        else:
            self.logger.warning(f'the {type(sampler).__name__} cannot skip to the resumed '
                                'position: this epoch restarts from its beginning')
        loader.iter_loader = iter(dataloader)
        set_rng_state(state['rng'])

"""Stop a training run at the first non-finite loss, before it is written into a checkpoint."""
import math

import torch
from mmcv.runner import HOOKS, Hook

from ..checkpoint import find_latest_checkpoint

__all__ = ['NonFiniteLossHook']


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise FloatingPointError naming the iteration, the loss terms that are NaN or Inf and the
    last good checkpoint of the work_dir.

    It reads the log variables the method returns (``runner.outputs['log_vars']``). Python
    floats are checked every iteration. Tensors (the losses stay on the training device, see
    docs/performance.md) are not copied to the host every iteration: each iteration keeps one
    concatenated tensor of its values on the device (no host sync), and every ``interval``
    iterations, at the last iteration and before any checkpoint is written
    (``check_pending``, called by ``ResumableIterBasedRunner.save_checkpoint``) all kept
    iterations are read in one device-to-host copy; the first non-finite one is named. Register
    it with a priority above the checkpoint hook (train_segmentor uses 'VERY_HIGH').
    """

    def __init__(self, interval=50):
        self.interval = interval
        self._pending = []  # (iteration, {key: number of values}, values on the device)

    def after_train_iter(self, runner):
        log_vars = (getattr(runner, 'outputs', None) or {}).get('log_vars') or {}
        tensors = {k: v for k, v in log_vars.items() if torch.is_tensor(v)}
        bad = {k: v for k, v in log_vars.items()
               if isinstance(v, float) and not math.isfinite(v)}
        if tensors:
            values = [v.detach().reshape(-1).float() for v in tensors.values()]
            sizes = {k: v.numel() for k, v in zip(tensors, values)}
            self._pending.append((runner.iter + 1, sizes, torch.cat(values)))
        if bad:
            self.check_pending(runner)  # an earlier iteration's tensors may be the first
            raise FloatingPointError(self._message(runner, runner.iter + 1, bad))
        if self.every_n_iters(runner, self.interval) or self.is_last_iter(runner):
            self.check_pending(runner)

    def check_pending(self, runner):
        """Read the kept iterations' tensors (one copy); raise for the first non-finite one."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        host = torch.cat([values for _, _, values in pending]).cpu()
        if bool(torch.isfinite(host).all()):
            return
        start = 0
        for iteration, sizes, _ in pending:
            bad = {}
            for key, size in sizes.items():
                value = host[start:start + size]
                start += size
                if not bool(torch.isfinite(value).all()):
                    bad[key] = value.item() if size == 1 else value.tolist()
            if bad:
                raise FloatingPointError(self._message(runner, iteration, bad))

    @staticmethod
    def _message(runner, iteration, bad):
        terms = ', '.join(f'{k} = {v}' for k, v in bad.items())
        latest = find_latest_checkpoint(runner.work_dir) if runner.work_dir else None
        resume = (f'the last good checkpoint is {latest} (continue with --resume-from {latest} '
                  f'after lowering the learning rate or checking the data)' if latest else
                  'no checkpoint was written before it')
        return (f'non-finite loss at iteration {iteration}: {terms}. The run stops; '
                f'{resume}.')

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
    floats (the values are already on the host) are checked every iteration at no cost; tensor
    values would need a device-to-host copy, so they are checked only every ``interval``
    iterations (a NaN is then reported up to ``interval - 1`` iterations late, when it persists:
    a NaN loss makes NaN weights). Register it with a priority above the checkpoint hook
    (train_segmentor uses 'VERY_HIGH') so that a broken iteration is never saved.
    """

    def __init__(self, interval=50):
        self.interval = interval

    def after_train_iter(self, runner):
        log_vars = (getattr(runner, 'outputs', None) or {}).get('log_vars') or {}
        tensors = {k: v for k, v in log_vars.items() if torch.is_tensor(v)}
        if tensors and not self.every_n_iters(runner, self.interval):
            log_vars = {k: v for k, v in log_vars.items() if k not in tensors}
        bad = {}
        for key, value in log_vars.items():
            value = value.detach().float().cpu() if torch.is_tensor(value) else value
            if torch.is_tensor(value) and not torch.isfinite(value).all():
                bad[key] = value.tolist()
            elif isinstance(value, float) and not math.isfinite(value):
                bad[key] = value
        if bad:
            raise FloatingPointError(self._message(runner, bad))

    @staticmethod
    def _message(runner, bad):
        terms = ', '.join(f'{k} = {v}' for k, v in bad.items())
        latest = find_latest_checkpoint(runner.work_dir) if runner.work_dir else None
        resume = (f'the last good checkpoint is {latest} (continue with --resume-from {latest} '
                  f'after lowering the learning rate or checking the data)' if latest else
                  'no checkpoint was written before it')
        return (f'non-finite loss at iteration {runner.iter + 1}: {terms}. The run stops; '
                f'{resume}.')

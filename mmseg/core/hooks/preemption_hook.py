"""Stop a run cleanly on SIGTERM or SIGUSR1: finish the iteration, write a checkpoint, stop.

Cluster schedulers announce the end of a job with a signal: Slurm sends SIGTERM at the time
limit or on preemption (and SIGKILL ``KillWait`` seconds later, 30 by default), and, when the
job asks for it with ``#SBATCH --signal=B:USR1@<seconds>``, SIGUSR1 that many seconds earlier.
``StopSignals`` (a context manager around the training, installed by tools/train.py) only
records that a signal came; ``PreemptionHook``, the last hook of every iteration, then writes
the checkpoint of that iteration (unless the checkpoint hook just did) and raises ``Preempted``
(exit status 75 in tools/train.py). ``--auto-resume`` continues the run from that checkpoint
exactly. Distributed, the ranks agree on the stop (an all-reduce of the flag each iteration), so
that all stop after the same iteration. docs/RUNS.md has the Slurm recipe.
"""
import os
import os.path as osp
import signal
import threading

import torch
import torch.distributed as dist
from mmcv.runner import HOOKS, CheckpointHook, Hook

from ..run_outcome import Preempted

__all__ = ['StopSignals', 'PreemptionHook', 'STOP_SIGNALS']

STOP_SIGNALS = ('SIGTERM', 'SIGUSR1')


class StopSignals:
    """Context manager: while active, the first of ``signals`` that arrives sets ``received``
    (its name). Later ones change nothing: under Slurm the same signal may reach the training
    twice (from Slurm and forwarded by the batch script), and the checkpoint must be written.

    Outside the main thread (where Python cannot install handlers) it does nothing.
    """

    def __init__(self, signals=STOP_SIGNALS):
        self.signals = [getattr(signal, name) for name in signals if hasattr(signal, name)]
        self.received = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.received is not None:
            return
        self.received = signal.Signals(signum).name
        # os.write, not logging: a handler may interrupt the logging module holding its lock.
        os.write(2, f'{self.received} received: the run stops after this iteration and writes '
                    f'a checkpoint\n'.encode())

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}
        return False


def _stop_requested(received):
    """Whether any rank received a stop signal (one all-reduce when distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return received
    device = (torch.device('cuda', torch.cuda.current_device())
              if dist.get_backend() == 'nccl' else torch.device('cpu'))
    flag = torch.tensor([1 if received else 0], dtype=torch.int32, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


@HOOKS.register_module()
class PreemptionHook(Hook):
    """After every iteration: if a stop signal came (on any rank), make sure the checkpoint of
    this iteration is on disk, then raise ``Preempted`` naming it.

    Args:
        stop_signals: a ``StopSignals`` (its ``received`` is read).
    """

    def __init__(self, stop_signals):
        self.stop_signals = stop_signals

    def after_train_iter(self, runner):
        if not _stop_requested(self.stop_signals.received is not None):
            return
        checkpoint = self._save(runner)
        if dist.is_available() and dist.is_initialized():
            dist.barrier()  # no rank exits (and gets the others killed) before rank 0 saved
        name = self.stop_signals.received or 'a stop signal (on another rank)'
        raise Preempted(f'Training stopped by {name} after iteration {runner.iter + 1}: '
                        f'checkpoint {checkpoint} written; to continue, run tools/train.py '
                        f'with --auto-resume or the same run_experiments.py command again',
                        checkpoint=checkpoint)

    @staticmethod
    def _save(runner):
        """The checkpoint of this iteration, written with the checkpoint hook's settings
        unless that hook has just written it. Returns its path."""
        hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
        out_dir = (hook.out_dir if hook is not None and hook.out_dir else runner.work_dir)
        args = dict(hook.args) if hook is not None else {}
        path = osp.join(out_dir, args.get('filename_tmpl', 'iter_{}.pth').format(runner.iter + 1))
        if runner.rank == 0 and not osp.isfile(path):
            runner.save_checkpoint(out_dir, save_optimizer=getattr(hook, 'save_optimizer', True),
                                   **args)
        return path

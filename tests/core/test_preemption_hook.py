"""PreemptionHook and StopSignals: a run that gets SIGTERM/SIGUSR1 finishes its iteration,
writes a checkpoint and stops; resumed, it ends as an uninterrupted run (docs/RUNS.md). The
ranks of a distributed run agreeing on the stop: tests/tools/test_dist_train.py."""
import logging
import os
import random
import signal

import numpy as np
import pytest
import torch
from mmcv.parallel import MMDataParallel
from torch import nn

from mmseg.core.hooks.preemption_hook import PreemptionHook, StopSignals
from mmseg.core.run_outcome import EXIT_PREEMPTED, Preempted
from mmseg.core.runner import ResumableIterBasedRunner
from mmseg.datasets import build_dataloader


class Items(torch.utils.data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, idx):
        return dict(idx=torch.tensor(idx), aug=torch.tensor(np.random.rand()))


class SignallingModel(nn.Module):
    """Sends ``signum`` to its own process during iteration ``signal_at`` (1-based)."""

    def __init__(self, signal_at=None, signum=signal.SIGTERM):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(3))
        self.signal_at, self.signum = signal_at, signum
        self.seen = []

    def train_step(self, data_batch, optimizer, **kwargs):
        noise = torch.rand(3)
        self.seen.append((data_batch['idx'].tolist(), noise.tolist(), random.random()))
        if len(self.seen) == self.signal_at:
            os.kill(os.getpid(), self.signum)  # as Slurm would, in the middle of the step
        optimizer.zero_grad()
        loss = ((self.weight - noise)**2).sum() * (1 + data_batch['aug'].sum())
        loss.backward()
        optimizer.step()
        return dict(log_vars=dict(loss=loss.item()), num_samples=2)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    import mmcv.runner.iter_based_runner as iter_based_runner
    monkeypatch.setattr(iter_based_runner.time, 'sleep', lambda seconds: None)


def _train(work_dir, max_iters, model, resume_from=None, seed=0):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    runner = ResumableIterBasedRunner(
        model=MMDataParallel(model), optimizer=torch.optim.Adam(model.parameters(), lr=0.1),
        work_dir=str(work_dir), logger=logging.getLogger('test_preemption'),
        max_iters=max_iters)
    runner.register_training_hooks(lr_config=None, optimizer_config=None,
                                   checkpoint_config=dict(interval=100))
    with StopSignals() as stop_signals:
        runner.register_hook(PreemptionHook(stop_signals), priority='LOWEST')
        if resume_from is not None:
            runner.resume(str(resume_from))
        loader = build_dataloader(Items(), 2, 0, dist=False, seed=seed, drop_last=True)
        runner.run([loader], [('train', 1)])
    return model


def test_stop_signals_records_the_signal_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGUSR1)
    with StopSignals() as stop_signals:
        assert stop_signals.received is None
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR1)  # a second one does not end the process
        assert stop_signals.received == 'SIGUSR1'
    assert signal.getsignal(signal.SIGUSR1) is before


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGUSR1])
def test_signal_mid_iteration_saves_that_iteration_and_resume_is_exact(tmp_path, signum):
    full = _train(tmp_path / 'full', 7, SignallingModel())
    with pytest.raises(Preempted) as stop:
        _train(tmp_path / 'cut', 7, SignallingModel(signal_at=3, signum=signum))
    checkpoint = tmp_path / 'cut' / 'iter_3.pth'
    assert stop.value.checkpoint == str(checkpoint)
    assert stop.value.exit_code == EXIT_PREEMPTED == 75
    assert str(stop.value) == (
        f'Training stopped by {signal.Signals(signum).name} after iteration 3: checkpoint '
        f'{checkpoint} written; to continue, run tools/train.py with --auto-resume or the '
        f'same run_experiments.py command again')
    assert sorted(p.name for p in (tmp_path / 'cut').glob('iter_*.pth')) == ['iter_3.pth']
    assert torch.load(checkpoint, weights_only=True)['meta']['iter'] == 3
    resumed = _train(tmp_path / 'cut', 7, SignallingModel(), resume_from=checkpoint, seed=9)
    assert resumed.seen == full.seen[3:]
    torch.testing.assert_close(resumed.weight, full.weight, rtol=0, atol=0)

"""ResumableIterBasedRunner: a resumed run continues exactly where the interrupted one stopped
(data order, random generators, optimizer, the UDA wrapper's iteration counter)."""
import logging
import random

import numpy as np
import pytest
import torch
from mmcv.parallel import MMDataParallel
from torch import nn

from mmseg.core.runner import ResumableIterBasedRunner
from mmseg.datasets import build_dataloader


class Items(torch.utils.data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, idx):
        # per-sample randomness as in a pipeline (random crop/flip draw numpy)
        return dict(idx=torch.tensor(idx), aug=torch.tensor(np.random.rand()))


class CountingModel(nn.Module):
    """Records what every iteration saw; has a UDA-like iteration counter."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(3))
        self.local_iter = 0
        self.seen = []

    def train_step(self, data_batch, optimizer, **kwargs):
        noise = torch.rand(3)  # e.g. masks, dropout
        self.seen.append((data_batch['idx'].tolist(), data_batch['aug'].tolist(),
                          noise.tolist(), random.random(), self.local_iter))
        optimizer.zero_grad()
        loss = ((self.weight - noise)**2).sum() * (1 + data_batch['aug'].sum())
        loss.backward()
        optimizer.step()
        self.local_iter += 1
        return dict(log_vars=dict(loss=loss.item()), num_samples=2)

    def train_state_dict(self):
        return dict(local_iter=self.local_iter)

    def load_train_state_dict(self, state):
        self.local_iter = state['local_iter']


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """mmcv's IterLoader sleeps 2 s at every epoch change and the runner 1 s at the end."""
    import mmcv.runner.iter_based_runner as iter_based_runner
    monkeypatch.setattr(iter_based_runner.time, 'sleep', lambda seconds: None)


def _train(work_dir, max_iters, interval, resume_from=None, seed=0):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = CountingModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    runner = ResumableIterBasedRunner(
        model=MMDataParallel(model), optimizer=optimizer, work_dir=str(work_dir),
        logger=logging.getLogger('test_resume'), max_iters=max_iters)
    runner.register_training_hooks(lr_config=None, optimizer_config=None,
                                   checkpoint_config=dict(interval=interval, max_keep_ckpts=1))
    if resume_from is not None:
        runner.resume(str(resume_from))
    loader = build_dataloader(Items(), 2, 0, dist=False, seed=seed, drop_last=True)
    runner.run([loader], [('train', 1)])
    return model


# 6 samples in batches of 2: 3 batches an epoch. Stopping after 4 is mid-epoch, after 3 is the
# end of an epoch (the next one starts with a fresh permutation).
@pytest.mark.parametrize('stop_at', [4, 3])
def test_resumed_run_sees_what_the_uninterrupted_run_saw(tmp_path, stop_at):
    full = _train(tmp_path / 'full', max_iters=8, interval=8)
    _train(tmp_path / 'cut', max_iters=stop_at, interval=stop_at)
    # A new process: other generator states; resume must restore them.
    resumed = _train(tmp_path / 'cut', max_iters=8, interval=8,
                     resume_from=tmp_path / 'cut' / f'iter_{stop_at}.pth', seed=123)
    assert resumed.seen == full.seen[stop_at:]
    assert resumed.seen[0][-1] == stop_at  # the counter continues, no iteration repeated
    torch.testing.assert_close(resumed.weight, full.weight, rtol=0, atol=0)
    # every epoch is a permutation of the 6 samples
    epoch_1 = sum((s[0] for s in full.seen[3:6]), [])
    assert sorted(epoch_1) == list(range(6))


def test_checkpoint_meta_counts_finished_iterations_and_max_keep(tmp_path):
    _train(tmp_path, max_iters=4, interval=2)
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_4.pth', 'latest.pth']
    meta = torch.load(tmp_path / 'latest.pth', weights_only=True)['meta']
    assert meta['iter'] == 4
    assert meta['resume']['uda'] == dict(local_iter=4)
    assert meta['resume']['data']['batches'] == 1  # epoch 2, its first batch trained

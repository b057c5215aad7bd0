"""NonFiniteLossHook: a NaN loss stops the run naming iteration, term and last good checkpoint."""
import logging

import pytest
import torch
from mmcv.parallel import MMDataParallel
from torch import nn

from mmseg.core.hooks.non_finite_loss_hook import NonFiniteLossHook
from mmseg.core.runner import ResumableIterBasedRunner


class BreaksAtThree(nn.Module):
    def __init__(self, as_tensor):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.calls = 0
        self.as_tensor = as_tensor

    def train_step(self, data_batch, optimizer, **kwargs):
        self.calls += 1
        loss = torch.tensor(float('nan') if self.calls == 3 else 1.0)
        value = loss if self.as_tensor else loss.item()
        return dict(log_vars={'decode.loss_seg': 0.5, 'mix.decode.loss_seg': value},
                    num_samples=1)


def _run(tmp_path, as_tensor, interval, checkpoint_interval=1):
    runner = ResumableIterBasedRunner(
        model=MMDataParallel(BreaksAtThree(as_tensor)),
        optimizer=torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1),
        work_dir=str(tmp_path), logger=logging.getLogger('nan'), max_iters=5)
    runner.register_training_hooks(lr_config=None,
                                   checkpoint_config=dict(interval=checkpoint_interval))
    runner.register_hook(NonFiniteLossHook(interval=interval), priority='VERY_HIGH')
    runner.run([[dict(img=torch.zeros(1))] * 10], [('train', 1)])


@pytest.mark.parametrize('as_tensor,interval', [(False, 50), (True, 1), (True, 50)])
def test_nan_loss_stops_before_its_checkpoint(tmp_path, as_tensor, interval):
    # interval 50: the tensors are read only when a checkpoint is about to be written
    with pytest.raises(FloatingPointError) as info:
        _run(tmp_path, as_tensor, interval)
    message = str(info.value)
    assert 'iteration 3:' in message and 'mix.decode.loss_seg = nan' in message
    assert 'decode.loss_seg = 0.5' not in message
    assert str(tmp_path / 'iter_2.pth') in message
    assert sorted(p.name for p in tmp_path.glob('iter_*.pth')) == ['iter_1.pth', 'iter_2.pth']


def test_tensor_losses_are_read_every_interval_and_name_their_own_iteration(tmp_path):
    # interval 2, no checkpoint before the end: iteration 3's NaN is read at iteration 4 (one
    # copy for iterations 3 and 4) and the message names iteration 3, not 4
    with pytest.raises(FloatingPointError, match=r'iteration 3: mix.decode.loss_seg = nan'):
        _run(tmp_path, as_tensor=True, interval=2, checkpoint_interval=100)
    assert not list(tmp_path.glob('iter_*.pth'))


def test_pending_tensors_are_read_in_one_copy_per_interval():
    class Runner:
        work_dir = None
        iter = 0
        _max_iters = 100
    hook, runner = NonFiniteLossHook(interval=4), Runner()
    for i in range(3):
        runner.iter = i
        runner.outputs = dict(log_vars={'loss_a': torch.tensor(1.0), 'loss_b': torch.tensor(2.)})
        hook.after_train_iter(runner)
    assert len(hook._pending) == 3  # nothing read yet
    runner.iter = 3
    hook.after_train_iter(runner)  # iteration 4: the interval
    assert hook._pending == []

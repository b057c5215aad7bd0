"""UDATensorboardLoggerHook: losses, learning rate, validation mIoU and debug figures in TensorBoard."""
import logging
import os

import mmcv
import numpy as np
import pytest
import torch
from mmcv.parallel import MMDataParallel
from mmcv.runner import IterBasedRunner
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmseg.core import EvalHook

event_accumulator = pytest.importorskip('tensorboard.backend.event_processing.event_accumulator')


class Images(Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(img=torch.full((3, 4, 6), float(idx)))

    def evaluate(self, results, metric='mIoU', logger=None, **kwargs):
        return dict(mIoU=0.25 * len(results))


class DebugWritingModel(nn.Module):
    """Loss w² (w halves towards 0 under SGD lr 0.25); writes a debug figure every 2nd step, named
    as the UDA methods name theirs."""

    def __init__(self, work_dir):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([2.0]))
        self.work_dir = work_dir
        self.steps = 0

    def train_step(self, data_batch, optimizer, **kwargs):
        self.steps += 1
        if self.steps % 2 == 0:
            figure = np.zeros((8, 10, 3), dtype=np.uint8)
            figure[..., 0] = 10 * self.steps  # B of BGR
            figure[2, 3] = (0, 200, 90)
            mmcv.imwrite(figure, os.path.join(self.work_dir, 'debug', f'{self.steps:06d}_0.png'))
        loss = (self.weight ** 2).sum()
        return dict(loss=loss, log_vars=dict(loss=loss.item()), num_samples=2)


def test_scalars_and_debug_figures_reach_the_event_file(tmp_path):
    model = DebugWritingModel(str(tmp_path))
    runner = IterBasedRunner(MMDataParallel(model), work_dir=str(tmp_path),
                             optimizer=torch.optim.SGD(model.parameters(), lr=0.25),
                             logger=logging.getLogger('test_tensorboard'))
    runner.register_training_hooks(
        lr_config=dict(policy='fixed'), optimizer_config=dict(),
        log_config=dict(interval=1, hooks=[dict(type='UDATensorboardLoggerHook')]))
    runner.register_hook(EvalHook(DataLoader(Images()), interval=2, metric='mIoU',
                                  test_fn=lambda model, loader, efficient_test: [0, 1, 2]),
                         priority='LOW')
    runner.run([DataLoader(Images(), batch_size=2)], [('train', 1)], max_iters=4)

    events = event_accumulator.EventAccumulator(str(tmp_path / 'tf_logs'),
                                                size_guidance={'images': 0, 'scalars': 0})
    events.Reload()
    losses = [(e.step, e.value) for e in events.Scalars('train/loss')]
    # w = 2, 1, 0.5, 0.25 before steps 1..4: loss w²
    assert losses == [(1, 4.0), (2, 1.0), (3, 0.25), (4, 0.0625)]
    # (the learning rate is logged again with the validation metrics at iterations 2 and 4)
    assert sorted({(e.step, e.value) for e in events.Scalars('learning_rate')}) == [
        (i, 0.25) for i in (1, 2, 3, 4)]
    assert [(e.step, e.value) for e in events.Scalars('val/mIoU')] == [(2, 0.75), (4, 0.75)]

    figures = events.Images('debug/0')
    assert [e.step for e in figures] == [2, 4]
    for event in figures:
        decoded = mmcv.imfrombytes(event.encoded_image_string, channel_order='rgb')
        assert decoded.shape == (8, 10, 3)
        assert tuple(decoded[0, 0]) == (0, 0, 10 * event.step)  # RGB of the BGR figure
        assert tuple(decoded[2, 3]) == (90, 200, 0)


def test_default_runtime_logs_to_tensorboard(repo_root):
    cfg = mmcv.Config.fromfile(str(repo_root / 'configs/_base_/default_runtime.py'))
    assert [h['type'] for h in cfg.log_config.hooks] == ['TextLoggerHook',
                                                         'UDATensorboardLoggerHook']

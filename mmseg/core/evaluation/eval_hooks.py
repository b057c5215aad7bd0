"""Evaluation hooks: run the test loop every ``interval`` iterations and log the metrics.

The test loop (``mmseg.apis.single_gpu_test`` / ``multi_gpu_test``) is passed in as ``test_fn``
so that ``core`` never imports ``apis`` (DESIGN.md, imports run one way).
"""
import os.path as osp

import torch.distributed as dist
from mmcv.runner import DistEvalHook as MMCVDistEvalHook
from mmcv.runner import EvalHook as MMCVEvalHook
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['EvalHook', 'DistEvalHook']


class EvalHook(MMCVEvalHook):
    """Evaluate on ``dataloader`` every ``interval`` iterations (by_epoch=False for mic-seg runs).

    Args:
        dataloader: a DataLoader over a dataset with ``evaluate(results, logger=..., **kw)``.
        test_fn: ``test_fn(model, dataloader, efficient_test=...) -> list`` of predictions.
        interval: evaluate after every ``interval``-th iteration (iteration count starts at 1).
        efficient_test: pass predictions as temporary .npy files instead of arrays.
        eval_kwargs: forwarded to ``dataset.evaluate`` (e.g. ``metric='mIoU'``).
    """

    def __init__(self, dataloader, test_fn, interval=1, by_epoch=False, efficient_test=False,
                 **eval_kwargs):
        if not callable(test_fn):
            raise TypeError(f'EvalHook needs the test loop as test_fn, got {test_fn!r}')
        super().__init__(dataloader, interval=interval, by_epoch=by_epoch, test_fn=test_fn,
                         **eval_kwargs)
        self.efficient_test = efficient_test

    def _do_evaluate(self, runner):
        results = self.test_fn(runner.model, self.dataloader, efficient_test=self.efficient_test)
        runner.log_buffer.output['eval_iter_num'] = len(self.dataloader)
        key_score = self.evaluate(runner, results)
        if self.save_best and key_score:
            self._save_ckpt(runner, key_score)


class DistEvalHook(MMCVDistEvalHook):
    """Distributed variant: every rank runs ``test_fn`` on its shard, rank 0 evaluates."""

    def __init__(self, dataloader, test_fn, interval=1, by_epoch=False, efficient_test=False,
                 **eval_kwargs):
        if not callable(test_fn):
            raise TypeError(f'DistEvalHook needs the test loop as test_fn, got {test_fn!r}')
        super().__init__(dataloader, interval=interval, by_epoch=by_epoch, test_fn=test_fn,
                         **eval_kwargs)
        self.efficient_test = efficient_test

    def _do_evaluate(self, runner):
        # Every rank must evaluate with the BatchNorm statistics of rank 0.
        if self.broadcast_bn_buffer:
            for module in runner.model.modules():
                if isinstance(module, _BatchNorm) and module.track_running_stats:
                    dist.broadcast(module.running_var, 0)
                    dist.broadcast(module.running_mean, 0)
        tmpdir = self.tmpdir or osp.join(runner.work_dir, '.eval_hook')
        results = self.test_fn(runner.model, self.dataloader, tmpdir=tmpdir,
                               gpu_collect=self.gpu_collect, efficient_test=self.efficient_test)
        if runner.rank == 0:
            runner.log_buffer.output['eval_iter_num'] = len(self.dataloader)
            key_score = self.evaluate(runner, results)
            if self.save_best and key_score:
                self._save_ckpt(runner, key_score)

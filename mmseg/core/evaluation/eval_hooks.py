"""Evaluation hooks: run the test loop every ``interval`` iterations and log the metrics.

The test loop (``mmseg.apis.single_gpu_test`` / ``multi_gpu_test``) is passed in as ``test_fn``
so that ``core`` never imports ``apis`` (DESIGN.md, imports run one way).

Two guarantees (docs/RUNS.md):

- An evaluation leaves no trace in the training's random stream: it runs with the global
  generators saved before and restored after (``rng_state_preserved``). The checkpoint hook can
  therefore save iteration N before the evaluation of iteration N, and a run resumed from that
  checkpoint draws exactly what the uninterrupted run draws.
- An evaluation that raises (an unreadable image, out of memory) does not end a single-process
  run: the error, the checkpoint kept and the command that evaluates it again are logged (text
  log as an error, JSON log as a val entry ``eval_failed``), the failure is kept in
  ``hook.failures``, and training continues; ``train_segmentor`` raises ``EvaluationFailed``
  at the end. Distributed, the error is logged likewise and then raised: the other ranks wait in
  the test loop's collective, so the run cannot go on.

Several evaluation datasets (``data.val`` a list; docs/evaluation.md): the hook gets a dict
``{name: dataloader}``, evaluates each dataset in turn and logs its metrics as ``<name>/<key>``
(``cityscapes/mIoU``, ``acdc/IoU.road``, ...) plus, under the plain keys (``mIoU``, ``mAcc``,
``aAcc``), the unweighted mean over the datasets, which ``save_best`` and the tools read. With
one dataset nothing changes.
"""
import os
import os.path as osp
import traceback
from collections import OrderedDict

import torch
import torch.distributed as dist
from mmcv.runner import DistEvalHook as MMCVDistEvalHook
from mmcv.runner import EvalHook as MMCVEvalHook
from torch.nn.modules.batchnorm import _BatchNorm

from mmseg.utils.errors import UserInputError
from ..checkpoint import find_latest_checkpoint, rng_state_preserved

__all__ = ['EvalHook', 'DistEvalHook', 'describe_failed_evaluations', 'mean_over_datasets',
           'restore_best_after_resume']


def _kept_checkpoint(runner):
    """This iteration's checkpoint (the checkpoint hook runs first), else the newest one."""
    own = osp.join(runner.work_dir, f'iter_{runner.iter + 1}.pth')
    return own if osp.isfile(own) else find_latest_checkpoint(runner.work_dir)


# The repository's tools/test.py by its absolute path: `python -m tools.test` only works from the
# repository root, and users run from their own folders (docs/RUNS.md).
TEST_SCRIPT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
                       'tools', 'test.py')


def _retest_command(runner, checkpoint):
    config_name = (runner.meta or {}).get('exp_name') or 'CONFIG'
    config = osp.join(runner.work_dir, config_name) if config_name != 'CONFIG' else config_name
    return f'python {TEST_SCRIPT} {config} {checkpoint} --eval mIoU'


def _record_failure(hook, runner, error):
    """Log a failed evaluation (console, text and JSON log) and remember it in hook.failures;
    with several datasets the cause names the one being evaluated."""
    checkpoint = _kept_checkpoint(runner)
    cause = f'{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""}'
    if hook.evaluating is not None:
        cause = f'dataset {hook.evaluating}: {cause}'
        hook.evaluating = None
    if checkpoint is None:
        kept = 'no checkpoint of this run is on disk yet (see checkpoint_config.interval)'
    else:
        kept = (f'checkpoint {checkpoint} is kept; evaluate it again with: '
                f'{_retest_command(runner, checkpoint)}')
    message = f'evaluation after iteration {runner.iter + 1} failed: {cause}. {kept}'
    runner.logger.error(f'{message}\n{traceback.format_exc()}')
    runner.log_buffer.clear_output()
    runner.log_buffer.output['eval_failed'] = cause
    runner.log_buffer.ready = True
    hook.failures.append(dict(iter=runner.iter + 1, cause=cause, checkpoint=checkpoint,
                              command=None if checkpoint is None
                              else _retest_command(runner, checkpoint)))
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # after an out-of-memory error, training needs it back


def describe_failed_evaluations(failures):
    """One line summing up ``hook.failures`` (for the end of a run)."""
    items = '; '.join(f"after iteration {f['iter']} ({f['cause']})" for f in failures)
    last = failures[-1]
    line = f'{len(failures)} evaluation(s) failed: {items}.'
    if last['checkpoint'] is None:
        return line + ' No checkpoint was kept for them.'
    return line + f" Kept: {last['checkpoint']}; evaluate it with: {last['command']}"


def mean_over_datasets(per_dataset):
    """``{name: metrics}`` -> one flat dict: every metric as ``<name>/<key>``, preceded by the
    unweighted mean over the datasets of each summary metric that all of them have (keys
    without '.' or '/': aAcc, mIoU, mAcc, ...; per-class ``IoU.<class>`` are not averaged)."""
    first = next(iter(per_dataset.values()))
    summary_keys = [k for k in first if '.' not in k and '/' not in k
                    and all(k in metrics for metrics in per_dataset.values())]
    combined = OrderedDict(
        (k, sum(float(metrics[k]) for metrics in per_dataset.values()) / len(per_dataset))
        for k in summary_keys)
    for name, metrics in per_dataset.items():
        combined.update((f'{name}/{k}', v) for k, v in metrics.items())
    return combined


def _split_dataloaders(dataloader, save_best=None):
    """(first loader, {name: loader} or None): a dict of one loader counts as a single one.
    ``save_best`` must then be a plain key (the mean): it names the file best_<key>_iter_N.pth."""
    if isinstance(dataloader, dict) and len(dataloader) > 1 and '/' in str(save_best or ''):
        raise UserInputError(f'evaluation.save_best = {save_best!r}: with several evaluation '
                             f'datasets the best checkpoint is chosen on a mean over them '
                             f'(e.g. \'mIoU\'), not on one dataset\'s key (docs/evaluation.md)')
    if isinstance(dataloader, dict):
        if not dataloader:
            raise ValueError('the evaluation hook needs at least one dataloader')
        first = next(iter(dataloader.values()))
        return first, (OrderedDict(dataloader) if len(dataloader) > 1 else None)
    return dataloader, None


def restore_best_after_resume(hook, runner):
    """After a resume, take the best score from the newest ``best_<key>_iter_<N>.pth`` of the
    run (N <= the resumed iteration) when the resumed checkpoint does not hold it.

    The checkpoint of iteration N is written before the evaluation of iteration N (docs/RUNS.md),
    so its ``meta.hook_msgs`` lacks the score that evaluation made best. Without it the first
    evaluation after the resume would count as the best whatever its score, and the earlier
    best checkpoint would be kept beside it. Only the file's ``meta`` is read (memory-mapped).
    """
    import re
    msgs = runner.meta.setdefault('hook_msgs', {}) if runner.meta is not None else None
    if hook.save_best is None or msgs is None or runner.iter == 0 or \
            not osp.isdir(hook.out_dir or runner.work_dir):
        return
    out_dir = hook.out_dir or runner.work_dir
    key = None if hook.key_indicator == 'auto' else re.escape(hook.key_indicator)
    pattern = re.compile(rf'best_({key or ".+"})_iter_(\d+)\.pth')
    found = sorted((int(m.group(2)), name) for name in os.listdir(out_dir)
                   for m in [pattern.fullmatch(name)] if m and int(m.group(2)) <= runner.iter)
    if not found:
        return
    best_iter, name = found[-1]
    known = msgs.get('best_ckpt')
    if known and osp.basename(known) == name and 'best_score' in msgs:
        return
    path = osp.join(out_dir, name)
    try:
        meta = torch.load(path, map_location='cpu', mmap=True, weights_only=True).get('meta', {})
        score = meta['hook_msgs']['best_score']
    except Exception as error:  # noqa: B902 (a damaged or foreign file: warn, do not stop)
        runner.logger.warning(f'could not read the best score from {path} ({error}); the '
                              f'next evaluation starts a new best')
        return
    msgs['best_score'], msgs['best_ckpt'] = score, path
    hook.best_ckpt_path = path
    runner.logger.info(f'resumed best {name[5:-len(f"_iter_{best_iter}.pth")]} '
                       f'{score:.4f} of iteration {best_iter} ({name})')


class _SeveralDatasets:
    """What EvalHook and DistEvalHook share for several datasets (``self.dataloaders``)."""

    def _evaluate_each(self, runner, predict):
        """Predict and evaluate each dataset in turn (``predict(loader)`` runs the test loop;
        it returns None on ranks other than 0, which evaluate nothing), then log the combined
        metrics. Returns the key score for save_best (None on other ranks)."""
        per_dataset = OrderedDict()
        for name, loader in self.dataloaders.items():
            self.evaluating = name
            results = predict(loader)
            if runner.rank == 0:
                runner.logger.info(f'Evaluation on {name} ({len(loader.dataset)} images):')
                per_dataset[name] = loader.dataset.evaluate(results, logger=runner.logger,
                                                            **self.eval_kwargs)
        self.evaluating = None
        if runner.rank != 0:
            return None
        combined = mean_over_datasets(per_dataset)
        means = ', '.join(f'{k} {v:.4f}' for k, v in combined.items() if '/' not in k)
        runner.logger.info(f'mean over the {len(per_dataset)} evaluation datasets '
                           f'({", ".join(per_dataset)}), unweighted: {means}; each '
                           f'dataset\'s own metrics are logged as <name>/<metric>')
        runner.log_buffer.output['eval_iter_num'] = sum(
            len(loader) for loader in self.dataloaders.values())
        runner.log_buffer.output.update(combined)
        runner.log_buffer.ready = True
        if self.save_best is None:
            return None
        if self.key_indicator == 'auto':
            self._init_rule(self.rule, next(iter(combined)))
        return combined[self.key_indicator]


class EvalHook(_SeveralDatasets, MMCVEvalHook):
    """Evaluate on ``dataloader`` every ``interval`` iterations (by_epoch=False for mic-seg runs).

    Args:
        dataloader: a DataLoader over a dataset with ``evaluate(results, logger=..., **kw)``,
            or a dict ``{name: DataLoader}`` of several datasets (see the module doc).
        test_fn: ``test_fn(model, dataloader, efficient_test=...) -> list`` of predictions.
        interval: evaluate after every ``interval``-th iteration (iteration count starts at 1).
        efficient_test: pass predictions as temporary .npy files instead of arrays.
        eval_kwargs: forwarded to ``dataset.evaluate`` (e.g. ``metric='mIoU'``).
    """

    def __init__(self, dataloader, test_fn, interval=1, by_epoch=False, efficient_test=False,
                 **eval_kwargs):
        if not callable(test_fn):
            raise TypeError(f'EvalHook needs the test loop as test_fn, got {test_fn!r}')
        dataloader, self.dataloaders = _split_dataloaders(dataloader,
                                                          eval_kwargs.get('save_best'))
        super().__init__(dataloader, interval=interval, by_epoch=by_epoch, test_fn=test_fn,
                         **eval_kwargs)
        self.efficient_test = efficient_test
        self.failures = []
        self.evaluating = None  # the name of the dataset under evaluation (several datasets)

    def before_run(self, runner):
        super().before_run(runner)
        restore_best_after_resume(self, runner)

    def _do_evaluate(self, runner):
        with rng_state_preserved():
            try:
                self._evaluate_once(runner)
            except Exception as error:  # noqa: B902 (any failure of the evaluation)
                _record_failure(self, runner, error)

    def _evaluate_once(self, runner):
        if self.dataloaders is not None:
            key_score = self._evaluate_each(runner, lambda loader: self.test_fn(
                runner.model, loader, efficient_test=self.efficient_test))
            if self.save_best and key_score:
                self._save_ckpt(runner, key_score)
            return
        results = self.test_fn(runner.model, self.dataloader, efficient_test=self.efficient_test)
        runner.log_buffer.output['eval_iter_num'] = len(self.dataloader)
        key_score = self.evaluate(runner, results)
        if self.save_best and key_score:
            self._save_ckpt(runner, key_score)


class DistEvalHook(_SeveralDatasets, MMCVDistEvalHook):
    """Distributed variant: every rank runs ``test_fn`` on its shard, rank 0 evaluates.

    With several datasets every rank runs the test loops in the same order (each one's
    collective gathering steps in line), each dataset collecting through its own folder
    ``<tmpdir>/<name>``; rank 0 evaluates each after its gathering."""

    def __init__(self, dataloader, test_fn, interval=1, by_epoch=False, efficient_test=False,
                 **eval_kwargs):
        if not callable(test_fn):
            raise TypeError(f'DistEvalHook needs the test loop as test_fn, got {test_fn!r}')
        dataloader, self.dataloaders = _split_dataloaders(dataloader,
                                                          eval_kwargs.get('save_best'))
        super().__init__(dataloader, interval=interval, by_epoch=by_epoch, test_fn=test_fn,
                         **eval_kwargs)
        self.efficient_test = efficient_test
        self.failures = []
        self.evaluating = None  # the name of the dataset under evaluation (several datasets)

    def before_run(self, runner):
        super().before_run(runner)
        restore_best_after_resume(self, runner)

    def _do_evaluate(self, runner):
        with rng_state_preserved():
            try:
                self._evaluate_once(runner)
            except Exception as error:  # noqa: B902
                _record_failure(self, runner, error)
                raise

    def _evaluate_once(self, runner):
        # Every rank must evaluate with the BatchNorm statistics of rank 0.
        if self.broadcast_bn_buffer:
            for module in runner.model.modules():
                if isinstance(module, _BatchNorm) and module.track_running_stats:
                    dist.broadcast(module.running_var, 0)
                    dist.broadcast(module.running_mean, 0)
        tmpdir = self.tmpdir or osp.join(runner.work_dir, '.eval_hook')
        if self.dataloaders is not None:
            # A folder per dataset: rank 0 removes a gathering's folder after reading it,
            # possibly after another rank has written its part of the next dataset.
            key_score = self._evaluate_each(runner, lambda loader: self.test_fn(
                runner.model, loader, tmpdir=osp.join(tmpdir, self.evaluating),
                gpu_collect=self.gpu_collect, efficient_test=self.efficient_test))
            if runner.rank == 0 and self.save_best and key_score:
                self._save_ckpt(runner, key_score)
            return
        results = self.test_fn(runner.model, self.dataloader, tmpdir=tmpdir,
                               gpu_collect=self.gpu_collect, efficient_test=self.efficient_test)
        if runner.rank == 0:
            runner.log_buffer.output['eval_iter_num'] = len(self.dataloader)
            key_score = self.evaluate(runner, results)
            if self.save_best and key_score:
                self._save_ckpt(runner, key_score)

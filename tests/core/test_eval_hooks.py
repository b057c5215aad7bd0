"""EvalHook: an evaluation leaves the training's random stream untouched, and one that fails is
logged with the checkpoint kept while training goes on (docs/RUNS.md)."""
import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.parallel import MMDataParallel
from mmcv.runner import CheckpointHook
from torch import nn

from mmseg.apis.train import CHECKPOINT_HOOK_PRIORITY
from mmseg.core import EvalHook
from mmseg.core.checkpoint import rng_state_preserved
from mmseg.core.evaluation.eval_hooks import describe_failed_evaluations
from mmseg.core.runner import ResumableIterBasedRunner
from mmseg.datasets import build_dataloader


class Items(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(idx=torch.tensor(idx), aug=torch.tensor(np.random.rand()))


class ValItems(torch.utils.data.Dataset):
    """Two validation samples; ``evaluate`` gives a fixed mIoU."""

    def __len__(self):
        return 2

    def __getitem__(self, idx):
        return dict(idx=torch.tensor(idx))

    def evaluate(self, results, logger=None, **kwargs):
        return dict(mIoU=0.25)


class NoisyModel(nn.Module):
    """Records the random numbers each training iteration draws."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(3))
        self.seen = []

    def train_step(self, data_batch, optimizer, **kwargs):
        noise = torch.rand(3)
        self.seen.append((data_batch['aug'].tolist(), noise.tolist(), random.random()))
        optimizer.zero_grad()
        loss = ((self.weight - noise)**2).sum()
        loss.backward()
        optimizer.step()
        return dict(log_vars=dict(loss=loss.item()), num_samples=2)


def drawing_test_fn(fail_at=()):
    """A test loop that draws from every global generator (as augmentations and the loader
    do) and raises at the evaluations numbered in ``fail_at`` (1 = the first)."""
    calls = []

    def test_fn(model, loader, efficient_test=False):
        calls.append(1)
        for _ in loader:  # the loader's iterator draws a torch seed
            random.random(), np.random.rand(), torch.rand(1)
        if len(calls) in fail_at:
            raise ValueError('cannot decode the image file val/broken.png')
        return [np.zeros((2, 2))] * len(loader.dataset)

    return test_fn


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    import mmcv.runner.iter_based_runner as iter_based_runner
    monkeypatch.setattr(iter_based_runner.time, 'sleep', lambda seconds: None)


def _train(work_dir, eval_hook=None, max_iters=4, checkpoint_interval=100):
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    model = NoisyModel()
    runner = ResumableIterBasedRunner(
        model=MMDataParallel(model), optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        work_dir=str(work_dir), logger=logging.getLogger('test_eval_hooks'),
        max_iters=max_iters)
    runner.timestamp = 'run'
    runner.register_training_hooks(lr_config=None, optimizer_config=None,
                                   log_config=dict(interval=1, hooks=[
                                       dict(type='TextLoggerHook', by_epoch=False)]))
    # the checkpoint hook at the priority train_segmentor gives it
    runner.register_hook(CheckpointHook(interval=checkpoint_interval, by_epoch=False),
                         priority=CHECKPOINT_HOOK_PRIORITY)
    if eval_hook is not None:
        runner.register_hook(eval_hook, priority='LOW')
    loader = build_dataloader(Items(), 2, 0, dist=False, seed=0, drop_last=True)
    runner.run([loader], [('train', 1)])
    return model, runner


def _val_loader():
    return build_dataloader(ValItems(), 1, 0, dist=False, shuffle=False)


def test_rng_state_preserved_restores_every_generator_also_on_error():
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with pytest.raises(KeyError):
        with rng_state_preserved():
            random.random(), np.random.rand(2), torch.rand(5)
            raise KeyError('inside')
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_evaluation_leaves_no_trace_in_the_training_random_stream(tmp_path):
    plain, _ = _train(tmp_path / 'plain')
    hook = EvalHook(_val_loader(), test_fn=drawing_test_fn(), interval=1)
    evaluated, _ = _train(tmp_path / 'evaluated', eval_hook=hook)
    assert evaluated.seen == plain.seen  # 4 iterations, an evaluation after each
    torch.testing.assert_close(evaluated.weight, plain.weight, rtol=0, atol=0)


def test_failed_evaluation_keeps_checkpoint_and_training_goes_on(tmp_path, caplog):
    work = tmp_path / 'work'
    hook = EvalHook(_val_loader(), test_fn=drawing_test_fn(fail_at=(1,)), interval=2)
    with caplog.at_level(logging.ERROR, logger='test_eval_hooks'):
        model, runner = _train(work, eval_hook=hook, checkpoint_interval=2)
    assert runner.iter == 4 and len(model.seen) == 4  # trained on after the failure
    assert (work / 'iter_2.pth').is_file() and (work / 'iter_4.pth').is_file()
    cause = 'ValueError: cannot decode the image file val/broken.png'
    # the repository's tools/test.py by its absolute path: it runs from any folder
    script = Path(__file__).resolve().parents[2] / 'tools' / 'test.py'
    assert script.is_file()
    command = f'python {script} CONFIG {work}/iter_2.pth --eval mIoU'
    assert hook.failures == [dict(iter=2, cause=cause, checkpoint=f'{work}/iter_2.pth',
                                  command=command)]
    error, = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert error.startswith(f'evaluation after iteration 2 failed: {cause}. checkpoint '
                            f'{work}/iter_2.pth is kept; evaluate it again with: {command}')
    assert 'Traceback' in error
    records = [json.loads(line) for line in (work / 'run.log.json').read_text().splitlines()]
    val = [r for r in records if r.get('mode') == 'val']
    # the failed evaluation (iteration 2) and the successful one (4, 2 val images)
    assert val[0]['eval_failed'] == cause and val[0]['iter'] == 2 and 'mIoU' not in val[0]
    assert val[1]['mIoU'] == 0.25 and val[1]['iter'] == 2


def test_failure_before_any_checkpoint_says_so(tmp_path):
    hook = EvalHook(_val_loader(), test_fn=drawing_test_fn(fail_at=(1,)), interval=1)
    _train(tmp_path, eval_hook=hook, max_iters=2)  # checkpoint: the last (2) only
    assert hook.failures[0]['checkpoint'] is None
    assert describe_failed_evaluations(hook.failures) == (
        '1 evaluation(s) failed: after iteration 1 (ValueError: cannot decode the image file '
        'val/broken.png). No checkpoint was kept for them.')


def test_summary_names_every_failure_and_the_last_kept_checkpoint():
    failures = [dict(iter=4, cause='ValueError: a', checkpoint='w/iter_4.pth', command='c4'),
                dict(iter=8, cause='OutOfMemoryError: b', checkpoint='w/iter_8.pth',
                     command='python -m tools.test w/x.py w/iter_8.pth --eval mIoU')]
    assert describe_failed_evaluations(failures) == (
        '2 evaluation(s) failed: after iteration 4 (ValueError: a); after iteration 8 '
        '(OutOfMemoryError: b). Kept: w/iter_8.pth; evaluate it with: '
        'python -m tools.test w/x.py w/iter_8.pth --eval mIoU')


# ----------------------------------------------------------------------------- several datasets
class ScoredItems(torch.utils.data.Dataset):
    """``length`` validation samples whose ``evaluate`` returns the given metrics."""

    def __init__(self, length, metrics):
        self.length, self.metrics = length, metrics

    def __len__(self):
        return self.length

    def __getitem__(self, idx):
        return dict(idx=torch.tensor(idx))

    def evaluate(self, results, logger=None, **kwargs):
        assert len(results) == self.length
        return dict(self.metrics)


def _scored_loader(length, metrics):
    return build_dataloader(ScoredItems(length, metrics), 1, 0, dist=False, shuffle=False)


CS = {'aAcc': 0.9, 'mIoU': 0.5, 'mAcc': 0.6, 'IoU.road': 0.7}
ACDC = {'aAcc': 0.8, 'mIoU': 0.2, 'mAcc': 0.3, 'IoU.road': 0.1}


def _val_records(work):
    records = [json.loads(line) for line in (work / 'run.log.json').read_text().splitlines()]
    return [r for r in records if r.get('mode') == 'val']


def test_several_datasets_log_each_under_its_name_and_their_mean(tmp_path, caplog):
    loaders = {'cityscapes': _scored_loader(2, CS), 'acdc': _scored_loader(3, ACDC)}
    hook = EvalHook(loaders, test_fn=drawing_test_fn(), interval=2, save_best='mIoU')
    with caplog.at_level(logging.INFO, logger='test_eval_hooks'):
        _train(tmp_path, eval_hook=hook, max_iters=2)
    val, = _val_records(tmp_path)
    # the plain keys are the unweighted means; per-class values are not averaged
    assert val['mIoU'] == pytest.approx((0.5 + 0.2) / 2)
    assert val['mAcc'] == pytest.approx((0.6 + 0.3) / 2)
    assert val['aAcc'] == pytest.approx((0.9 + 0.8) / 2)
    assert 'IoU.road' not in val
    for name, metrics in (('cityscapes', CS), ('acdc', ACDC)):
        for key, value in metrics.items():
            assert val[f'{name}/{key}'] == value
    assert val['iter'] == 2 + 3  # mmcv logs the number of validation batches here
    # save_best='mIoU' selects on the mean, with today's file name
    assert (tmp_path / 'best_mIoU_iter_2.pth').is_file()
    assert hook.best_ckpt_path.endswith('best_mIoU_iter_2.pth')
    # the text log says what the plain keys mean
    mean_line, = [r.getMessage() for r in caplog.records if 'unweighted' in r.getMessage()]
    assert mean_line.startswith('mean over the 2 evaluation datasets (cityscapes, acdc), '
                                'unweighted: aAcc 0.8500, mIoU 0.3500, mAcc 0.4500')


def test_best_checkpoint_of_several_datasets_is_chosen_on_a_mean():
    from mmseg.utils.errors import UserInputError
    loaders = {'cityscapes': _scored_loader(2, CS), 'acdc': _scored_loader(3, ACDC)}
    with pytest.raises(UserInputError, match=r"evaluation.save_best = 'acdc/mIoU': with "
                       r"several evaluation datasets the best checkpoint is chosen on a mean"):
        EvalHook(loaders, test_fn=drawing_test_fn(), save_best='acdc/mIoU')


def test_one_named_dataset_logs_the_plain_keys_as_today(tmp_path):
    hook = EvalHook({'cityscapes': _scored_loader(2, CS)}, test_fn=drawing_test_fn(),
                    interval=2)
    _train(tmp_path, eval_hook=hook, max_iters=2)
    val, = _val_records(tmp_path)
    assert {k: v for k, v in val.items() if k not in ('mode', 'epoch', 'iter', 'lr')} == CS


def test_failed_evaluation_of_one_of_several_datasets_names_it(tmp_path):
    def test_fn(model, loader, efficient_test=False):
        if isinstance(loader.dataset.metrics, str):
            raise ValueError(loader.dataset.metrics)
        return [None] * len(loader.dataset)

    loaders = {'cityscapes': _scored_loader(2, CS),
               'acdc': _scored_loader(1, 'cannot decode acdc/broken.png')}
    hook = EvalHook(loaders, test_fn=test_fn, interval=2)
    _train(tmp_path, eval_hook=hook, max_iters=2, checkpoint_interval=2)
    cause = 'dataset acdc: ValueError: cannot decode acdc/broken.png'
    assert [f['cause'] for f in hook.failures] == [cause]
    val, = _val_records(tmp_path)
    assert val['eval_failed'] == cause and 'mIoU' not in val
    assert describe_failed_evaluations(hook.failures).startswith(
        f'1 evaluation(s) failed: after iteration 2 ({cause}). Kept: ')


class IndexedItems(torch.utils.data.Dataset):
    """``length`` samples; ``evaluate`` checks it got every index once, in order."""

    def __init__(self, length):
        self.length = length

    def __len__(self):
        return self.length

    def __getitem__(self, idx):
        return dict(idx=torch.tensor(idx))

    def evaluate(self, results, logger=None, **kwargs):
        assert [int(r) for r in results] == list(range(self.length)), results
        return {'mIoU': self.length / 10, 'IoU.road': 1.0}


class IndexModel(nn.Module):
    """Predicts the index of each sample (the test loop's model call)."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(2)

    def forward(self, return_loss=False, rescale=True, idx=None):
        return [int(i) for i in idx]


def _dist_evaluate(rank, port, work_dir):
    """One rank of a 2-process (gloo) DistEvalHook over two datasets: records the test loops
    it ran and what it logged in <work_dir>/rank<r>.json."""
    import torch.distributed as dist
    from mmcv.runner import LogBuffer

    from mmseg.apis import multi_gpu_test
    from mmseg.core import DistEvalHook
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)
    calls = []

    def test_fn(model, loader, tmpdir=None, gpu_collect=False, efficient_test=False):
        calls.append([len(loader.dataset), tmpdir])
        return multi_gpu_test(model, loader, tmpdir=tmpdir, gpu_collect=gpu_collect)

    loaders = {name: build_dataloader(IndexedItems(n), 1, 0, dist=True, shuffle=False)
               for name, n in (('three', 3), ('two', 2))}
    hook = DistEvalHook(loaders, test_fn=test_fn, interval=1)
    runner = type('Runner', (), dict(model=IndexModel(), work_dir=str(work_dir), rank=rank,
                                     log_buffer=LogBuffer(), iter=0, meta=None,
                                     logger=logging.getLogger(f'rank{rank}')))()
    try:
        hook._do_evaluate(runner)
    finally:
        dist.destroy_process_group()
    (work_dir / f'rank{rank}.json').write_text(json.dumps(
        dict(calls=calls, logged=dict(runner.log_buffer.output))))


def test_dist_eval_hook_runs_the_datasets_in_step_on_every_rank(tmp_path):
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    # forked: the children share this process's imports (a fresh start with torch takes seconds)
    mp.start_processes(_dist_evaluate, args=(port, tmp_path), nprocs=2, join=True,
                       start_method='fork')
    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1)]
    folder = tmp_path / '.eval_hook'
    # the same test loops in the same order on both ranks, each gathering in its own folder
    for rank in ranks:
        assert rank['calls'] == [[3, str(folder / 'three')], [2, str(folder / 'two')]]
    # rank 0 evaluated each dataset on all its predictions (IndexedItems.evaluate checks them)
    assert ranks[0]['logged'] == {'mIoU': pytest.approx((0.3 + 0.2) / 2), 'three/mIoU': 0.3,
                                  'three/IoU.road': 1.0, 'two/mIoU': 0.2, 'two/IoU.road': 1.0,
                                  'eval_iter_num': 2 + 1}  # batches of rank 0, as mmcv counts
    assert ranks[1]['logged'] == {}


class SequenceScoredItems(ScoredItems):
    """Validation samples whose n-th ``evaluate`` returns mIoU ``scores[n]``."""

    def __init__(self, scores):
        super().__init__(1, {})
        self.scores = list(scores)

    def evaluate(self, results, logger=None, **kwargs):
        return {'mIoU': self.scores.pop(0)}


def _train_resumable(work_dir, scores, max_iters, resume_from=None):
    torch.manual_seed(0)
    model = NoisyModel()
    runner = ResumableIterBasedRunner(
        model=MMDataParallel(model), optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        work_dir=str(work_dir), logger=logging.getLogger('test_eval_hooks'),
        max_iters=max_iters, meta={})
    runner.timestamp = f'run{max_iters}'
    runner.register_training_hooks(lr_config=None, optimizer_config=None, log_config=None)
    runner.register_hook(CheckpointHook(interval=2, by_epoch=False),
                         priority=CHECKPOINT_HOOK_PRIORITY)
    val = build_dataloader(SequenceScoredItems(scores), 1, 0, dist=False, shuffle=False)
    runner.register_hook(EvalHook(val, test_fn=drawing_test_fn(), interval=2, save_best='mIoU'),
                         priority='LOW')
    if resume_from is not None:
        runner.resume(str(resume_from))
    runner.run([build_dataloader(Items(), 2, 0, dist=False, seed=0, drop_last=True)],
               [('train', 1)])
    return runner


def test_resumed_run_keeps_the_best_score_of_the_evaluation_after_its_checkpoint(tmp_path):
    """iter_2.pth is written before the evaluation of iteration 2 made it the best: a run
    resumed from it must still compare with that score, so a worse later evaluation is not
    saved as the best and the best file is not duplicated."""
    _train_resumable(tmp_path, [0.5], max_iters=2)
    assert sorted(p.name for p in tmp_path.glob('best_*.pth')) == ['best_mIoU_iter_2.pth']
    assert 'best_score' not in torch.load(tmp_path / 'iter_2.pth')['meta'].get('hook_msgs', {})
    runner = _train_resumable(tmp_path, [0.3, 0.7], max_iters=6,
                              resume_from=tmp_path / 'iter_2.pth')
    # 0.3 at iteration 4 is worse than 0.5; 0.7 at iteration 6 is the new best, the old removed.
    assert sorted(p.name for p in tmp_path.glob('best_*.pth')) == ['best_mIoU_iter_6.pth']
    assert runner.meta['hook_msgs']['best_score'] == 0.7
    assert torch.load(tmp_path / 'iter_6.pth')['meta']['hook_msgs']['best_score'] == 0.5

"""train_segmentor, set_random_seed and the evaluation hook, on a one-parameter fake model."""
import json
import logging
import random

import mmcv
import numpy as np
import pytest
import torch
from mmcv.parallel import MMDataParallel
from mmcv.runner import IterBasedRunner
from torch.utils.data import DataLoader

from mmseg.apis import set_random_seed, single_gpu_test, train_segmentor
from mmseg.core import EvalHook


def test_set_random_seed_seeds_python_numpy_and_torch():
    set_random_seed(3)
    drawn = (random.random(), np.random.rand(), torch.rand(1).item())
    expected = (random.Random(3).random(), np.random.RandomState(3).rand(),
                torch.rand(1, generator=torch.Generator().manual_seed(3)).item())
    assert drawn == pytest.approx(expected)


def test_set_random_seed_deterministic_fixes_cudnn():
    old = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = True
        set_random_seed(0, deterministic=True)
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old


def _runner(model, tmp_path):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    return IterBasedRunner(MMDataParallel(model), optimizer=optimizer, work_dir=str(tmp_path),
                           logger=logging.getLogger('test_eval_hook'))


@pytest.mark.parametrize('interval,max_iters', [(3, 7), (1, 4), (5, 5)])
def test_eval_hook_runs_every_interval_iterations(tmp_path, constant_model, tiny_dataset,
                                                  interval, max_iters):
    runner = _runner(constant_model(), tmp_path)
    calls = []

    def fake_test(model, loader, efficient_test=False):
        calls.append((runner.iter + 1, efficient_test))
        return [np.ones((4, 6), dtype=np.int64)] * len(loader.dataset)

    val_set = tiny_dataset(length=2)
    hook = EvalHook(DataLoader(val_set), test_fn=fake_test, interval=interval,
                    efficient_test=True, metric='mIoU')
    runner.register_hook(hook, priority='LOW')
    runner.run([DataLoader(tiny_dataset(length=12), batch_size=2)], [('train', 1)],
               max_iters=max_iters)
    expected = [it for it in range(1, max_iters + 1) if it % interval == 0]
    assert calls == [(it, True) for it in expected]
    assert [metric for _, metric, _ in val_set.evaluated] == ['mIoU'] * len(expected)
    assert runner.log_buffer.output['mIoU'] == 1.0
    assert runner.log_buffer.output['eval_iter_num'] == 2


def test_eval_hook_needs_a_test_function(tiny_dataset):
    with pytest.raises(TypeError, match='test_fn'):
        EvalHook(DataLoader(tiny_dataset()), test_fn=None, interval=1)


def _config(tmp_path, optimizer_config, max_iters=6, eval_interval=2):
    return mmcv.Config(dict(
        data=dict(samples_per_gpu=2, workers_per_gpu=0, val=dict(type='TinyDataset', length=3)),
        optimizer=dict(type='SGD', lr=0.1),
        optimizer_config=optimizer_config,
        lr_config=dict(policy='poly', power=1.0, min_lr=0.0, by_epoch=False, warmup='linear',
                       warmup_iters=3, warmup_ratio=0.1),
        runner=dict(type='IterBasedRunner', max_iters=max_iters),
        checkpoint_config=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1),
        evaluation=dict(interval=eval_interval, metric='mIoU'),
        log_config=dict(interval=1, hooks=[dict(type='TextLoggerHook', by_epoch=False)]),
        workflow=[('train', 1)], work_dir=str(tmp_path), seed=0, gpu_ids=[0],
        log_level='INFO'))


def _expected_lr(cur_iter, max_iters=6, warmup_iters=3, warmup_ratio=0.1, base=0.1):
    """Poly (power 1, min 0) with linear warm-up (docs/REFERENCE.md §5), by hand."""
    regular = base * (1 - cur_iter / max_iters)
    if cur_iter < warmup_iters:
        return regular * (1 - (1 - cur_iter / warmup_iters) * (1 - warmup_ratio))
    return regular


@pytest.mark.parametrize('uda_like', [False, True])
def test_train_segmentor_steps_once_per_iteration_and_writes_logs(tmp_path, constant_model,
                                                                   tiny_dataset, uda_like):
    # UDA runs set optimizer_config None: the wrapper steps itself and no hook steps again.
    cfg = _config(tmp_path, None if uda_like else dict())
    model = constant_model(steps_itself=uda_like)
    runner = train_segmentor(model, tiny_dataset(length=12), cfg, validate=True,
                             timestamp='20240101_000000', meta=dict(seed=0))

    # SGD on w² multiplies w by (1 - 2·lr) per step; one step per iteration.
    weight = 2.0
    for cur_iter in range(6):
        weight *= 1 - 2 * _expected_lr(cur_iter)
    assert model.weight.item() == pytest.approx(weight, rel=1e-5)

    with open(tmp_path / '20240101_000000.log.json') as f:
        records = [json.loads(line) for line in f if line.strip()]
    train = [r for r in records if r.get('mode') == 'train']
    assert [r['iter'] for r in train] == [1, 2, 3, 4, 5, 6]
    # the JSON log rounds floats to 5 decimals
    assert [r['lr'] for r in train] == pytest.approx([_expected_lr(i) for i in range(6)],
                                                     abs=1e-5)
    assert all('loss' in r and 'time' in r and 'data_time' in r for r in train)
    val = [r for r in records if r.get('mode') == 'val']
    assert [r['mIoU'] for r in val] == [1.0, 1.0, 1.0]

    checkpoint = torch.load(tmp_path / 'iter_6.pth', map_location='cpu', weights_only=False)
    assert checkpoint['meta']['CLASSES'] == ('background', 'thing')
    assert checkpoint['meta']['PALETTE'] == [[0, 0, 0], [255, 0, 0]]
    assert checkpoint['meta']['seed'] == 0
    assert checkpoint['state_dict']['weight'].item() == pytest.approx(weight, rel=1e-5)
    assert (tmp_path / 'latest.pth').resolve() == (tmp_path / 'iter_6.pth').resolve()
    assert runner.iter == 6


def test_train_segmentor_resume_continues_from_the_checkpoint(tmp_path, constant_model,
                                                              tiny_dataset):
    first = tmp_path / 'first'
    train_segmentor(constant_model(), tiny_dataset(length=12), _config(first, dict(),
                    max_iters=3, eval_interval=3), timestamp='a')
    cfg = _config(tmp_path / 'second', dict(), max_iters=6, eval_interval=6)
    cfg.resume_from = str(first / 'iter_3.pth')
    model = constant_model()
    runner = train_segmentor(model, tiny_dataset(length=12), cfg, timestamp='b')
    assert runner.iter == 6
    # Weights and optimizer come from iter_3.pth, whose meta['iter'] counts the 3 finished
    # iterations (mmcv 1.x stored 2 there, and a resumed run repeated the iteration of index 2):
    # the resumed run continues with the iteration of index 3 under its own schedule (max 6).
    assert torch.load(first / 'iter_3.pth', weights_only=True)['meta']['iter'] == 3
    weight = 2.0
    for cur_iter in range(3):
        lr = 0.1 * (1 - cur_iter / 3) * (1 - (1 - cur_iter / 3) * 0.9)
        weight *= 1 - 2 * lr
    for cur_iter in range(3, 6):
        weight *= 1 - 2 * _expected_lr(cur_iter)
    assert model.weight.item() == pytest.approx(weight, rel=1e-5)


def test_auto_resume_names_every_damaged_checkpoint_it_skips(tmp_path, constant_model,
                                                              tiny_dataset, caplog):
    train_segmentor(constant_model(), tiny_dataset(length=12), _config(tmp_path, dict(),
                    max_iters=3, eval_interval=3), timestamp='a')
    whole = (tmp_path / 'iter_3.pth').read_bytes()
    (tmp_path / 'iter_5.pth').write_bytes(whole[:len(whole) // 2])  # truncate -s: a torn copy
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    cfg = _config(tmp_path, dict(), max_iters=6, eval_interval=6)
    cfg.auto_resume = True
    with caplog.at_level(logging.INFO):
        runner = train_segmentor(constant_model(), tiny_dataset(length=12), cfg, timestamp='b')
    assert runner.iter == 6
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[:2] == [
        f'auto-resume: skipped {tmp_path}/iter_5.pth: not a complete checkpoint '
        f'({len(whole) // 2} bytes, not a whole zip file: truncated or damaged)',
        f'auto-resume: skipped {tmp_path}/iter_4.pth: not a complete checkpoint '
        f'(0 bytes, not a whole zip file: truncated or damaged)']
    assert any(r.getMessage().startswith(f'resumed from {tmp_path}/iter_3.pth')
               for r in caplog.records)


def test_resume_from_another_models_checkpoint_is_refused_before_training(
        tmp_path, constant_model, tiny_dataset):
    from mmseg.utils.errors import UserInputError
    first = tmp_path / 'first'
    train_segmentor(constant_model(), tiny_dataset(length=12), _config(first, dict(),
                    max_iters=3, eval_interval=3), timestamp='a')
    checkpoint = torch.load(first / 'iter_3.pth', weights_only=True)
    # another model's run: a 3-element weight and a head the model does not have
    checkpoint['state_dict'] = dict(weight=torch.ones(3), **{'head.bias': torch.zeros(3)})
    torch.save(checkpoint, tmp_path / 'other.pth')
    cfg = _config(tmp_path / 'second', dict(), max_iters=6, eval_interval=6)
    cfg.resume_from = str(tmp_path / 'other.pth')
    model = constant_model()
    with pytest.raises(UserInputError) as error:
        train_segmentor(model, tiny_dataset(length=12), cfg, timestamp='b')
    assert str(error.value) == (
        f'checkpoint {tmp_path}/other.pth does not fit the ConstantModel built from the config: '
        'unexpected keys: head.bias; shape mismatches: weight: checkpoint (3,) vs model (1,); '
        'is it the checkpoint of a run of this config?')
    assert model.weight.item() == 2.0  # nothing loaded, nothing trained
    assert not list((tmp_path / 'second').glob('iter_*.pth'))


def test_train_segmentor_missing_load_from_names_the_file(tmp_path, constant_model,
                                                          tiny_dataset):
    cfg = _config(tmp_path, dict())
    cfg.load_from = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        train_segmentor(constant_model(), tiny_dataset(length=12), cfg)


def test_single_gpu_test_is_the_eval_hooks_loop(tiny_dataset, constant_model):
    results = single_gpu_test(MMDataParallel(constant_model(value=1)),
                              DataLoader(tiny_dataset(length=3), batch_size=2))
    assert len(results) == 3
    assert all(r.shape == (4, 6) and (r == 1).all() for r in results)


def test_train_segmentor_applies_paramwise_custom_keys(tmp_path, constant_model, tiny_dataset):
    class WithHead(constant_model):
        def __init__(self):
            super().__init__()
            self.decode_head = torch.nn.Linear(1, 1)

    cfg = _config(tmp_path, dict(), max_iters=2, eval_interval=2)
    cfg.optimizer = dict(type='SGD', lr=0.1, weight_decay=0.01, paramwise_cfg=dict(
        custom_keys=dict(head=dict(lr_mult=10.0), weight=dict(decay_mult=0.0))))
    model = WithHead()
    runner = train_segmentor(model, tiny_dataset(length=12), cfg, timestamp='c')
    groups = {id(g['params'][0]): g for g in runner.optimizer.param_groups}
    own = groups[id(model.weight)]
    head_weight, head_bias = groups[id(model.decode_head.weight)], groups[id(model.decode_head.bias)]
    # mmcv tries the custom keys longest first, so 'weight' wins over 'head' for
    # decode_head.weight; decode_head.bias only matches 'head'.
    assert (own['initial_lr'], own['weight_decay']) == (0.1, 0.0)
    assert (head_weight['initial_lr'], head_weight['weight_decay']) == (0.1, 0.0)
    assert (head_bias['initial_lr'], head_bias['weight_decay']) == (pytest.approx(1.0), 0.01)


def test_train_segmentor_rejects_a_training_set_smaller_than_one_batch(tmp_path, constant_model,
                                                                       tiny_dataset):
    with pytest.raises(ValueError, match=r'has 1 samples, fewer than one batch .* = 2'):
        train_segmentor(constant_model(), tiny_dataset(length=1), _config(tmp_path, dict()))

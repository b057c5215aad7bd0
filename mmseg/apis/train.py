"""Training entry of the Python API: seed, data loaders, wrapped model, runner, hooks, run."""
import os.path as osp
import random

import numpy as np
import torch
from mmcv.parallel import MMDataParallel, MMDistributedDataParallel
from mmcv.runner import HOOKS, build_optimizer, build_runner
from mmcv.utils import build_from_cfg

from mmseg.core import DistEvalHook, EvalHook
from mmseg.core.checkpoint import find_latest_checkpoint
from mmseg.core.evaluation.eval_hooks import describe_failed_evaluations
from mmseg.core.hooks.non_finite_loss_hook import NonFiniteLossHook
from mmseg.core.hooks.preemption_hook import PreemptionHook
from mmseg.core.log_buffer import TensorLogBuffer
from mmseg.core.run_outcome import EvaluationFailed
from mmseg.core.runner import ResumableIterBasedRunner  # noqa: F401 (registers the runner)
from mmseg.datasets import build_dataloader
from mmseg.datasets.eval_sets import build_eval_datasets
from mmseg.utils import CPUDistributedDataParallel, UDAGradientSync, get_root_logger
from mmseg.utils.errors import UserFileNotFoundError, UserInputError, UserTypeError
from .test import multi_gpu_test, single_gpu_test

__all__ = ['set_random_seed', 'wrap_model', 'train_segmentor']


def set_random_seed(seed, deterministic=False):
    """Seed Python, NumPy and torch (all devices); ``deterministic`` also fixes cuDNN's choice."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        # Deterministic kernels where PyTorch has them; a warning names any op that has none.
        torch.use_deterministic_algorithms(True, warn_only=True)


def wrap_model(model, cfg, distributed=False):
    """Wrap for the runner: MMDataParallel (CPU without a GPU) or, distributed, DDP.

    Distributed, a UDA method keeps its own train_step (several backward passes per
    iteration): its student (and discriminator) get DDP through ``UDAGradientSync`` and the
    method runs in MMDataParallel on this process's device; a plain segmentor is wrapped in
    MMDistributedDataParallel (on CPU the variant that unwraps DataContainers).
    """
    if distributed:
        return _wrap_distributed(model, cfg)
    if torch.cuda.is_available():
        gpu_ids = list(cfg.get('gpu_ids', [0]))
        return MMDataParallel(model.to(f'cuda:{gpu_ids[0]}'), device_ids=gpu_ids)
    # Without a GPU MMDataParallel runs the module on the CPU (it unwraps DataContainers).
    return MMDataParallel(model)


def _check_fills_a_batch(dataset, batch_size):
    """drop_last=True: a training set smaller than one batch would give no batch at all."""
    if len(dataset) < batch_size:
        inner = [getattr(d, 'img_dir', None) for d in (getattr(dataset, 'source', None),
                                                       getattr(dataset, 'target', None),
                                                       dataset) if d is not None]
        where = ', '.join(str(p) for p in inner if p) or type(dataset).__name__
        raise UserInputError(f'the training set ({where}) has {len(dataset)} samples, fewer than '
                             f'one batch of data.samples_per_gpu x GPUs = {batch_size}: add '
                             f'images or lower data.samples_per_gpu')


def _wrap_distributed(model, cfg):
    device_ids = None
    if torch.cuda.is_available():
        device_ids = [torch.cuda.current_device()]
        model = model.to(f'cuda:{device_ids[0]}')
    find_unused = cfg.get('find_unused_parameters', False)
    if hasattr(model, 'get_model'):  # a UDA method (UDADecorator)
        if model.training:
            model.ddp_sync = UDAGradientSync(model, device_ids, find_unused)
        return MMDataParallel(model, device_ids=device_ids) if device_ids else MMDataParallel(model)
    ddp_class = MMDistributedDataParallel if device_ids else CPUDistributedDataParallel
    return ddp_class(model, device_ids=device_ids, broadcast_buffers=False,
                     find_unused_parameters=find_unused)


def _train_loaders(datasets, cfg, distributed):
    num_gpus = len(cfg.get('gpu_ids', [0]))
    for ds in datasets:
        _check_fills_a_batch(ds, cfg.data.samples_per_gpu * (1 if distributed else num_gpus))
    return [
        build_dataloader(ds, cfg.data.samples_per_gpu, cfg.data.workers_per_gpu, num_gpus,
                         dist=distributed, seed=cfg.get('seed'), drop_last=True)
        for ds in datasets
    ]


def _checkpoint_meta(cfg, dataset):
    """Put the CLASSES and PALETTE of the training data into every checkpoint (tools/test.py)."""
    if cfg.get('checkpoint_config') is None:
        return
    meta = dict(cfg.checkpoint_config.get('meta') or {})
    for key in ('CLASSES', 'PALETTE'):
        if meta.get(key) is None and getattr(dataset, key, None) is not None:
            meta[key] = getattr(dataset, key)
    cfg.checkpoint_config['meta'] = meta


def _val_loaders(cfg, distributed):
    """The loader of data.val, or ``{name: loader}`` when it lists several datasets
    (docs/evaluation.md)."""
    loaders = {name: build_dataloader(dataset, samples_per_gpu=1,
                                      workers_per_gpu=cfg.data.workers_per_gpu,
                                      dist=distributed, shuffle=False)
               for name, dataset in build_eval_datasets(cfg.data.val, 'data.val',
                                                        dict(test_mode=True))}
    return loaders if len(loaders) > 1 else next(iter(loaders.values()))


def _register_eval_hook(runner, cfg, distributed):
    val_loader = _val_loaders(cfg, distributed)
    eval_cfg = dict(cfg.get('evaluation', {}))
    eval_cfg.setdefault('metric', 'mIoU')
    eval_cfg['by_epoch'] = cfg.runner['type'] != 'IterBasedRunner'
    if distributed:
        hook = DistEvalHook(val_loader, test_fn=multi_gpu_test, **eval_cfg)
    else:
        hook = EvalHook(val_loader, test_fn=single_gpu_test, **eval_cfg)
    runner.register_hook(hook, priority='LOW')


# mmcv's NORMAL (50): before the evaluation hook (LOW = 70), so that the checkpoint of iteration
# N is on disk before the evaluation of iteration N can fail (an unreadable image, out of
# memory). Resume stays exact because the evaluation restores the global generators it draws
# from (EvalHook, mmseg/core/evaluation/eval_hooks.py; docs/RUNS.md).
CHECKPOINT_HOOK_PRIORITY = 'NORMAL'


def _register_checkpoint_hook(runner, checkpoint_config):
    if checkpoint_config is None:
        return
    checkpoint_config = dict(checkpoint_config)
    checkpoint_config.setdefault('type', 'CheckpointHook')
    checkpoint_config.setdefault('by_epoch', False)
    runner.register_hook(build_from_cfg(checkpoint_config, HOOKS),
                         priority=CHECKPOINT_HOOK_PRIORITY)


def _register_custom_hooks(runner, cfg):
    for hook_cfg in cfg.get('custom_hooks', None) or []:
        if not isinstance(hook_cfg, dict):
            raise UserTypeError(f'custom_hooks entries must be dicts, got {type(hook_cfg)}')
        hook_cfg = dict(hook_cfg)
        priority = hook_cfg.pop('priority', 'NORMAL')
        runner.register_hook(build_from_cfg(hook_cfg, HOOKS), priority=priority)


def _load_or_resume(runner, cfg):
    """--resume-from, else --auto-resume (the newest complete checkpoint of the work_dir), else
    --load-from (weights only)."""
    resume_from = cfg.get('resume_from')
    if not resume_from and cfg.get('auto_resume'):
        skipped = []
        resume_from = find_latest_checkpoint(cfg.work_dir, skipped)
        for path, reason in skipped:  # never passed over without a word
            runner.logger.warning(f'auto-resume: skipped {path}: {reason}')
        if resume_from is None:
            runner.logger.info(f'auto-resume: no checkpoint in {cfg.work_dir}, starting anew')
    for key, path in (('resume_from', resume_from), ('load_from', cfg.get('load_from'))):
        if path and '://' not in str(path) and not osp.isfile(path):
            raise UserFileNotFoundError(f'{key} checkpoint {path} not found (checkpoints are '
                                        f'the iter_<N>.pth / latest.pth of a work_dir)')
    # Without a GPU, load onto the CPU.
    map_location = 'default' if torch.cuda.is_available() else 'cpu'
    if resume_from:
        runner.resume(resume_from, map_location=map_location)
    elif cfg.get('load_from'):
        runner.load_checkpoint(cfg.load_from, map_location='cpu')


def _build_runner(cfg, model, optimizer, logger, meta):
    """mmcv's runner from cfg.runner; IterBasedRunner becomes ResumableIterBasedRunner (exact
    resume, atomic checkpoints, safe loading: mmseg/core/runner.py)."""
    runner_cfg = dict(cfg.runner)
    if runner_cfg['type'] == 'IterBasedRunner':
        runner_cfg.update(type='ResumableIterBasedRunner',
                          trust_checkpoint=bool(cfg.get('trust_checkpoint', False)))
    return build_runner(runner_cfg, default_args=dict(
        model=model, batch_processor=None, optimizer=optimizer, work_dir=cfg.work_dir,
        logger=logger, meta=meta))


def _raise_if_evaluations_failed(runner):
    failures = [f for hook in runner.hooks for f in getattr(hook, 'failures', None) or []]
    if failures:
        message = 'Training finished, but ' + describe_failed_evaluations(failures)
        runner.logger.error(message)
        raise EvaluationFailed(message)


def train_segmentor(model, dataset, cfg, distributed=False, validate=False, timestamp=None,
                    meta=None, stop_signals=None):
    """Train ``model`` (segmentor or UDA wrapper) on ``dataset`` with mmcv's runner per ``cfg``.

    ``cfg.optimizer_config = None`` (UDA runs) registers no optimizer hook: the UDA wrapper's
    ``train_step`` steps the optimizer itself (docs/REFERENCE.md §3.1).
    ``stop_signals``: a ``StopSignals``; when one of its signals arrives the run writes a
    checkpoint after the current iteration and raises ``Preempted``. Raises
    ``EvaluationFailed`` after the last iteration when an evaluation failed (docs/RUNS.md).
    """
    logger = get_root_logger(log_level=cfg.get('log_level', 'INFO'))
    datasets = list(dataset) if isinstance(dataset, (list, tuple)) else [dataset]
    data_loaders = _train_loaders(datasets, cfg, distributed)

    model = wrap_model(model, cfg, distributed)
    optimizer = build_optimizer(model, cfg.optimizer)
    if cfg.get('runner') is None:
        cfg.runner = dict(type='IterBasedRunner', max_iters=cfg.total_iters)
    runner = _build_runner(cfg, model, optimizer, logger, meta)
    runner.timestamp = timestamp  # names the text and JSON logs <timestamp>.log(.json)
    if not isinstance(runner.log_buffer, TensorLogBuffer):  # the losses are device tensors
        runner.log_buffer = TensorLogBuffer()

    _checkpoint_meta(cfg, datasets[0])
    runner.register_training_hooks(cfg.lr_config, cfg.get('optimizer_config'), None,
                                   cfg.log_config, cfg.get('momentum_config', None))
    _register_checkpoint_hook(runner, cfg.get('checkpoint_config'))
    # Before the checkpoint hook: a NaN/Inf loss stops the run before it is saved.
    runner.register_hook(NonFiniteLossHook(interval=cfg.log_config.get('interval', 50)),
                         priority='VERY_HIGH')
    if validate:
        _register_eval_hook(runner, cfg, distributed)
    _register_custom_hooks(runner, cfg)
    if stop_signals is not None:  # the last hook of an iteration: after its log line
        runner.register_hook(PreemptionHook(stop_signals), priority='LOWEST')
    _load_or_resume(runner, cfg)
    runner.run(data_loaders, cfg.workflow)
    _raise_if_evaluations_failed(runner)
    return runner

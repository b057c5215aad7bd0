"""Train a segmentor or a UDA method from a config.

    python -m tools.train CONFIG [--work-dir DIR] [--seed N] [--cfg-options k=v ...]
    python tools/train.py CONFIG ...

Writes into the work_dir: the config (<name>.py), <timestamp>.log, <timestamp>.log.json,
iter_<N>.pth and latest.pth.
"""
import argparse
import copy
import os
import os.path as osp
import sys
import time

if __package__ in (None, ''):
    # Run as a script: make the repository importable like with `python -m tools.train`, and
    # the current folder too (as `python -m` does: custom_imports of the user's own modules).
    sys.path[:0] = [os.getcwd(), osp.dirname(osp.dirname(osp.abspath(__file__)))]

import mmseg  # noqa: E402,F401  (imported first: it silences mmcv 1.7's rename notice)
import mmcv  # noqa: E402
import torch  # noqa: E402
from mmcv.runner import get_dist_info  # noqa: E402
from mmcv.utils import get_git_hash  # noqa: E402

from mmseg import __version__  # noqa: E402
from mmseg.apis import set_random_seed, train_segmentor  # noqa: E402
from mmseg.apis.checks import check_before_training  # noqa: E402
from mmseg.core.checkpoint import check_checkpoint_file, find_latest_checkpoint  # noqa: E402
from mmseg.core.hooks.preemption_hook import StopSignals  # noqa: E402
from mmseg.core.run_outcome import RunStopped  # noqa: E402
from mmseg.datasets import build_dataset  # noqa: E402
from mmseg.models import build_train_model  # noqa: E402
from mmseg.models.builder import check_model_options  # noqa: E402
from mmseg.models.utils.memory_format import apply_allow_tf32  # noqa: E402
from mmseg.utils import (collect_env, finish_dist, get_root_logger, init_dist,  # noqa: E402
                         rank_seed, setup_cpu_malloc)
from mmseg.utils.config_args import DictAction, load_config  # noqa: E402
from mmseg.utils.errors import UserFileNotFoundError, UserInputError, run_cli  # noqa: E402

__all__ = ['parse_args', 'find_missing_inputs', 'main']

README_HINT = 'see README, section "Datasets and weights"'


def parse_args(args=None):
    parser = argparse.ArgumentParser(description='Train a segmentor (or a UDA method)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--load-from', help='the checkpoint file to load weights from')
    parser.add_argument('--resume-from', help='the checkpoint file to resume from')
    parser.add_argument('--auto-resume', action='store_true',
                        help='resume from the newest complete checkpoint of the work dir, if any')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load checkpoints that hold arbitrary pickled objects (this can run '
                        'code: only for files from a source you trust)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    group_gpus = parser.add_mutually_exclusive_group()
    group_gpus.add_argument('--gpus', type=int,
                            help='number of gpus to use (only applicable to non-distributed '
                            'training)')
    group_gpus.add_argument('--gpu-ids', type=int, nargs='+',
                            help='ids of gpus to use (only applicable to non-distributed '
                            'training)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='whether to set deterministic options for the CUDNN backend')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction,
                        dest='options', help='override config settings, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(args)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _dataset_paths(data_cfg):
    """The folders a dataset config reads: data_root (or img_dir without one), UDA sides too."""
    if data_cfg is None:
        return []
    if isinstance(data_cfg, (list, tuple)):
        return [p for c in data_cfg for p in _dataset_paths(c)]
    paths = []
    for side in ('source', 'target'):
        paths += _dataset_paths(data_cfg.get(side))
    if data_cfg.get('data_root'):
        paths.append(data_cfg['data_root'])
    elif data_cfg.get('img_dir') and 'source' not in data_cfg:
        paths.append(data_cfg['img_dir'])
    return paths


def _pretrained_paths(model_cfg):
    backbone = model_cfg.get('backbone', {})
    # checkpoint_path: the local weights of a TIMMBackbone (foundation-model encoders).
    paths = [model_cfg.get('pretrained'), backbone.get('pretrained'),
             backbone.get('checkpoint_path')]
    # 'open-mmlab://...' names are resolved to local files by the backbone itself.
    return [p for p in paths if isinstance(p, str) and '://' not in p]


def find_missing_inputs(cfg):
    """Absent inputs: data roots of data.train/val (UDA source/target too), pretrained weights,
    and the load_from / resume_from checkpoints."""
    paths = _dataset_paths(cfg.data.get('train')) + _dataset_paths(cfg.data.get('val'))
    paths += _pretrained_paths(cfg.model)
    paths += [cfg.get(key) for key in ('load_from', 'resume_from')
              if cfg.get(key) and '://' not in cfg.get(key)]
    missing = []
    for path in paths:
        if not osp.exists(path) and path not in missing:
            missing.append(path)
    return missing


def _exit_if_inputs_missing(cfg):
    """Raise UserFileNotFoundError listing every missing input (one line), before any work."""
    missing = find_missing_inputs(cfg)
    if missing:
        raise UserFileNotFoundError(
            f'these data folders / weight files do not exist: {", ".join(missing)}. Download '
            f'and convert the datasets and put the weights under pretrained/ ({README_HINT}).')
    for key in ('load_from', 'resume_from'):  # a text file given as a checkpoint: now, not later
        if cfg.get(key) and '://' not in cfg.get(key):
            check_checkpoint_file(cfg.get(key))


def _load_config(args):
    cfg = load_config(args.config, args.options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.load_from is not None:
        cfg.load_from = args.load_from
    if args.resume_from is not None:
        cfg.resume_from = args.resume_from
    cfg.auto_resume = args.auto_resume or cfg.get('auto_resume', False)
    cfg.trust_checkpoint = args.trust_checkpoint
    if args.gpu_ids is not None:
        cfg.gpu_ids = args.gpu_ids
    else:
        cfg.gpu_ids = range(1) if args.gpus is None else range(args.gpus)
    # docs/REFERENCE.md §3.1: the UDA method writes its debug images under work_dir and reads the log config.
    if cfg.model.get('train_cfg') is None:
        cfg.model.train_cfg = mmcv.ConfigDict()
    cfg.model.train_cfg['work_dir'] = cfg.work_dir
    cfg.model.train_cfg['log_config'] = cfg.get('log_config')
    return cfg


def refuse_to_overwrite_run(cfg):
    """A work_dir holding checkpoints (a finished or interrupted run) is continued with
    --auto-resume / --resume-from, never silently trained over: raises UserInputError."""
    if cfg.get('auto_resume') or cfg.get('resume_from'):
        return
    latest = find_latest_checkpoint(cfg.work_dir)
    if latest is None and osp.lexists(osp.join(cfg.work_dir, 'latest.pth')):
        latest = osp.join(cfg.work_dir, 'latest.pth')
    if latest is not None:
        raise UserInputError(
            f'the work_dir {cfg.work_dir} holds the checkpoints of an earlier run ({latest}); '
            f'training anew would overwrite them: continue that run with --auto-resume, or '
            f'start a new one with a fresh --work-dir')


def _init_distributed(args, cfg):
    if args.launcher == 'none':
        return False
    init_dist(args.launcher, **cfg.get('dist_params', {}))
    rank, world_size = get_dist_info()
    cfg.gpu_ids = range(world_size)
    if rank != 0:  # debug images from rank 0 only (logs and checkpoints: mmcv's master_only)
        cfg.model.train_cfg['work_dir'] = None
    return True


def _make_logger_and_meta(cfg, config_path, timestamp):
    mmcv.mkdir_or_exist(osp.abspath(cfg.work_dir))
    # mmcv formats the config text with yapf (seconds for a full config): once for the dump, the
    # log and the run's meta; the checkpoints' meta formats it again after the UDA wrapper added
    # its model to cfg.uda (as in the original).
    config_text = cfg.pretty_text
    if get_dist_info()[0] == 0:
        dump_path = osp.join(cfg.work_dir, osp.basename(config_path))
        if dump_path.endswith('.py'):
            with open(dump_path, 'w') as f:
                f.write(config_text)  # what cfg.dump writes for a .py path
        else:
            cfg.dump(dump_path)
    logger = get_root_logger(log_file=osp.join(cfg.work_dir, f'{timestamp}.log'),
                             log_level=cfg.get('log_level', 'INFO'))
    env_info = '\n'.join(f'{k}: {v}' for k, v in collect_env().items())
    dash_line = '-' * 60
    logger.info(f'Environment info:\n{dash_line}\n{env_info}\n{dash_line}')
    logger.info(f'Config:\n{config_text}')
    meta = dict(env_info=env_info, config=config_text, exp_name=osp.basename(config_path))
    return logger, meta


def main(args=None):
    """Train as on the command line; ``args`` is a list of CLI arguments (default sys.argv)."""
    args = parse_args(args)
    cfg = _load_config(args)
    refuse_to_overwrite_run(cfg)
    check_model_options(cfg)  # a bad mixed_precision / compile / ...: before the work_dir
    _exit_if_inputs_missing(cfg)
    # Config keys, class and ignore settings against the data, every file (docs/CHECKS.md):
    # an error stops here, before the work_dir is made; warnings go to the log below.
    train_dataset, check_warnings = check_before_training(cfg, validate=not args.no_validate,
                                                           option_keys=args.options or {})
    if cfg.get('cudnn_benchmark', False):
        torch.backends.cudnn.benchmark = True
    apply_allow_tf32(cfg.get('allow_tf32'))  # CUDA's TF32 switches (docs/performance.md)
    setup_cpu_malloc(cfg, 'cuda' if torch.cuda.is_available() else 'cpu')
    distributed = _init_distributed(args, cfg)

    # The seed actually used goes into the config before it is saved into the work_dir.
    seed = args.seed if args.seed is not None else cfg.get('seed')
    cfg.seed = seed
    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    logger, meta = _make_logger_and_meta(cfg, args.config, timestamp)
    logger.info(f'Distributed training: {distributed}')
    for warning in check_warnings:
        logger.warning(warning)

    if seed is not None:
        logger.info(f'Set random seed to {seed}, deterministic: {args.deterministic}')
        # Distributed: seed + rank on each process (rank 0 draws as a single-process run).
        set_random_seed(rank_seed(seed), deterministic=args.deterministic)
    meta['seed'] = seed

    model = build_train_model(cfg)
    logger.info(model)
    datasets = [train_dataset]
    if len(cfg.workflow) == 2:
        val_dataset = copy.deepcopy(cfg.data.val)
        val_dataset.pipeline = cfg.data.train.pipeline
        datasets.append(build_dataset(val_dataset))
    classes = getattr(datasets[0], 'CLASSES', None)
    palette = getattr(datasets[0], 'PALETTE', None)
    if cfg.get('checkpoint_config') is not None:
        cfg.checkpoint_config.meta = dict(
            mmseg_version=f'{__version__}+{get_git_hash()[:7]}', config=cfg.pretty_text,
            CLASSES=classes, PALETTE=palette)
    meta.update(CLASSES=classes, PALETTE=palette)
    model.CLASSES = classes
    try:  # SIGTERM / SIGUSR1: checkpoint, then exit 75; failed evaluations: exit 3 (docs/RUNS.md)
        with StopSignals() as stop_signals:
            train_segmentor(model, datasets, cfg, distributed=distributed,
                            validate=not args.no_validate, timestamp=timestamp, meta=meta,
                            stop_signals=stop_signals)
    except RunStopped as stop:
        print(stop, file=sys.stderr)
        sys.exit(stop.exit_code)
    if distributed:
        finish_dist()
    return cfg.work_dir


if __name__ == '__main__':
    run_cli(main, 'train')

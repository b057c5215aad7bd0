"""Test (and optionally evaluate) a trained segmentor.

    python -m tools.test CONFIG CHECKPOINT --eval mIoU [--show-dir DIR] [--opacity 1]
    python -m tools.test CONFIG CHECKPOINT --format-only --eval-options imgfile_prefix=DIR

``data.test`` may list several datasets (docs/evaluation.md): each is tested in turn and
reported under a heading with its name, then the unweighted mean; ``--show-dir D`` and
``imgfile_prefix=P`` write into ``D/<name>/`` and ``P/<name>/``, and ``--out`` holds
``{name: predictions}``.

The checkpoint may be a plain segmentor or a UDA checkpoint (only the student ``model.*`` is
loaded); CLASSES and PALETTE come from its meta, but a palette given in the config
(data.test.palette) is drawn instead.
"""
import argparse
import os
import os.path as osp
import re
import sys

if __package__ in (None, ''):
    # Run as a script: make the repository importable like with `python -m tools.test`, and
    # the current folder too (as `python -m` does: custom_imports of the user's own modules).
    sys.path[:0] = [os.getcwd(), osp.dirname(osp.dirname(osp.abspath(__file__)))]

import mmseg  # noqa: E402,F401  (imported first: it silences mmcv 1.7's rename notice)
import mmcv  # noqa: E402
import torch  # noqa: E402
from mmcv.runner import get_dist_info  # noqa: E402
from prettytable import PrettyTable  # noqa: E402

from mmseg.apis import (load_segmentor_checkpoint, multi_gpu_test, single_gpu_test,  # noqa: E402
                        wrap_model)
from mmseg.core.evaluation.eval_hooks import mean_over_datasets  # noqa: E402
from mmseg.datasets import build_dataloader  # noqa: E402
from mmseg.datasets.eval_sets import build_eval_datasets, eval_dataset_configs  # noqa: E402
from mmseg.models import build_segmentor  # noqa: E402
from mmseg.models.builder import check_model_options  # noqa: E402
from mmseg.models.utils.memory_format import (apply_allow_tf32, parse_channels_last,  # noqa: E402
                                              set_channels_last)
from mmseg.models.utils.mixed_precision import (parse_mixed_precision,  # noqa: E402
                                                parse_mixed_precision_options,
                                                set_mixed_precision)
from mmseg.models.utils.torch_compile import parse_compile, set_compile  # noqa: E402
from mmseg.utils import finish_dist, init_dist, setup_cpu_malloc  # noqa: E402
from mmseg.utils.config_args import DictAction, load_config  # noqa: E402
from mmseg.utils.errors import UserInputError, UserKeyError, as_user_error, run_cli  # noqa: E402

__all__ = ['parse_args', 'configure_test', 'check_dataset_for_args', 'classes_and_palette',
           'main']

AUG_TEST_RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
HRDA_OUTPUTS = ['', 'LR', 'HR', 'ATT']
# mIoU/mDice/mFscore: CustomDataset.evaluate; cityscapes: the official evaluator
# (CityscapesDataset only).
EVAL_METRICS = ('mIoU', 'mDice', 'mFscore', 'cityscapes')


def parse_args(args=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load a checkpoint that holds arbitrary pickled objects (this can '
                        'run code: only for files from a source you trust)')
    parser.add_argument('--aug-test', action='store_true', help='multi-scale + flip test')
    parser.add_argument('--inference-mode', choices=['same', 'whole', 'slide'], default='same',
                        help="'same' keeps the config's test_cfg mode")
    parser.add_argument('--test-set', action='store_true',
                        help='test on the test split instead of val')
    parser.add_argument('--hrda-out', choices=HRDA_OUTPUTS, default='',
                        help='HRDA: show context (LR), detail (HR) or attention (ATT) output')
    parser.add_argument('--out', help='output result file in pickle format')
    parser.add_argument('--format-only', action='store_true',
                        help='only format the results for a test server (no evaluation)')
    parser.add_argument('--eval', type=str, nargs='+', help='evaluation metrics, e.g. "mIoU"')
    parser.add_argument('--show', action='store_true', help='show results')
    parser.add_argument('--show-dir', help='directory where painted images will be saved')
    parser.add_argument('--gpu-collect', action='store_true',
                        help='whether to use gpu to collect results')
    parser.add_argument('--tmpdir', help='tmp directory used for collecting results from '
                        'multiple workers, available when gpu_collect is not specified')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction,
                        dest='options', help='override config settings, key=value')
    parser.add_argument('--eval-options', nargs='+', action=DictAction,
                        help='custom options for evaluation / format_results, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'],
                        default='none', help='job launcher')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted segmentation map, in (0, 1]')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(args)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not (args.out or args.eval or args.format_only or args.show or args.show_dir):
        parser.error('choose at least one of --out, --eval, --format-only, --show, --show-dir')
    if args.eval and args.format_only:
        parser.error('--eval and --format-only cannot be both specified')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error('--out must be a .pkl or .pickle file')
    if not 0 < args.opacity <= 1:
        parser.error(f'--opacity must be in (0, 1], got {args.opacity}')
    _check_args(parser, args)
    return args


def _check_args(parser, args):
    """Errors that would otherwise come after inference over the whole set."""
    unknown = [m for m in args.eval or [] if m not in EVAL_METRICS]
    if unknown:
        parser.error(f'--eval {" ".join(unknown)}: unknown metric; choose from '
                     f'{", ".join(EVAL_METRICS)}')
    if args.hrda_out == 'ATT' and (args.eval or args.format_only):
        parser.error('--hrda-out ATT outputs the scale attention (values in [0, 1]), not class '
                     'predictions: it cannot be evaluated or formatted; use it with --show-dir '
                     '(grey levels) or --out')
    if args.show_dir and osp.exists(args.show_dir) and not osp.isdir(args.show_dir):
        parser.error(f'--show-dir {args.show_dir} exists and is not a folder')


def _train_crop_size(cfg):
    """Training crop of the config: data.train.sync_crop_size, crop_size, or RandomCrop's."""
    train = cfg.data.get('train', {})
    if train.get('sync_crop_size') is not None:
        return tuple(train.sync_crop_size)
    if cfg.get('crop_size') is not None:
        return tuple(cfg.crop_size)
    for side in (train, train.get('source', {}) or {}):
        for transform in side.get('pipeline', []) or []:
            if transform.get('type') == 'RandomCrop':
                return tuple(transform['crop_size'])
    raise UserKeyError(f'--inference-mode slide needs the training crop size: {cfg.filename} has '
                   'no data.train.sync_crop_size, crop_size or RandomCrop in data.train')


def _to_test_split(data_cfg):
    """Point a dataset config at the test split ('val' path components become 'test')."""
    for key in ('img_dir', 'ann_dir', 'split'):
        if isinstance(data_cfg.get(key), str):
            parts = re.split(r'([/\\])', data_cfg[key])
            data_cfg[key] = ''.join('test' if p == 'val' else p for p in parts)
    ann_dir = data_cfg.get('ann_dir')
    if ann_dir is not None and not osp.isdir(osp.join(data_cfg.get('data_root') or '', ann_dir)):
        # ACDC and Dark Zurich publish no test labels: their test split is predicted and
        # formatted for the benchmark server, not evaluated here.
        data_cfg['ann_dir'] = None


def _test_configs(cfg):
    """data.test's dataset config(s), as a list (data.test may list several)."""
    test = cfg.data.test
    return list(test) if isinstance(test, (list, tuple)) else [test]


def configure_test(cfg, args):
    """Apply the test flags to the config: aug test, inference mode, test split; no pretrained.
    Every dataset of a data.test list gets them."""
    if args.aug_test:
        for test in _test_configs(cfg):
            tta = test.pipeline[1]
            tta.img_ratios = AUG_TEST_RATIOS
            tta.flip = True
    cfg.model.pretrained = None
    cfg.model.train_cfg = None
    if cfg.model.get('test_cfg') is None:
        cfg.model.test_cfg = cfg.get('test_cfg') or dict(mode='whole')
    if args.inference_mode == 'whole':
        cfg.model.test_cfg.mode = 'whole'
    elif args.inference_mode == 'slide':
        crop = _train_crop_size(cfg)
        cfg.model.test_cfg.mode = 'slide'
        cfg.model.test_cfg.crop_size = list(crop)
        cfg.model.test_cfg.stride = [c // 2 for c in crop]
        cfg.model.test_cfg.batched_slide = True
    for test in _test_configs(cfg):
        test.test_mode = True
        if args.test_set:
            _to_test_split(test)
    return cfg


def _build_model(cfg, args):
    compile_kwargs = parse_compile(cfg.get('compile'))
    model = build_segmentor(cfg.model)
    # mixed_precision = dict(dtype='bfloat16'): inference under autocast, as in training.
    set_mixed_precision(model, parse_mixed_precision(cfg.get('mixed_precision')),
                        **parse_mixed_precision_options(cfg.get('mixed_precision')))
    if args.hrda_out:
        if not hasattr(model, 'set_hrda_out'):
            raise UserInputError(f'--hrda-out {args.hrda_out} needs an HRDA segmentor, but the '
                             f'config builds a {type(model).__name__} (no set_hrda_out)')
        model.set_hrda_out(args.hrda_out)
    checkpoint = load_segmentor_checkpoint(model, args.checkpoint, map_location='cpu',
                                           revise_keys=[(r'^module\.', '')],
                                           trust=getattr(args, 'trust_checkpoint', False))
    set_channels_last(model, parse_channels_last(cfg.get('channels_last')))
    # compile = True / dict(...): inference through the compiled backbone, neck and decode head
    # (in place, after loading: the state dict keys are those of the eager model either way).
    set_compile(model, compile_kwargs)
    return model, checkpoint.get('meta', {}) or {}


def check_dataset_for_args(dataset, args):
    """Raise UserInputError before the first image when the test set cannot give what the
    flags ask."""
    if args.eval and getattr(dataset, 'ann_dir', None) is None:
        raise UserInputError(f'--eval {" ".join(args.eval)}: {type(dataset).__name__} of '
                             f'{getattr(dataset, "img_dir", "?")} has no labels (no ann_dir; '
                             'e.g. the test split of ACDC / Dark Zurich): use --format-only')
    if 'cityscapes' in (args.eval or []):
        if not hasattr(dataset, 'check_cityscapes_evaluation'):
            raise UserInputError(f'--eval cityscapes needs a CityscapesDataset test set, the '
                                 f'config gives {type(dataset).__name__}')
        try:
            dataset.check_cityscapes_evaluation()
        except (FileNotFoundError, ValueError) as error:
            raise as_user_error(type(error)(f'--eval cityscapes: {error}')) from None


def classes_and_palette(meta, dataset, data_cfg):
    """(CLASSES, PALETTE) of the model under test: the checkpoint's classes, the palette given
    in the config (``data.test.palette``) if any, else the checkpoint's, else the dataset's.

    Raises UserInputError when the checkpoint and the test set count their classes differently
    or list the same classes in another order; warns when they name them differently.
    """
    ckpt_classes, data_classes = meta.get('CLASSES'), getattr(dataset, 'CLASSES', None)
    if ckpt_classes is not None and data_classes is not None:
        if len(ckpt_classes) != len(data_classes):
            raise UserInputError(
                f'the checkpoint was trained on {len(ckpt_classes)} classes '
                f'({list(ckpt_classes)}) but the test set has {len(data_classes)} '
                f'({list(data_classes)}): test with the config of the run')
        if (tuple(ckpt_classes) != tuple(data_classes)
                and sorted(ckpt_classes) == sorted(data_classes)):
            raise UserInputError(
                f'the checkpoint lists its classes as {list(ckpt_classes)} but the test set as '
                f'{list(data_classes)}: the same classes in another order, so every id would be '
                f'scored against another class; list them in the checkpoint\'s order')
        if tuple(ckpt_classes) != tuple(data_classes):
            print(f'Warning: the checkpoint names its classes {list(ckpt_classes)} but the '
                  f'config {list(data_classes)}; the tables use the config\'s names',
                  file=sys.stderr)
    classes = ckpt_classes if ckpt_classes is not None else data_classes
    palette = meta.get('PALETTE')
    if data_cfg.get('palette') is not None or palette is None:
        palette = getattr(dataset, 'PALETTE', None)  # a palette of the config wins
    return classes, palette


def _report(args, dataset, outputs):
    if args.out:
        print(f'\nwriting results to {args.out}')
        mmcv.dump(outputs, args.out)
    kwargs = dict(args.eval_options or {})
    if args.format_only:
        # Without imgfile_prefix the PNGs go beside the checkpoint.
        kwargs.setdefault('imgfile_prefix',
                          osp.join(osp.dirname(osp.abspath(args.checkpoint)), 'format_results'))
        dataset.format_results(outputs, **kwargs)
        print(f"\nformatted results written to {kwargs['imgfile_prefix']}")
    if args.eval:
        # evaluate prints the per-class and the summary tables (CustomDataset._summarise).
        return dataset.evaluate(outputs, args.eval, **kwargs)
    return None


def _report_several(args, named, outputs):
    """Per dataset: the tables under a heading with its name (predictions formatted into
    ``imgfile_prefix/<name>``); then the unweighted mean. ``--out``: ``{name: predictions}``.
    Returns the metrics as the evaluation hook logs them (``<name>/<key>`` and the means)."""
    if args.out:
        print(f'\nwriting results of {len(named)} datasets ({{name: predictions}}) to {args.out}')
        mmcv.dump({name: outputs[name] for name, _ in named}, args.out)
    options = dict(args.eval_options or {})
    prefix = options.pop('imgfile_prefix', None)
    if args.format_only and prefix is None:
        prefix = osp.join(osp.dirname(osp.abspath(args.checkpoint)), 'format_results')
    per_dataset = {}
    for name, dataset in named:
        print(f'\n==================== {name} ({len(dataset)} images) ====================')
        kwargs = dict(options, **({} if prefix is None
                                  else dict(imgfile_prefix=osp.join(prefix, name))))
        if args.format_only:
            dataset.format_results(outputs[name], **kwargs)
            print(f"formatted results written to {kwargs['imgfile_prefix']}")
        if args.eval:
            per_dataset[name] = dataset.evaluate(outputs[name], args.eval, **kwargs)
    if not per_dataset:
        return None
    combined = mean_over_datasets(per_dataset)
    means = [k for k in combined if '/' not in k]
    table = PrettyTable(['dataset'] + means)
    for name, metrics in list(per_dataset.items()) + [('mean', combined)]:
        table.add_row([name] + [round(100 * metrics[k], 2) for k in means])
    print(f'\n==================== mean over the {len(per_dataset)} datasets ====================')
    print('(unweighted: every dataset counts once, whatever its number of images)')
    print(table.get_string())
    return combined


def _predict(args, cfg, model, dataset, distributed, show_dir, tmpdir, efficient_test):
    """The test loop over one dataset (every rank; rank 0 gets the predictions)."""
    data_loader = build_dataloader(dataset, samples_per_gpu=1,
                                   workers_per_gpu=cfg.data.workers_per_gpu, dist=distributed,
                                   shuffle=False)
    if distributed:
        return multi_gpu_test(model, data_loader, tmpdir, args.gpu_collect, efficient_test)
    return single_gpu_test(model, data_loader, args.show, show_dir, efficient_test,
                           args.opacity)


def _sub(folder, name, several):
    return osp.join(folder, name) if folder and several else folder


def main(args=None):
    """Test as on the command line; ``args`` is a list of CLI arguments (default sys.argv)."""
    args = parse_args(args)
    cfg = load_config(args.config, args.options)
    # A bad mixed_precision / compile / cpu_malloc_reuse value or inductor without a C++
    # compiler: one line, before any loading.
    check_model_options(cfg)
    cfg = configure_test(cfg, args)
    if cfg.get('cudnn_benchmark', False):
        torch.backends.cudnn.benchmark = True
    apply_allow_tf32(cfg.get('allow_tf32'))
    setup_cpu_malloc(cfg, 'cuda' if torch.cuda.is_available() else 'cpu')
    distributed = args.launcher != 'none'
    if distributed:
        init_dist(args.launcher, **cfg.get('dist_params', {}))

    named = build_eval_datasets(cfg.data.test, 'data.test')
    several = len(named) > 1
    for _, dataset in named:
        check_dataset_for_args(dataset, args)
    model, meta = _build_model(cfg, args)
    configs = eval_dataset_configs(cfg.data.test, 'data.test')
    for i, ((_, dataset), (_, data_cfg)) in enumerate(zip(named, configs)):
        classes, dataset.PALETTE = classes_and_palette(meta, dataset, data_cfg)  # --show-dir's
        if i == 0:
            model.CLASSES, model.PALETTE = classes, dataset.PALETTE

    efficient_test = bool((args.eval_options or {}).get('efficient_test', False))
    if args.eval_options:
        args.eval_options.pop('efficient_test', None)
    model = wrap_model(model, cfg, distributed)
    outputs = {name: _predict(args, cfg, model, dataset, distributed,
                              _sub(args.show_dir, name, several),
                              _sub(args.tmpdir, name, several), efficient_test)
               for name, dataset in named}
    rank, _ = get_dist_info()
    try:
        if rank == 0:
            if args.show_dir:
                count = sum(len(o) for o in outputs.values())
                print(f'\n{count} painted image(s) written under {args.show_dir}')
            if several:
                return _report_several(args, named, outputs)
            return _report(args, named[0][1], outputs[named[0][0]])
        return None
    finally:
        if distributed:
            finish_dist()


if __name__ == '__main__':
    run_cli(main, 'test')

"""Time training iterations, inference or data loading of a config (docs/performance.md).

    python -m tools.benchmark CONFIG [--mode train|test|data] [--iters N] [--warmup K]
        [--device cpu|cuda] [--backbone mit_b0] [--crop 512] [--img-scale W H]
        [--data-root DIR] [--profile [ROWS]] [--compare KEY=VALUE ...] [--json OUT]
        [--cfg-options KEY=VALUE ...]

train: one full ``train_step`` of the built training model (the UDA wrapper when the config has
``uda``: teacher update, source, pseudo-label, mixed and masked steps, optimizer step) on random
source/target batches of ``data.samples_per_gpu`` images of crop x crop pixels.
test: ``simple_test`` (the config's test_cfg: whole, slide or HRDA inference) of one random image
of the test pipeline's img_scale (or --img-scale W H).
data: batches of the config's real training data pipeline and loader (``data.train``, the
loader of tools/train.py: ``data.workers_per_gpu`` workers, pinned memory on CUDA, persistent
workers), no model; ``--data-root DIR`` replaces the data roots by DIR/<their last folder>, e.g.
the toy data of ``tools/make_toy_data.py --out DIR --size 2048 1024`` for the HR configs.
Images/s is then the samples per second the pipeline delivers.

``--profile [ROWS]``: after the timed iterations, one more iteration of each setting runs under
``torch.profiler`` and the ROWS (default 25) ops with the largest self time (CUDA time on
CUDA) are printed as a table and kept in the JSON.

Prints one progress line per iteration and a summary: median and spread (min, max) of s/iter,
images/s (source images per second in train mode) and peak memory (CUDA: max allocated; CPU: the
process's peak resident set size, which covers everything the process did so far). ``--compare``
builds a second model with the given overrides and runs base and override alternately, so that a
shared or throttled machine affects both alike; the ratio override/base of the medians is printed.

A setting with the config key ``compile`` (``--compare compile=True``) compiles the student in its
first iterations: they must be warm-up (``--warmup`` >= 1; more when the first iterations of a
mode compile again, which is reported), and the time of the first, compiling iteration is printed
so that the compile cost is seen apart from the steady s/iter.

The run options of each setting (``mixed_precision``, ``compile``, ``channels_last``,
``allow_tf32``, ``cpu_malloc_reuse``) are checked as tools/train.py checks them before any model
is built; a bad value, or a non-positive ``--img-scale``, stops with one line (exit status 2).
"""
import argparse
import copy
import json
import os.path as osp
import resource
import statistics
import sys
import time

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg  # noqa: E402,F401  (imported first: it silences mmcv 1.7's rename notice)
import torch  # noqa: E402
from mmcv.runner import build_optimizer  # noqa: E402

from mmseg.datasets import build_dataloader, build_dataset  # noqa: E402
from mmseg.models import build_train_model  # noqa: E402
from mmseg.models.builder import check_model_options  # noqa: E402
from mmseg.models.utils.memory_format import apply_allow_tf32, parse_allow_tf32  # noqa: E402
from mmseg.models.utils.torch_compile import parse_compile  # noqa: E402
from mmseg.utils.config_args import DictAction, load_config  # noqa: E402
from mmseg.utils.cpu_malloc import check_malloc_reuse_option, configure_cpu_malloc  # noqa: E402
from mmseg.utils.errors import UserInputError, run_cli  # noqa: E402

__all__ = ['parse_args', 'prepare_config', 'prepare_data_config', 'Benchmark',
           'DataBenchmark', 'profile_step', 'summarize', 'main']

# Stage widths of the MiT variants, for the decoder's in_channels when --backbone changes them.
MIT_EMBED_DIMS = {
    'mit_b0': [32, 64, 160, 256],
    **{f'mit_b{i}': [64, 128, 320, 512] for i in range(1, 6)},
}


def parse_args(args=None):
    parser = argparse.ArgumentParser(description='Time training iterations or inference of a '
                                     'config on random inputs, or its training data loader')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--mode', choices=['train', 'test', 'data'], default='train')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations (per setting)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--backbone', choices=sorted(MIT_EMBED_DIMS),
                        help='replace the MiT variant (the decoder in_channels follow)')
    parser.add_argument('--crop', type=int, help='square training crop (default: the '
                        "config's crop_size); HRDA's detail crop shrinks by the same factor")
    parser.add_argument('--img-scale', type=int, nargs=2, metavar=('W', 'H'),
                        help="test image size (default: the test pipeline's img_scale)")
    parser.add_argument('--compare', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='overrides of a second setting, timed alternately with the base')
    parser.add_argument('--data-root', help='--mode data: read the data from DIR/<last folder of '
                        "each data_root> (e.g. DIR/gta, DIR/cityscapes) instead")
    parser.add_argument('--profile', type=int, nargs='?', const=25, default=None,
                        metavar='ROWS', help='profile one more iteration per setting and print '
                        'the ROWS ops with the largest self time (default 25)')
    parser.add_argument('--json', dest='json_out', help='write the results to this JSON file')
    parser.add_argument('--cfg-options', '--options', nargs='+', action=DictAction,
                        dest='options', help='override config settings of both settings')
    args = parser.parse_args(args)
    if args.iters < 1 or args.warmup < 0:
        parser.error(f'--iters must be >= 1 and --warmup >= 0, got {args.iters} and '
                     f'{args.warmup}')
    if args.crop is not None and args.crop < 32:
        parser.error(f'--crop must be at least 32 pixels, got {args.crop}')
    if args.profile is not None and (args.profile < 1 or args.mode == 'data'):
        parser.error('--profile needs ROWS >= 1 and --mode train or test')
    if args.data_root is not None and args.mode != 'data':
        parser.error('--data-root is read by --mode data only')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available')
    return args


def config_crop_size(cfg):
    """(h, w) of the config's training crop: ``crop_size`` or the first RandomCrop of a train
    pipeline; (512, 512) when neither exists."""
    if cfg.get('crop_size') is not None:
        return tuple(cfg.crop_size)
    train = cfg.get('data', {}).get('train', {})
    sides = list(train) if isinstance(train, (list, tuple)) else [train, train.get('source', {})]
    # several sources (a list, docs/domains.md): the first one's crop
    sides = [s for side in sides for s in (side if isinstance(side, (list, tuple)) else [side])]
    for side in sides:
        for step in (side or {}).get('pipeline', []) or []:
            if step.get('type') == 'RandomCrop':
                return tuple(step['crop_size'])
    return (512, 512)


def prepare_config(cfg, backbone=None, crop=None, options=None):
    """A copy of ``cfg`` ready to build without files: no pretrained weights, the MiT variant
    ``backbone``, training crop ``crop`` (HRDA's hr_crop_size scaled alike) and ``options``."""
    cfg = copy.deepcopy(cfg)
    if options:
        cfg.merge_from_dict(options)
    model = cfg.model
    model.pretrained = None
    model.backbone.pop('pretrained', None)
    model.backbone.pop('init_cfg', None)
    model.backbone.pop('checkpoint_path', None)  # TIMMBackbone's weights file
    if backbone is not None:
        model.backbone = dict(type=backbone)
        for head in ('decode_head', 'auxiliary_head'):
            if model.get(head) is not None and isinstance(model[head].get('in_channels'), list):
                model[head].in_channels = list(MIT_EMBED_DIMS[backbone])
    crop_h, crop_w = config_crop_size(cfg)
    if crop is not None:
        if model.get('hr_crop_size') is not None:
            model.hr_crop_size = [side * crop // crop_h for side in model.hr_crop_size]
        crop_h = crop_w = crop
    cfg.crop_size = (crop_h, crop_w)
    cfg.model.train_cfg = cfg.model.get('train_cfg') or {}
    cfg.model.train_cfg.pop('work_dir', None)  # no debug images
    if cfg.get('runner') is None:
        cfg.runner = dict(type='IterBasedRunner', max_iters=40000)
    return cfg


def _data_sections(data_cfg):
    """The dataset configs of ``data.train``: itself and its source / target (UDADataset)."""
    sections = [data_cfg]
    for key in ('source', 'target'):
        if isinstance(data_cfg.get(key), dict):
            sections.append(data_cfg[key])
    return [s for s in sections if s.get('data_root') is not None]


def prepare_data_config(cfg, data_root=None, options=None):
    """A copy of ``cfg`` with ``options`` merged and, given ``data_root``, the training data
    roots replaced by data_root/<their last folder> ('data/gta/' -> DIR/gta)."""
    cfg = copy.deepcopy(cfg)
    if options:
        cfg.merge_from_dict(options)
    if data_root is not None:
        for section in _data_sections(cfg.data.train):
            name = osp.basename(osp.normpath(section['data_root']))
            section['data_root'] = osp.join(data_root, name)
    return cfg


def test_img_scale(cfg):
    """(w, h) of the test pipeline's MultiScaleFlipAug (or Resize) img_scale; else 1024x512."""
    pipeline = cfg.get('data', {}).get('test', {}).get('pipeline') or cfg.get('test_pipeline')
    for step in pipeline or []:
        if step.get('type') in ('MultiScaleFlipAug', 'Resize') and step.get('img_scale'):
            scale = step['img_scale']
            return tuple(scale[0] if isinstance(scale, list) else scale)
    return (1024, 512)


def _img_metas(batch_size, height, width, norm_cfg):
    return [dict(ori_shape=(height, width, 3), img_shape=(height, width, 3),
                 pad_shape=(height, width, 3), scale_factor=1.0, flip=False,
                 img_norm_cfg=norm_cfg, filename=f'random_{i}.png')
            for i in range(batch_size)]


def random_train_batch(cfg, device, seed=0):
    """Random source/target batches of the config's samples_per_gpu and crop_size."""
    generator = torch.Generator().manual_seed(seed)
    batch_size = cfg.data.get('samples_per_gpu', 2)
    height, width = cfg.crop_size
    num_classes = cfg.model.decode_head.get('num_classes', 19)
    norm_cfg = dict(cfg.get('img_norm_cfg') or dict(mean=[123.675, 116.28, 103.53],
                                                    std=[58.395, 57.12, 57.375], to_rgb=True))
    metas = _img_metas(batch_size, height, width, norm_cfg)
    batch = dict(
        img=torch.randn(batch_size, 3, height, width, generator=generator),
        img_metas=metas,
        gt_semantic_seg=torch.randint(0, num_classes, (batch_size, 1, height, width),
                                      generator=generator))
    if 'uda' in cfg:
        batch.update(target_img=torch.randn(batch_size, 3, height, width, generator=generator),
                     target_img_metas=copy.deepcopy(metas))
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


class Benchmark:
    """One setting (model + inputs) whose ``step()`` runs one timed iteration."""

    def __init__(self, cfg, mode, device, img_scale=None):
        self.mode = mode
        self.device = torch.device(device)
        if cfg.get('cudnn_benchmark', False):  # as tools/train.py and tools/test.py
            torch.backends.cudnn.benchmark = True
        self.model = build_train_model(cfg).to(self.device)
        if mode == 'train':
            self.model.train()
            self.optimizer = build_optimizer(self.model, cfg.optimizer)
            self.batch = random_train_batch(cfg, self.device)
            self.num_images = self.batch['img'].shape[0]
        else:
            self.model.eval()
            width, height = img_scale or test_img_scale(cfg)
            generator = torch.Generator().manual_seed(0)
            self.img = torch.randn(1, 3, height, width, generator=generator).to(self.device)
            self.metas = _img_metas(1, height, width, dict(cfg.get('img_norm_cfg') or {}))
            self.num_images = 1
        # cpu_malloc_reuse (mmseg/utils/cpu_malloc.py) and allow_tf32, set before each of this
        # setting's steps so that --compare alternates them with the base setting.
        self.malloc_reuse = (self.device.type == 'cpu' and check_malloc_reuse_option(
            cfg.get('cpu_malloc_reuse', True)))
        self.allow_tf32 = parse_allow_tf32(cfg.get('allow_tf32'))
        self.times = []
        self.peak_memory_mb = 0.0
        # compile: the first iteration compiles (its time is reported apart); graphs compiled in
        # each step are counted, so that a recompile in a timed iteration is seen.
        self.compiled = parse_compile(cfg.get('compile')) is not None
        self.first_iter_s = None
        self.new_graphs = 0

    def step(self):
        """Run and time one iteration (seconds)."""
        if self.device.type == 'cpu':
            configure_cpu_malloc(self.malloc_reuse)
        apply_allow_tf32(self.allow_tf32)
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        graphs_before = _compiled_graphs() if self.compiled else 0
        start = time.perf_counter()
        self.run_once()
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        self.peak_memory_mb = max(self.peak_memory_mb, peak)
        seconds = time.perf_counter() - start
        if self.compiled:
            self.new_graphs = _compiled_graphs() - graphs_before
            if self.first_iter_s is None:
                self.first_iter_s = seconds
        return seconds


    def run_once(self):
        """One iteration, untimed (also what ``profile_step`` records)."""
        if self.mode == 'train':
            self.model.train_step(self.batch, self.optimizer)
        else:
            with torch.no_grad():
                self.model.simple_test(self.img, self.metas, rescale=True)


class DataBenchmark:
    """The training data loader of a config as a setting: ``step()`` takes one batch."""

    mode = 'data'
    compiled = False
    first_iter_s = None
    new_graphs = 0

    def __init__(self, cfg):
        samples, workers = cfg.data.samples_per_gpu, cfg.data.workers_per_gpu
        dataset = build_dataset(cfg.data.train)
        if len(dataset) < samples:
            raise UserInputError(f'--mode data: the training set has {len(dataset)} samples, '
                                 f'fewer than one batch of data.samples_per_gpu = {samples}')
        # As tools/train.py builds it (mmseg/apis/train.py): pinned memory on CUDA,
        # persistent workers.
        self.loader = build_dataloader(dataset, samples, workers, dist=False,
                                       seed=cfg.get('seed'), drop_last=True)
        self.batches = iter(self.loader)
        self.num_images = samples
        self.workers = workers
        self.times = []
        self.peak_memory_mb = 0.0

    def step(self):
        start = time.perf_counter()
        try:
            next(self.batches)
        except StopIteration:  # a new epoch (the workers persist)
            self.batches = iter(self.loader)
            next(self.batches)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.peak_memory_mb = max(self.peak_memory_mb, peak)
        return seconds


def profile_step(bench, rows, log=print):
    """Run one iteration of ``bench`` under torch.profiler; print and return the ``rows`` ops
    with the largest self time (device time on CUDA) as [{name, calls, self_cpu_ms,
    self_device_ms}]."""
    from torch.profiler import ProfilerActivity, profile
    cuda = bench.device.type == 'cuda'
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    apply_allow_tf32(bench.allow_tf32)
    with profile(activities=activities) as prof:
        bench.run_once()
        if cuda:
            torch.cuda.synchronize(bench.device)
    averages = prof.key_averages()
    sort_by = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    log(averages.table(sort_by=sort_by, row_limit=rows))
    key = (lambda e: e.self_device_time_total) if cuda else (lambda e: e.self_cpu_time_total)
    return [dict(name=e.key, calls=e.count, self_cpu_ms=e.self_cpu_time_total / 1e3,
                 self_device_ms=e.self_device_time_total / 1e3)
            for e in sorted(averages, key=key, reverse=True)[:rows]]


def environment(device):
    """Versions and the device name, for the record of where figures were measured."""
    info = dict(torch=torch.__version__, cuda=torch.version.cuda, threads=torch.get_num_threads())
    if device == 'cuda':
        info['gpu'] = torch.cuda.get_device_name()
    return info


def _compiled_graphs():
    """How many graphs torch._dynamo has compiled in this process so far."""
    from torch._dynamo.utils import counters
    return counters['stats']['unique_graphs']


def summarize(times, num_images, peak_memory_mb):
    """Median / min / max s/iter, images/s of the median and peak memory of timed iterations."""
    median = statistics.median(times)
    return dict(iters=len(times), median_s=median, min_s=min(times), max_s=max(times),
                images_per_s=num_images / median, peak_memory_mb=peak_memory_mb,
                times_s=list(times))


def _format(name, summary, device, mode='train'):
    memory = ('CUDA max allocated' if device == 'cuda' and mode != 'data'
              else 'CPU peak RSS (process)')
    compiled = ''
    if summary.get('first_iter_s') is not None:
        compiled = f', first (compiling) iteration {summary["first_iter_s"]:.3f} s'
    return (f'{name}: {summary["median_s"]:.3f} s/iter median (min {summary["min_s"]:.3f}, '
            f'max {summary["max_s"]:.3f}, {summary["iters"]} iters), '
            f'{summary["images_per_s"]:.3f} {"samples" if mode == "data" else "images"}/s, '
            f'{memory} '
            f'{summary["peak_memory_mb"]:.0f} MiB{compiled}')


def run(benches, iters, warmup, log=print):
    """Alternate the settings ``benches`` ({name: Benchmark}) for warmup + iters rounds."""
    for i in range(warmup + iters):
        for name, bench in benches.items():
            seconds = bench.step()
            timed = i >= warmup
            if timed:
                bench.times.append(seconds)
            label = f'iter {i - warmup + 1}/{iters}' if timed else f'warm-up {i + 1}/{warmup}'
            log(f'[{bench.mode}] {name} {label}: {seconds:.3f} s', file=sys.stderr, flush=True)
            if bench.compiled and i == 0:
                log(f'[{bench.mode}] {name}: the first iteration took {seconds:.3f} s, '
                    'torch.compile included (untimed warm-up)', file=sys.stderr, flush=True)
            if bench.compiled and timed and bench.new_graphs:
                log(f'[{bench.mode}] {name}: {bench.new_graphs} graph(s) compiled during a '
                    'timed iteration: raise --warmup', file=sys.stderr, flush=True)
    results = {}
    for name, bench in benches.items():
        results[name] = summarize(bench.times, bench.num_images, bench.peak_memory_mb)
        results[name]['first_iter_s'] = bench.first_iter_s
    return results


def _checked_config(base_cfg, name, options, args):
    """The prepared config of one train/test setting, checked as tools/train.py checks its
    config (check_model_options, docs/performance.md). Raises UserInputError (one line naming
    the setting) for a bad option."""
    cfg = prepare_config(base_cfg, args.backbone, args.crop, options)
    try:
        check_model_options(cfg)
    except UserInputError as error:
        where = '--compare' if name == 'override' else 'the config and --cfg-options'
        raise UserInputError(f'{name} setting ({where}): {error}') from None
    if parse_compile(cfg.get('compile')) is not None and args.warmup < 1:
        raise UserInputError(f'{name} setting: with compile the first iteration compiles; it '
                             'must be warm-up: use --warmup 1 or more')
    return cfg


def _build_setting(base_cfg, name, options, args):
    """The Benchmark (or DataBenchmark) of one setting."""
    if args.mode == 'data':
        return DataBenchmark(prepare_data_config(base_cfg, args.data_root, options))
    cfg = _checked_config(base_cfg, name, options, args)
    torch.manual_seed(0)
    return Benchmark(cfg, args.mode, args.device, args.img_scale)


def main(args=None):
    """Run the benchmark as on the command line; returns the results dict."""
    args = parse_args(args)
    if args.img_scale is not None and min(args.img_scale) < 1:
        raise UserInputError(f'--img-scale {args.img_scale[0]} {args.img_scale[1]}: expected a '
                             f'width and a height in pixels, both positive')
    base_cfg = load_config(args.config)
    settings = {'base': args.options or {}}
    if args.compare:
        settings['override'] = {**(args.options or {}), **args.compare}
    if args.mode != 'data':  # every setting checked before any model is built
        for name, options in settings.items():
            _checked_config(base_cfg, name, options, args)
    benches = {name: _build_setting(base_cfg, name, options, args)
               for name, options in settings.items()}
    results = dict(config=args.config, mode=args.mode, device=args.device,
                   backbone=args.backbone, crop=args.crop, compare=args.compare,
                   cfg_options=args.options, environment=environment(args.device),
                   settings=run(benches, args.iters, args.warmup))
    for name, summary in results['settings'].items():
        print(_format(name, summary, args.device, args.mode))
    if args.profile is not None:
        for name, bench in benches.items():
            print(f'profile of one {args.mode} iteration, {name} setting:')
            results['settings'][name]['profile'] = profile_step(bench, args.profile)
    if args.compare:
        ratio = (results['settings']['override']['median_s'] /
                 results['settings']['base']['median_s'])
        results['ratio'] = ratio
        print(f'ratio override/base (median s/iter): {ratio:.3f}  ({args.compare})')
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    run_cli(main, 'benchmark')

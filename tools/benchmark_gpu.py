"""Every GPU figure of docs/performance.md in one run: training s/iter and peak memory of each
speed setting, inference, data loading, torch.compile, and the targets (docs/performance.md,
"GPU figures").

    python -m tools.benchmark_gpu --out work_dirs/gpu_benchmark [--budget-s 480]
        [--models mic dinov2] [--parts train test data compile] [--no-compile]
    python -m tools.benchmark_gpu --out /tmp/dry --tiny --device cpu   # a dry run

Writes OUT/gpu_benchmark.json (every setting's tools/benchmark.py summary, the environment and
the targets) and OUT/gpu_benchmark.md (the tables for docs/performance.md), and prints the
tables. The settings run one after another in this process (tools/benchmark.py's ``main``), in
the order of importance; a setting that fails (out of memory, ...) is recorded with its error
and the run goes on; once ``--budget-s`` seconds have passed, the remaining settings are
recorded as skipped. ``compile=True`` runs last, in a subprocess limited to the time left
(with the options that paid in this run's training settings, else bfloat16 alone).
``--models`` and ``--parts`` pick a subset, e.g. ``--models mic --parts compile`` in a second
run when the first one's budget did not reach it; each run writes its own OUT.

Settings (MIC(HRDA) MiT-B5 at 1024x1024 crops, batch 2, configs/mic/gtaHR2csHR_mic_hrda.py, and
MIC with DINOv2 ViT-B/14, configs/vfm/gtaHR2csHR_mic_dinov2_vitb14.py): float32, float32 + TF32,
bfloat16, bfloat16 + each of fp32_upsample / cast_teacher_once / channels_last, bfloat16 + the
options that paid (each < 0.98x of bfloat16 alone), the same + activation checkpointing;
inference of a 2048x1024 frame in float32, bfloat16 and bfloat16 + the paying options;
samples/s of the training data loader on toy data in the HR layout (tools/make_toy_data.py at
2048x1024). ``--tiny`` shrinks everything (MiT-B0, 128 px crops, a 4-block ViT, 1 iteration,
256x128 toy data, the 'eager' compile backend) to check the script end to end on a CPU.
"""
import argparse
import gc
import json
import os
import os.path as osp
import subprocess
import sys
import time

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg  # noqa: E402,F401  (imported first: it silences mmcv 1.7's rename notice)
import torch  # noqa: E402

from mmseg.utils.errors import run_cli  # noqa: E402
from tools import benchmark  # noqa: E402

__all__ = ['parse_args', 'plan', 'paying_options', 'targets', 'markdown', 'main']

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MIC_HRDA = osp.join(REPO, 'configs/mic/gtaHR2csHR_mic_hrda.py')
DINOV2 = osp.join(REPO, 'configs/vfm/gtaHR2csHR_mic_dinov2_vitb14.py')
BF16 = {'mixed_precision.dtype': 'bfloat16'}
# The options measured one at a time on top of bfloat16 (docs/performance.md).
OPTIONS = {
    'fp32_upsample': {'mixed_precision.fp32_upsample': True},
    'cast_teacher_once': {'mixed_precision.cast_teacher_once': True},
    'channels_last': {'channels_last': True},
}
# An option "pays" when bfloat16 with it takes at most this fraction of bfloat16 alone.
PAYS = 0.98
WITH_CP = {'MIC(HRDA) MiT-B5': {'model.backbone.with_cp': True, 'model.hr_with_cp': True},
           'DINOv2 ViT-B/14': {'model.backbone.with_cp': True}}
# Targets of the speed work (docs/performance.md): ratios to float32 on the same GPU.
TARGET_BF16_RATIO = 0.70
TARGET_BEST_RATIO = 0.60
TARGET_PEAK_GB = 16.0
TARGET_DATA_FACTOR = 2.0
MODELS = {'mic': 'MIC(HRDA) MiT-B5', 'dinov2': 'DINOv2 ViT-B/14'}
PARTS = ('train', 'test', 'data', 'compile')
TINY_VIT = {'model.backbone.embed_dim': 64, 'model.backbone.depth': 4,
            'model.backbone.num_heads': 2, 'model.backbone.out_indices': [0, 1, 2, 3],
            'model.neck.in_channels': [64, 64, 64, 64], 'model.neck.out_channels': 64,
            'model.decode_head.in_channels': [64, 64, 64, 64], 'model.decode_head.channels': 64,
            'model.decode_head.decoder_params.embed_dims': 64,
            'model.test_cfg.crop_size': [128, 128], 'model.test_cfg.stride': [64, 64]}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='All GPU speed figures of docs/performance.md')
    parser.add_argument('--out', required=True, help='folder for gpu_benchmark.json/.md')
    parser.add_argument('--device', choices=['cuda', 'cpu'], default='cuda')
    parser.add_argument('--budget-s', type=float, default=480,
                        help='stop starting settings after this many seconds (default 480)')
    parser.add_argument('--models', nargs='+', choices=sorted(MODELS), default=sorted(MODELS),
                        help='the models to measure (default: both)')
    parser.add_argument('--parts', nargs='+', choices=PARTS, default=list(PARTS),
                        help='what to measure (default: all)')
    parser.add_argument('--iters', type=int, help='timed training iterations (default 5)')
    parser.add_argument('--no-compile', dest='compile', action='store_false',
                        help='skip the compile=True setting')
    parser.add_argument('--tiny', action='store_true',
                        help='tiny models, crops and data: a dry run of the script')
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available (use --tiny --device cpu for '
                     'a dry run)')
    if args.budget_s <= 0:
        parser.error(f'--budget-s must be positive, got {args.budget_s}')
    return args


class Sizes:
    """Iterations, crops, image sizes and model overrides of a full or a --tiny run."""

    def __init__(self, tiny, iters=None):
        self.tiny = tiny
        self.train_iters = iters or (1 if tiny else 4)
        self.train_warmup = 1 if tiny else 2
        self.test_iters, self.test_warmup = (1, 1) if tiny else (4, 1)
        self.img_scale = ['256', '128'] if tiny else ['2048', '1024']
        self.data_iters, self.data_warmup = (2, 1) if tiny else (16, 4)
        self.toy_size = (256, 128) if tiny else (2048, 1024)
        self.toy_images = 4 if tiny else 8

    def model_args(self, model):
        """tools/benchmark.py arguments and cfg-options that shrink ``model`` when tiny."""
        if not self.tiny:
            return [], {}
        if model.startswith('MIC(HRDA)'):
            return ['--backbone', 'mit_b0', '--crop', '128'], {}
        return ['--crop', '128'], dict(TINY_VIT)


def plan(models=('mic', 'dinov2')):
    """[(model name, config)] of ``models`` (keys of MODELS), MIC(HRDA) first."""
    configs = {'mic': MIC_HRDA, 'dinov2': DINOV2}
    return [(MODELS[key], configs[key]) for key in ('mic', 'dinov2') if key in models]


def paying_options(train):
    """Names of the OPTIONS whose bfloat16 run took <= PAYS x bfloat16 alone."""
    base = (train.get('bf16') or {}).get('median_s')
    if not base:
        return []
    return [name for name in OPTIONS
            if (train.get(f'bf16 + {name}') or {}).get('median_s', float('inf'))
            <= PAYS * base]


class Runner:
    """Runs tools/benchmark.py settings in this process within the time budget."""

    def __init__(self, args, out_dir):
        self.args = args
        self.out_dir = out_dir
        self.start = time.monotonic()
        self.count = 0

    def left_s(self):
        return self.args.budget_s - (time.monotonic() - self.start)

    def bench(self, config, argv, options):
        """One setting: tools/benchmark.main's summary (+ environment), or {'error'/'skipped'}."""
        if self.left_s() <= 0:
            return dict(skipped=f'time budget of {self.args.budget_s:.0f} s spent')
        self.count += 1
        json_out = osp.join(self.out_dir, f'setting_{self.count:02d}.json')
        cli = [config, '--device', self.args.device, '--json', json_out, *argv]
        if options:
            cli += ['--cfg-options', *[f'{k}={_cli_value(v)}' for k, v in options.items()]]
        print(f'[benchmark_gpu] python -m tools.benchmark {" ".join(cli)}', flush=True)
        try:
            results = benchmark.main(cli)
        except (Exception, SystemExit) as error:  # one failed setting (out of memory, ...)
            return dict(error=f'{type(error).__name__}: {error}'[:500], argv=cli)
        finally:  # the setting's models go before the next one is built
            if self.args.device == 'cuda':
                gc.collect()
                torch.cuda.empty_cache()
        summary = dict(results['settings']['base'])
        summary.update(argv=cli, environment=results.get('environment'))
        summary.pop('times_s', None)
        return summary

    def bench_subprocess(self, config, argv, options):
        """A setting in its own process (compile), killed when the time budget runs out."""
        left = self.left_s()
        if left < 60:
            return dict(skipped=f'less than 60 s of the time budget left ({left:.0f} s)')
        self.count += 1
        json_out = osp.join(self.out_dir, f'setting_{self.count:02d}.json')
        cli = [sys.executable, '-m', 'tools.benchmark', config, '--device', self.args.device,
               '--json', json_out, *argv, '--cfg-options',
               *[f'{k}={_cli_value(v)}' for k, v in options.items()]]
        print(f'[benchmark_gpu] {" ".join(cli[1:])} (limit {left:.0f} s)', flush=True)
        try:
            done = subprocess.run(cli, cwd=REPO, timeout=left, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return dict(error=f'not finished within the {left:.0f} s left', argv=cli[3:])
        if done.returncode != 0:
            return dict(error=done.stderr.strip().splitlines()[-1:] or done.returncode,
                        argv=cli[3:])
        with open(json_out) as f:
            results = json.load(f)
        summary = dict(results['settings']['base'], argv=cli[3:])
        summary.pop('times_s', None)
        return summary


def _cli_value(value):
    """A --cfg-options value as mmcv's DictAction reads it back."""
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(str(v) for v in value) + ']'
    return str(value)


def run_training(runner, sizes, model, config):
    """The training settings of one model; returns {setting: summary}."""
    model_argv, shrink = sizes.model_args(model)
    argv = model_argv + ['--iters', str(sizes.train_iters), '--warmup', str(sizes.train_warmup)]
    train = {}
    settings = [('fp32', {}), ('bf16', BF16), ('fp32 + TF32', {'allow_tf32': True})]
    settings += [(f'bf16 + {name}', {**BF16, **options}) for name, options in OPTIONS.items()]
    for name, options in settings:
        train[name] = runner.bench(config, argv, {**shrink, **options})
    paying = paying_options(train)
    best = dict(BF16)
    for name in paying:
        best.update(OPTIONS[name])
    if len(paying) > 1:
        train['bf16 + ' + ' + '.join(paying)] = runner.bench(config, argv, {**shrink, **best})
    train['bf16 + with_cp' + ''.join(f' + {p}' for p in paying)] = runner.bench(
        config, argv, {**shrink, **best, **WITH_CP[model]})
    return train, best, paying


def run_inference(runner, sizes, model, config, best):
    model_argv, shrink = sizes.model_args(model)
    argv = model_argv + ['--mode', 'test', '--img-scale', *sizes.img_scale, '--iters',
                         str(sizes.test_iters), '--warmup', str(sizes.test_warmup)]
    test = {'fp32': runner.bench(config, argv, shrink), 'bf16': runner.bench(config, argv,
                                                                            {**shrink, **BF16})}
    if best != BF16:
        test['bf16 + paying options'] = runner.bench(config, argv, {**shrink, **best})
    return test


def run_data(runner, sizes, config, out_dir):
    """Samples/s of the training loader on toy data in the HR layout (made here)."""
    from tools.make_toy_data import generate_toy_data
    root = osp.join(out_dir, 'toy_hr')
    if not osp.isfile(osp.join(root, 'toy_data.json')):
        generate_toy_data(root, sizes.toy_images, sizes.toy_images, 1, size=sizes.toy_size,
                          seed=0, convert=True)
    argv = ['--mode', 'data', '--data-root', root, '--iters', str(sizes.data_iters),
            '--warmup', str(sizes.data_warmup)]
    # The few toy images hold too few pixels of some classes for rare class sampling's
    # min_pixels; 0 keeps the sampling (and its cost) otherwise as configured.
    return runner.bench(config, argv, {'data.train.rare_class_sampling.min_pixels': 0})


def run_compile(runner, sizes, model, config, best):
    model_argv, shrink = sizes.model_args(model)
    options = {**shrink, **best, 'compile': True}
    if sizes.tiny:  # the dry run checks the plumbing, not inductor's C++ build
        options = {**shrink, **best, 'compile.backend': 'eager'}
    argv = model_argv + ['--iters', str(sizes.train_iters), '--warmup',
                         str(max(sizes.train_warmup, 2))]
    return runner.bench_subprocess(config, argv, options)


def targets(results):
    """The targets of docs/performance.md as [(what, value, target, met)] (None: not
    measured)."""
    rows = []
    for model, runs in results['train'].items():
        fp32 = (runs.get('fp32') or {}).get('median_s')
        bf16 = (runs.get('bf16') or {}).get('median_s')
        timed = {k: v['median_s'] for k, v in runs.items() if v.get('median_s')}
        best_name = min(timed, key=timed.get) if timed else None
        ratio = bf16 / fp32 if fp32 and bf16 else None
        rows.append((f'{model}: bf16 step / fp32 step', ratio, f'<= {TARGET_BF16_RATIO}',
                     None if ratio is None else ratio <= TARGET_BF16_RATIO))
        best = timed[best_name] / fp32 if fp32 and best_name else None
        rows.append((f'{model}: best step ({best_name}) / fp32 step', best,
                     f'<= {TARGET_BEST_RATIO}',
                     None if best is None else best <= TARGET_BEST_RATIO))
        if model.startswith('MIC(HRDA)'):
            peak = (runs.get('bf16') or {}).get('peak_memory_mb')
            peak_gb = peak * 2**20 / 1e9 if peak else None
            rows.append((f'{model}: bf16 peak memory (GB)', peak_gb, f'<= {TARGET_PEAK_GB}',
                         None if peak_gb is None else peak_gb <= TARGET_PEAK_GB))
            data = (results.get('data') or {}).get('images_per_s')
            consumed = max((2 / t for t in timed.values()), default=None)
            factor = data / consumed if data and consumed else None
            rows.append((f'{model}: loader samples/s / samples/s the fastest step consumes',
                         factor, f'>= {TARGET_DATA_FACTOR}',
                         None if factor is None else factor >= TARGET_DATA_FACTOR))
    return rows


def _cell(summary, key, scale=1.0, digits=3):
    if not summary:
        return ''
    if 'median_s' not in summary:
        return summary.get('skipped') and 'skipped' or 'failed'
    value = summary.get(key)
    return '' if value is None else f'{value * scale:.{digits}f}'


def markdown(results):
    """The tables of docs/performance.md's "GPU figures" section."""
    env = results['environment']
    memory = 'CUDA max allocated' if env['device'] == 'cuda' else 'CPU peak RSS'
    lines = [f"Measured with `python -m tools.benchmark_gpu` on {env.get('gpu', env['device'])}, "
             f"torch {env['torch']}, CUDA {env['cuda']}, {env['date']}"
             f"{' (--tiny dry run: not figures)' if results['tiny'] else ''}.", '']
    for model, runs in results['train'].items():
        fp32 = (runs.get('fp32') or {}).get('median_s')
        lines += [f'Training, {model}, {results["crop"]} crops, batch 2 (median of the '
                  'timed iterations):', '',
                  f'| setting | s/iter | x fp32 | peak memory (GB, {memory}) |',
                  '|---|---|---|---|']
        for name, summary in runs.items():
            ratio = f"{summary['median_s'] / fp32:.2f}" if fp32 and summary.get('median_s') \
                else ''
            lines.append(f"| {name} | {_cell(summary, 'median_s')} | {ratio} | "
                         f"{_cell(summary, 'peak_memory_mb', 2**20 / 1e9, 2)} |")
        lines.append('')
    for model, runs in results['test'].items():
        lines += [f'Inference, {model}, one {"x".join(results["img_scale"])} image:', '',
                  f'| setting | s/image | peak memory (GB, {memory}) |', '|---|---|---|']
        for name, summary in runs.items():
            lines.append(f"| {name} | {_cell(summary, 'median_s')} | "
                         f"{_cell(summary, 'peak_memory_mb', 2**20 / 1e9, 2)} |")
        lines.append('')
    data = results.get('data') or {}
    lines += [f"Data loading (MIC(HRDA) config, toy data at {results['toy_size']}): "
              f"{_cell(data, 'images_per_s', digits=1) or 'not measured'} samples/s.", '',
              '| target | measured | target | met |', '|---|---|---|---|']
    for what, value, target, met in results['targets']:
        shown = '' if value is None else f'{value:.2f}'
        lines.append(f"| {what} | {shown} | {target} | "
                     f"{'' if met is None else ('yes' if met else 'no')} |")
    return '\n'.join(lines) + '\n'


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    sizes = Sizes(args.tiny, args.iters)
    runner = Runner(args, args.out)
    env = benchmark.environment(args.device)
    env.update(device=args.device, date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
    results = dict(environment=env, tiny=args.tiny, img_scale=sizes.img_scale,
                   crop='128x128' if args.tiny else '1024x1024',
                   toy_size='x'.join(map(str, sizes.toy_size)), train={}, test={})
    best = {}
    for model, config in plan(args.models):
        best[model] = dict(BF16)
        if 'train' in args.parts:
            results['train'][model], best[model], _ = run_training(runner, sizes, model,
                                                                   config)
        if 'test' in args.parts:
            results['test'][model] = run_inference(runner, sizes, model, config, best[model])
        if model == MODELS['mic'] and 'data' in args.parts:
            results['data'] = run_data(runner, sizes, config, args.out)
        _save(results, args.out)
    if args.compile and 'compile' in args.parts and 'mic' in args.models:
        model, config = plan(['mic'])[0]
        name = 'bf16 + compile' + ''.join(f' + {p}' for p in paying_options(
            results['train'].get(model, {})))
        results['train'].setdefault(model, {})[name] = run_compile(runner, sizes, model,
                                                                   config, best[model])
    results['elapsed_s'] = time.monotonic() - runner.start
    results['targets'] = targets(results)
    _save(results, args.out)
    print(markdown(results))
    return results


def _save(results, out_dir):
    results = dict(results)
    results.setdefault('targets', targets(results))
    with open(osp.join(out_dir, 'gpu_benchmark.json'), 'w') as f:
        json.dump(results, f, indent=2, default=str)
    with open(osp.join(out_dir, 'gpu_benchmark.md'), 'w') as f:
        f.write(markdown(results))


if __name__ == '__main__':
    run_cli(main, 'GPU benchmark')

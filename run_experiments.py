"""Generate the configs of an experiment (experiments.py) or of one config file and train them.

    python run_experiments.py --exp 80               # the 12 runs of experiment 80, one by one
    python run_experiments.py --exp 3 --dry-run      # write the configs, list them, train nothing
    python run_experiments.py --config configs/mic/gtaHR2csHR_mic_hrda.py
    python run_experiments.py --exp 1 --startup-test --cfg-options data.workers_per_gpu=0
    python run_experiments.py --exp 80 --machine slurm --partition gpu --time 24:00:00

Each run gets a unique name `<yymmdd_HHMM>_<name>_<5 hex>`, its config is written to
configs/generated/<machine>-<exp>/<name>.py (docs/REFERENCE.md §7.3) and trained in this process by
tools/train.py into work_dirs/<machine>-<exp>/<name>/. A run that was interrupted (its work_dir
holds a checkpoint before the last iteration) is not started again: its config is reused and
tools/train.py --auto-resume continues it from its newest checkpoint.
"""
import argparse
import os
import os.path as osp
import pprint
import re
import subprocess
import sys
import uuid
from datetime import datetime

REPO = osp.dirname(osp.abspath(__file__))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
if os.getcwd() not in sys.path:
    # As `python -m` would: the user's own modules (custom_imports) in the current folder.
    sys.path.insert(0, os.getcwd())

import mmseg  # noqa: E402,F401  (imported first: it silences mmcv 1.7's rename notice)
from mmcv import Config  # noqa: E402

from experiments import CONFIGS_DIR, EXPERIMENT_IDS, generate_experiment_cfgs  # noqa: E402
from mmseg.core.run_outcome import EXIT_EVALUATION_FAILED  # noqa: E402
from mmseg.utils.config_args import load_config, parse_cfg_options  # noqa: E402
from mmseg.utils.errors import UserFileNotFoundError, UserKeyError, run_cli  # noqa: E402

__all__ = ['main', 'parse_args', 'prepare_runs', 'write_config', 'get_git_hash', 'submit_slurm']

GEN_CONFIG_DIR = osp.join(CONFIGS_DIR, 'generated')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument('--exp', type=int, help=f'experiment id, one of {EXPERIMENT_IDS}')
    which.add_argument('--config', help='a config file to train (with a unique run name)')
    parser.add_argument('--machine', choices=['local', 'slurm'], default='local',
                        help='local: train the runs one after another in this process; '
                             'slurm: submit one sbatch job per run')
    add_slurm_args(parser)
    parser.add_argument('--debug', action='store_true',
                        help='log and write debug images every 10 iterations, evaluate every 200')
    parser.add_argument('--startup-test', action='store_true',
                        help='2 iterations of each seed-0 run, to check that everything starts')
    parser.add_argument('--dry-run', action='store_true',
                        help='generate and list the runs without training; the configs are '
                             'only kept when --gen-dir is given')
    parser.add_argument('--gen-dir', default=None,
                        help='folder for the generated configs (default configs/generated)')
    parser.add_argument('--work-dirs', default='work_dirs',
                        help='root of the run folders written into the configs')
    parser.add_argument('--cfg-options', nargs='+', default=None, metavar='KEY=VALUE',
                        help='overrides passed on unchanged to tools/train.py for every run '
                             '(e.g. data.workers_per_gpu=0)')
    args = parser.parse_args(argv)
    parse_cfg_options(args.cfg_options or [])  # a bad item: one line, before any config
    if args.exp is not None and args.exp not in EXPERIMENT_IDS:
        parser.error(f'unknown experiment id {args.exp}; known ids: '
                     f'{", ".join(str(i) for i in EXPERIMENT_IDS)} (see experiments.py)')
    return args


def add_slurm_args(parser):
    """The sbatch settings of --machine slurm."""
    group = parser.add_argument_group('--machine slurm')
    group.add_argument('--partition', help='Slurm partition (default: the cluster default)')
    group.add_argument('--time', help='time limit per run, HH:MM:SS or D-HH:MM:SS')
    group.add_argument('--cpus-per-task', type=int, help='CPU cores per task')
    group.add_argument('--mem', help='memory per node, e.g. 64G')
    group.add_argument('--gpus-per-run', type=int,
                       help="GPUs per run (default: the config's n_gpus; 0: none)")


def slurm_options(args):
    """The SlurmOptions of --partition, --time, ...; bad values raise UserInputError."""
    from tools.slurm.sbatch import SlurmOptions
    return SlurmOptions(args.partition, args.time, args.cpus_per_task, args.mem,
                        args.gpus_per_run)


def submit_slurm(runs, args):
    """Write ``<work_dir>/<name>.sbatch`` for each run and, unless --dry-run, submit it.
    The jobs run in the current folder, as local runs do (relative paths, custom_imports).

    Returns a list of (name, script path, job id or None)."""
    from mmcv import Config as _Config

    from tools.slurm.sbatch import submit, write_sbatch_script
    options = slurm_options(args)
    train_args = ['--cfg-options'] + args.cfg_options if args.cfg_options else []
    jobs = []
    for name, path in runs:
        cfg = _Config.fromfile(path)
        script = write_sbatch_script(name, path, cfg.work_dir, cfg.get('n_gpus', 1), options,
                                     train_args, cwd=os.getcwd())
        job_id = None if args.dry_run else submit(script)
        jobs.append((name, script, job_id))
        print(f'{name}: {osp.relpath(script)}' + (f' -> job {job_id}' if job_id else ''),
              flush=True)
    return jobs


def get_git_hash():
    """The commit of the working tree (recorded in each config), or 'unknown' outside git."""
    try:
        out = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=REPO, capture_output=True,
                             text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def unique_name(name):
    return f"{datetime.now().strftime('%y%m%d_%H%M')}_{name}_{uuid.uuid4().hex[:5]}"


def apply_debug(cfg, has_uda):
    """--debug (docs/REFERENCE.md §7.3): frequent logs, debug images and evaluations."""
    log_config = cfg.setdefault('log_config', {})
    log_config['interval'] = 10
    log_config['img_interval'] = 10
    cfg['evaluation'] = dict(cfg.get('evaluation') or {}, interval=200, metric='mIoU')
    if has_uda:
        cfg.setdefault('uda', {})['debug_img_interval'] = 10


def apply_startup_test(cfg):
    """--startup-test (docs/REFERENCE.md §7.3): 2 iterations, no evaluation.

    Unlike the original (log level ERROR, save_last=False) both iterations are logged (text and
    JSON logs are not empty) and the last iteration is saved, so that the checkpoint of a
    startup run can be handed to tools/test.py to check the test side too.
    """
    cfg['log_level'] = 'INFO'
    log_config = cfg.setdefault('log_config', {})
    log_config['interval'] = 1
    cfg['runner'] = dict(type='IterBasedRunner', max_iters=2)
    cfg['evaluation'] = dict(cfg.get('evaluation') or {}, interval=100)
    cfg['checkpoint_config'] = dict(by_epoch=False, interval=100, save_last=True)


def _generated_base(path):
    """The ``_base_`` of a generated config as written (a str or a list), read without loading
    it; None when the file has none or cannot be parsed."""
    import ast
    try:
        tree = ast.parse(open(path).read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_' for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def find_unfinished_run(out_dir, name, cfg_options=None, base=None):
    """An earlier generated config ``<out_dir>/<yymmdd_HHMM>_<name>_<5 hex>.py`` whose work_dir
    holds a checkpoint before its last iteration (a run that was interrupted), or None. The
    config is read with ``cfg_options`` merged, as the training reads it (max_iters, work_dir).

    base: the user's config file (``--config``); generated configs made from another file (or
    from one that no longer exists) are not resumed. Generated configs that cannot be read are
    skipped with a warning naming them.
    """
    from mmseg.core.checkpoint import find_latest_checkpoint
    pattern = re.compile(r'\d{6}_\d{4}_' + re.escape(name) + r'_[0-9a-f]{5}\.py')
    candidates = sorted(f for f in os.listdir(out_dir) if pattern.fullmatch(f)) \
        if osp.isdir(out_dir) else []
    for file in reversed(candidates):  # the newest first
        path = osp.join(out_dir, file)
        if base is not None:
            written = _generated_base(path)
            if not isinstance(written, str) or \
                    osp.realpath(osp.join(out_dir, written)) != osp.realpath(base):
                continue
        try:
            cfg = Config.fromfile(path)
        except Exception as error:  # noqa: BLE001 (an old file of another run: not ours)
            print(f'warning: skipped {path} while looking for an interrupted run: it cannot '
                  f'be read ({type(error).__name__}: {error})', file=sys.stderr)
            continue
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest is None:
            continue
        done = int(re.search(r'iter_(\d+)\.pth$', latest).group(1))
        if done < cfg.runner.max_iters:
            return cfg.name, path
    return None


def write_config(cfg, path, source='experiments.py'):
    """Write ``cfg`` (a dict of plain values) as a Python config file, one variable a key;
    the header names ``source``, the file to edit instead."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    if osp.exists(path):
        raise FileExistsError(f'{path} exists already; run names must be unique')
    lines = [f'# Generated by run_experiments.py from {source}; edit that file instead.']
    for key, value in cfg.items():
        lines.append(f'{key} = {pprint.pformat(value, width=100, sort_dicts=False)}')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _relative_bases(bases, out_dir, configs_dir=CONFIGS_DIR):
    """`_base_` paths relative to configs/ -> relative to the folder of the generated file."""
    return [osp.relpath(osp.join(configs_dir, b), out_dir) for b in bases]


def prepare_runs(args):
    """Write the configs of the requested runs; returns a list of (name, config path)."""
    git_rev = get_git_hash()
    runs = []
    if args.config is not None:
        if not osp.isfile(args.config):
            raise UserFileNotFoundError(f'config file {args.config} not found')
        loaded = load_config(args.config)  # a syntax error: one line naming the file and line
        for key in ('name', 'exp'):
            if key not in loaded:
                raise UserKeyError(f"{args.config} has no '{key}': run_experiments.py names "
                                   f"runs after the config's name and exp keys "
                                   f"(docs/REFERENCE.md §7.3)")
        exp_name = f"{args.machine}-{loaded['exp']}"
        out_dir = osp.join(args.gen_dir, exp_name)
        unfinished = find_unfinished_run(out_dir, loaded['name'],
                                         _parse_cfg_options(args.cfg_options), base=args.config)
        if unfinished is not None:  # resumed by tools/train.py --auto-resume
            return [unfinished]
        name = unique_name(loaded['name'])
        child = {'_base_': osp.relpath(osp.abspath(args.config), out_dir), 'name': name,
                 'work_dir': osp.join(args.work_dirs, exp_name, name), 'git_rev': git_rev}
        # The child overrides merge into the given config (mmcv _base_ inheritance).
        if args.debug:
            apply_debug(child, has_uda='uda' in loaded)
        if args.startup_test:
            apply_startup_test(child)
        path = osp.join(out_dir, f'{name}.py')
        write_config(child, path, source=args.config)
        runs.append((name, path))
        return runs

    exp_name = f'{args.machine}-exp{args.exp}' + ('-startup' if args.startup_test else '')
    out_dir = osp.join(args.gen_dir, exp_name)
    for cfg in generate_experiment_cfgs(args.exp):
        if args.startup_test and cfg.get('seed', 0) != 0:
            continue  # one seed suffices to see that a setting starts
        if args.debug:
            apply_debug(cfg, has_uda=any('_base_/uda/' in b for b in cfg['_base_']))
        if args.startup_test:
            apply_startup_test(cfg)
        unfinished = find_unfinished_run(out_dir, cfg['name'], _parse_cfg_options(args.cfg_options))
        if unfinished is not None:  # resumed by tools/train.py --auto-resume
            runs.append(unfinished)
            continue
        cfg['name'] = unique_name(cfg['name'])
        cfg['work_dir'] = osp.join(args.work_dirs, exp_name, cfg['name'])
        cfg['git_rev'] = git_rev
        cfg['_base_'] = _relative_bases(cfg['_base_'], out_dir)
        path = osp.join(out_dir, f"{cfg['name']}.py")
        write_config(cfg, path)
        runs.append((cfg['name'], path))
    return runs


def _parse_cfg_options(options):
    """KEY=VALUE strings -> dict, read as tools/train.py reads them (None for none)."""
    return parse_cfg_options(options) if options else None


def _remove_configs(runs):
    from mmseg.core.checkpoint import find_latest_checkpoint
    for _, path in runs:
        # The config of an interrupted run (its work_dir has a checkpoint) stays for resuming.
        if osp.exists(path) and find_latest_checkpoint(Config.fromfile(path).work_dir) is None:
            os.remove(path)
    folders = {osp.dirname(path) for _, path in runs}
    for folder in folders:
        if osp.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)


def _exit_if_inputs_missing(runs, cfg_options, train):
    """Stop before the first run when data or weights of any run are missing, and remove the
    configs generated for them (nothing was started)."""
    find_missing = getattr(train, 'find_missing_inputs', None)
    if find_missing is None:
        return
    missing = []
    options = _parse_cfg_options(cfg_options)
    for _, path in runs:
        cfg = Config.fromfile(path)
        if options:
            cfg.merge_from_dict(options)
        missing += [p for p in find_missing(cfg) if p not in missing]
    if missing:
        _remove_configs(runs)
        raise UserFileNotFoundError(
            f'these data folders / weight files do not exist: {", ".join(missing)}. Download '
            f'and convert the datasets and put the weights under pretrained/ '
            f'({train.README_HINT}). The generated configs were removed.')


def _display(path, args):
    """A generated config's path as the user gave --gen-dir (default: relative to the cwd)."""
    return path if args.gen_dir else osp.relpath(path)


def _dry_run(args):
    """Generate and list the runs; keep the configs only when --gen-dir was given."""
    if args.gen_dir:
        runs = prepare_runs(args)
        for i, (name, path) in enumerate(runs):
            print(f'[{i + 1}/{len(runs)}] {name}: {path}', flush=True)
        print(f'{len(runs)} config(s) written; --dry-run: nothing trained')
        return runs
    import tempfile
    with tempfile.TemporaryDirectory() as tmp_dir:
        args.gen_dir = tmp_dir
        runs = prepare_runs(args)
        for i, (name, _) in enumerate(runs):
            print(f'[{i + 1}/{len(runs)}] {name}', flush=True)
        args.gen_dir = None
    print(f'{len(runs)} run(s); --dry-run: nothing trained or kept (give --gen-dir DIR to keep '
          'the configs)')
    return runs


def main(argv=None):
    args = parse_args(argv)
    if args.dry_run and args.machine != 'slurm':
        return _dry_run(args)
    if args.machine == 'slurm':
        slurm_options(args)  # refuse a bad --time before any config is written
    gen_dir_given = args.gen_dir
    args.gen_dir = args.gen_dir or GEN_CONFIG_DIR
    runs = prepare_runs(args)
    args.gen_dir = gen_dir_given
    for i, (name, path) in enumerate(runs):
        print(f'[{i + 1}/{len(runs)}] {name}: {_display(path, args)}', flush=True)
    from tools import train
    if not args.dry_run:  # the data of a Slurm job are checked here too, before submitting
        _exit_if_inputs_missing(runs, args.cfg_options, train)
    if args.machine == 'slurm':
        # The sbatch scripts read the generated configs: kept, also with --dry-run.
        jobs = submit_slurm(runs, args)
        print(f'{len(jobs)} sbatch script(s) written' +
              ('; --dry-run: nothing submitted' if args.dry_run else
               f"; job ids: {' '.join(j for _, _, j in jobs)}"))
        return runs
    work_dirs, eval_failed = [], []
    for name, path in runs:
        print(f'Run job {name}', flush=True)
        # A run whose work_dir has a checkpoint continues from it.
        try:
            work_dirs.append(train.main(
                [path, '--auto-resume']
                + (['--cfg-options'] + args.cfg_options if args.cfg_options else [])))
        except SystemExit as stop:
            if stop.code != EXIT_EVALUATION_FAILED:
                raise
            # Trained to the end, its checkpoints kept: the next runs still train.
            eval_failed.append(name)
    if eval_failed:
        print(f"{len(eval_failed)} run(s) finished with failed evaluations: "
              f"{', '.join(eval_failed)} (their checkpoints and the tools/test.py commands are "
              f"named above; docs/RUNS.md)", file=sys.stderr)
        sys.exit(EXIT_EVALUATION_FAILED)
    if args.startup_test:
        print(f'Startup test passed: {len(runs)} run(s) trained 2 iterations each; logs, '
              f'configs and checkpoints in:', flush=True)
        for work_dir in work_dirs:
            print(f'  {work_dir}')  # with <timestamp>.log, .log.json and iter_2.pth
    return runs


if __name__ == '__main__':
    run_cli(main, 'train')

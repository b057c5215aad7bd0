"""Results table of a work_dirs tree: final mIoU per run and mean ± std over seeds per experiment.

    python tools/summarize_results.py work_dirs/local-exp80 [--csv results.csv]

A run is a folder holding `*.log.json` (mmcv's JSON log: one dict per line). Its result is the
last entry with mode 'val' (over all its JSON logs, oldest first); its iteration is that of the
train entry logged before it (mmcv puts the number of validation images into a val entry's
`iter`), or, without such an entry (log interval longer than max_iters), the newest
`iter_<N>.pth`. `--csv` writes the experiment table (numbers to 4 decimals); its folder is
checked before anything is printed. Runs are grouped into
experiments by their name without the `<yymmdd_HHMM>_` prefix, the `_<5 hex>` suffix and the
`_s<seed>` part that run_experiments.py adds (docs/REFERENCE.md §7.1/§7.3). Standard deviations are sample
standard deviations (ddof=1) over the seeds; a single seed shows no std.

mIoU16 for Synthia-source runs (name starting with `syn`): the mean IoU over the 16 classes with
Synthia labels (without terrain, truck, train), computed from the per-class `IoU.<class>` entries
of the log; when a log has only `mIoU`, mIoU × 19/16 (docs/REFERENCE.md §1: the 3 missing classes have IoU 0).
The table marks which of the two was used.

Runs evaluated on several datasets (``data.val`` a list, docs/evaluation.md) log each
dataset's mIoU as ``<name>/mIoU`` and their unweighted mean as ``mIoU``: the tables then get a
column per target (mIoU of the run, mean ± std over the seeds) beside the mIoU column, which
holds the mean. Such columns appear only when a run logs two or more ``<name>/mIoU`` keys
(a single Cityscapes run evaluated with metric 'cityscapes' logs one, ``cityscapes/mIoU``,
and keeps today's table).

A run is incomplete when the iteration it reached (its last train entry or `iter_<N>.pth`) is
below `runner.max_iters` of the config saved in its folder; incomplete runs are marked in the
run table and left out of the mean ± std (the experiment table counts them). Runs without a
saved config are taken as they are.

Two more kinds of run are marked and left out the same way, since their last mIoU is not the
result of the finished run (docs/RUNS.md):
- FINAL EVALUATION FAILED: the JSON log has an ``eval_failed`` val entry (tools/train.py writes
  one when an evaluation raises) after its last mIoU; evaluate the kept checkpoint with
  tools/test.py.
- RESTARTED: ``latest.pth`` points at an older iteration than the newest ``iter_<N>.pth``: a
  run was started from scratch over a finished one (possible before tools/train.py refused it).
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import sys

if __package__ in (None, ''):  # run as a script: make ``mmseg`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
from prettytable import PrettyTable  # noqa: E402

from mmseg.utils.errors import UserFileNotFoundError, UserInputError, run_cli  # noqa: E402

__all__ = ['find_runs', 'read_final_val', 'read_progress', 'split_run_name', 'miou16', 'summarize', 'main',
           'CLASSES', 'SYNTHIA_MISSING', 'find_problem', 'target_mious']

CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
           'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck',
           'bus', 'train', 'motorcycle', 'bicycle')
SYNTHIA_MISSING = ('terrain', 'truck', 'train')  # train IDs 9, 14, 16


def find_runs(root):
    """Folders under ``root`` (itself included) that hold at least one `*.log.json`."""
    if not osp.isdir(root):
        raise UserFileNotFoundError(f'{root} is not a folder: give the work_dirs folder of the runs')
    runs = []
    for folder, _, files in os.walk(root):
        if any(f.endswith('.log.json') for f in files):
            runs.append(folder)
    return sorted(runs)


def read_final_val(run_dir):
    """The last 'val' entry of the run's JSON logs (None when never evaluated).

    mmcv writes the number of validation images as the `iter` of a val entry; the training
    iteration it belongs to is that of the train entry before it, stored as `train_iter`.
    """
    last, train_iter = None, None
    for path in sorted(glob.glob(osp.join(run_dir, '*.log.json'))):
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as e:
                    raise UserInputError(f'{path}, line {line_no}: not JSON ({e})') from e
                if entry.get('mode') == 'train':
                    train_iter = entry.get('iter')
                elif entry.get('mode') == 'val' and 'mIoU' in entry:
                    last = dict(entry, train_iter=train_iter)
    return last


def _failed_after_last_miou(run_dir):
    """The ``eval_failed`` val entry logged after the last mIoU entry, or None."""
    failed = None
    for path in sorted(glob.glob(osp.join(run_dir, '*.log.json'))):
        with open(path) as f:
            for line in f:
                if '"val"' not in line:
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if entry.get('mode') == 'val' and 'eval_failed' in entry:
                    failed = entry
                elif entry.get('mode') == 'val' and 'mIoU' in entry:
                    failed = None
    return failed


def _checkpoint_iter(name):
    match = re.fullmatch(r'iter_(\d+)\.pth', name)
    return int(match.group(1)) if match else None


def find_problem(run_dir):
    """Why the run's last mIoU is not its result (see the module doc), or None."""
    failed = _failed_after_last_miou(run_dir)
    if failed is not None:
        return (f"FINAL EVALUATION FAILED at iteration {failed.get('iter')} "
                f"({failed['eval_failed']})")
    latest = osp.join(run_dir, 'latest.pth')
    if osp.islink(latest):
        latest_iter = _checkpoint_iter(osp.basename(os.readlink(latest)))
        newest = max((_checkpoint_iter(osp.basename(p)) or 0
                      for p in glob.glob(osp.join(run_dir, 'iter_*.pth'))), default=0)
        if latest_iter is not None and newest > latest_iter:
            return (f'RESTARTED: latest.pth is iteration {latest_iter}, the folder also holds '
                    f'iteration {newest}')
    return None


def read_progress(run_dir):
    """(iteration reached, planned max_iters or None) of a run folder.

    The iteration reached is the largest of the train entries' `iter` and the `iter_<N>.pth`
    checkpoints; max_iters is read from `runner = dict(..., max_iters=N)` of the config that
    tools/train.py saved into the folder.
    """
    reached = 0
    for path in glob.glob(osp.join(run_dir, 'iter_*.pth')):
        match = re.fullmatch(r'iter_(\d+)\.pth', osp.basename(path))
        if match:
            reached = max(reached, int(match.group(1)))
    for path in glob.glob(osp.join(run_dir, '*.log.json')):
        with open(path) as f:
            for line in f:
                if '"train"' in line:
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if entry.get('mode') == 'train':
                        reached = max(reached, int(entry.get('iter', 0)))
    max_iters = None
    for path in sorted(glob.glob(osp.join(run_dir, '*.py'))):
        with open(path) as f:
            match = re.search(r'runner\s*=\s*dict\([^)]*?max_iters\s*=\s*(\d+)', f.read())
        if match:
            max_iters = int(match.group(1))
            break
    return reached, max_iters


def split_run_name(folder_name):
    """(experiment name, seed or None) of a run folder `<yymmdd_HHMM>_<name>_s<seed>_<hex5>`."""
    name = re.sub(r'^\d{6}_\d{4}_', '', folder_name)
    match = re.match(r'^(?P<exp>.+)_s(?P<seed>\d+)(_[0-9a-f]{5})?$', name)
    if match is None:
        return name, None
    return match.group('exp'), int(match.group('seed'))


def _percent(value):
    """mmseg logs IoUs as fractions in [0, 1]; tables show percent."""
    return 100.0 * value if value <= 1.0 else value


def miou16(entry):
    """(mIoU16 in percent, source) for a Synthia run: 'classes' or 'x19/16' (see module doc)."""
    keys = [f'IoU.{c}' for c in CLASSES if c not in SYNTHIA_MISSING]
    if all(k in entry for k in keys):
        # Classes absent from the validation set are NaN and left out, as in mmseg's mIoU.
        values = [np.nan if entry[k] is None else _percent(entry[k]) for k in keys]
        return float(np.nanmean(values)), 'classes'
    return _percent(entry['mIoU']) * 19 / 16, 'x19/16'


def target_mious(entry):
    """{dataset name: mIoU in percent} of a val entry of a run evaluated on several datasets
    (its ``<name>/mIoU`` keys, in log order); {} for a single-dataset run."""
    targets = {key[:-len('/mIoU')]: None if value is None else _percent(value)
               for key, value in entry.items()
               if key.endswith('/mIoU') and key.count('/') == 1}
    return targets if len(targets) > 1 else {}


def _mean_std(values):
    values = np.array(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else None


def _target_summary(rows):
    """{name: (mean, std)} over the rows of the per-target mIoUs that every row has."""
    names = [n for n in rows[0]['targets'] if all(n in r['targets'] for r in rows)]
    return {n: _mean_std([r['targets'][n] for r in rows]) for n in names
            if all(r['targets'][n] is not None for r in rows)}


def _is_synthia(name):
    return name.startswith('syn')


def summarize(root):
    """(per-run rows, per-experiment rows) of the runs under ``root``."""
    runs = []
    for run_dir in find_runs(root):
        entry = read_final_val(run_dir)
        exp, seed = split_run_name(osp.basename(run_dir))
        reached, max_iters = read_progress(run_dir)
        problem = find_problem(run_dir)
        row = dict(run=osp.relpath(run_dir, root), experiment=exp, seed=seed,
                   iter=None, miou=None, miou16=None, miou16_from=None, targets={},
                   reached=reached,
                   max_iters=max_iters, problem=problem,
                   complete=False if problem else
                   None if max_iters is None else reached >= max_iters)
        if entry is not None:
            # No train line before the val entry (log interval longer than max_iters): the
            # iteration reached, from the checkpoints (mmcv's val `iter` counts images).
            row.update(iter=entry['train_iter'] if entry['train_iter'] is not None
                       else reached or None, miou=_percent(entry['mIoU']),
                       targets=target_mious(entry))
            if _is_synthia(exp):
                row['miou16'], row['miou16_from'] = miou16(entry)
        runs.append(row)
    groups, incomplete = {}, {}
    for row in runs:
        if row['miou'] is None:
            continue
        if row['complete'] is False:
            incomplete[row['experiment']] = incomplete.get(row['experiment'], 0) + 1
            groups.setdefault(row['experiment'], [])
        else:
            groups.setdefault(row['experiment'], []).append(row)
    experiments = []
    for exp, rows in sorted(groups.items()):
        if not rows:
            experiments.append(dict(experiment=exp, seeds=[], n=0, mean=None, std=None,
                                    mean16=None, std16=None, targets={},
                                    incomplete=incomplete[exp]))
            continue
        mious = np.array([r['miou'] for r in rows])
        summary = dict(experiment=exp, seeds=sorted(r['seed'] for r in rows
                                                     if r['seed'] is not None),
                       n=len(rows), mean=float(mious.mean()),
                       std=float(mious.std(ddof=1)) if len(rows) > 1 else None,
                       mean16=None, std16=None, targets=_target_summary(rows),
                       incomplete=incomplete.get(exp, 0))
        if all(r['miou16'] is not None for r in rows) and _is_synthia(exp):
            m16 = np.array([r['miou16'] for r in rows])
            summary['mean16'] = float(m16.mean())
            summary['std16'] = float(m16.std(ddof=1)) if len(rows) > 1 else None
        experiments.append(summary)
    return runs, experiments


def _fmt(value, std=None):
    if value is None:
        return '-'
    return f'{value:.2f}' if std is None else f'{value:.2f} ± {std:.2f}'


def _status(row):
    if row.get('problem'):
        return row['problem']
    if row['complete'] is None:
        return 'no saved config'
    if row['complete']:
        return 'complete'
    return f"INCOMPLETE: iteration {row['reached']} of {row['max_iters']}"


def target_names(runs):
    """The dataset names of the runs evaluated on several datasets, in order of appearance."""
    names = []
    for r in runs:
        names += [n for n in r.get('targets') or {} if n not in names]
    return names


def make_tables(runs, experiments):
    """(run table, experiment table); a column per target dataset when runs have several
    (the mIoU column then holds their mean)."""
    names = target_names(runs)
    run_table = PrettyTable(['run', 'seed', 'iter', 'mIoU'] + [f'{n} mIoU' for n in names]
                            + ['mIoU16', 'status'])
    for r in runs:
        m16 = '-' if r['miou16'] is None else f"{r['miou16']:.2f} ({r['miou16_from']})"
        targets = [_fmt((r.get('targets') or {}).get(n)) for n in names]
        run_table.add_row([r['run'], '-' if r['seed'] is None else r['seed'],
                           '-' if r['iter'] is None else r['iter'],
                           _fmt(r['miou']) if r['miou'] is not None else 'no val entry']
                          + targets + [m16, _status(r)])
    run_table.align['run'] = 'l'
    exp_table = PrettyTable(['experiment', 'seeds', 'mIoU (mean ± std)']
                            + [f'{n} mIoU (mean ± std)' for n in names]
                            + ['mIoU16 (mean ± std)', 'incomplete runs left out'])
    for e in experiments:
        targets = [_fmt(*(e.get('targets') or {}).get(n, (None, None))) for n in names]
        exp_table.add_row([e['experiment'], ','.join(map(str, e['seeds'])) or e['n'],
                           _fmt(e['mean'], e['std'])] + targets
                          + [_fmt(e['mean16'], e['std16']), e.get('incomplete', 0)])
    exp_table.align['experiment'] = 'l'
    return run_table, exp_table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir', help='folder with the run folders (e.g. work_dirs/local-exp80)')
    parser.add_argument('--csv', help='also write the per-experiment rows to this CSV file')
    args = parser.parse_args(argv)
    if args.csv:
        _check_csv_path(args.csv)
    runs, experiments = summarize(args.work_dir)
    if not runs:
        raise UserFileNotFoundError(f'no run with a *.log.json found under {args.work_dir}')
    run_table, exp_table = make_tables(runs, experiments)
    print('Runs (final validation entry)')
    print(run_table)
    print('Experiments (over seeds; std with ddof=1)')
    print(exp_table)
    n_incomplete = sum(r['complete'] is False and not r['problem'] for r in runs)
    if n_incomplete:
        print(f'{n_incomplete} incomplete run(s) (marked INCOMPLETE above) are left out of '
              'mean ± std.')
    n_problem = sum(bool(r['problem']) for r in runs)
    if n_problem:
        print(f'{n_problem} run(s) whose last mIoU is not their result (marked FINAL EVALUATION '
              'FAILED or RESTARTED above) are left out of mean ± std.')
    if args.csv:
        _write_csv(args.csv, experiments, target_names(runs))
    return runs, experiments


def _check_csv_path(path):
    """Raises UserFileNotFoundError / UserInputError before anything is printed when the CSV
    cannot be written there (its folder missing, or the path a folder)."""
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        raise UserFileNotFoundError(f'--csv {path}: the folder {folder} does not exist; create '
                                    f'it or give a path in an existing folder')
    if osp.isdir(path):
        raise UserInputError(f'--csv {path} is a folder; expected a file path (e.g. '
                             f'{osp.join(path, "results.csv")})')


def _csv_value(value):
    """Empty for None; floats rounded to 4 decimals (no float noise such as
    0.44999999999999996); integers as they are."""
    if value is None:
        return ''
    if isinstance(value, float):
        return str(round(value, 4))
    return str(value)


def _write_csv(path, experiments, names):
    """One row per experiment; with several targets also mean_<name>,std_<name> per target."""
    keys = ('experiment', 'n', 'mean', 'std', 'mean16', 'std16', 'incomplete')
    with open(path, 'w') as f:
        f.write(','.join(keys + tuple(f'{s}_{n}' for n in names for s in ('mean', 'std')))
                + '\n')
        for e in experiments:
            values = [e[k] for k in keys]
            for n in names:
                values += list((e.get('targets') or {}).get(n, (None, None)))
            f.write(','.join(_csv_value(v) for v in values) + '\n')


if __name__ == '__main__':
    run_cli(main, 'summarize')

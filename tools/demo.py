"""`make demo`: the main job end to end on the built-in toy data, on CPU.

1. generate the toy GTA (source) and toy Cityscapes (target) data under data/toy and convert them
   (train IDs and rare-class-sampling statistics), unless they are already there;
2. train configs/toy/toy_gta2cs_source_only.py (supervised on toy GTA) into work_dirs/demo;
3. evaluate the checkpoint on toy Cityscapes val, draw the predictions into work_dirs/demo/preds,
   print the per-class IoU table and a short summary (mIoU, where checkpoint and pictures are).

The full output of each step goes to a text file in the work_dir; the console gets one line per
step, the tables and the summary.
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = 'configs/toy/toy_gta2cs_source_only.py'


def run(cmd, output_file, what):
    """Run ``cmd`` in the repository with its output going to ``output_file``; on failure print
    the end of that output and exit."""
    print(f'{what} ... (output: {output_file})', flush=True)
    os.makedirs(osp.dirname(osp.join(REPO, output_file)) or '.', exist_ok=True)
    with open(osp.join(REPO, output_file), 'w') as out:
        status = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT).returncode
    text = read(output_file)
    if status != 0:
        print('\n'.join(text.splitlines()[-40:]), file=sys.stderr)
        sys.exit(f'{what} failed (exit status {status}); full output in {output_file}')
    return text


def read(path):
    with open(osp.join(REPO, path)) as f:
        return f.read()


def evaluation_tables(test_output):
    """The per-class and summary tables printed by tools.test (from 'per class results:')."""
    start = test_output.find('per class results:')
    if start < 0:
        return ''
    lines = [ln for ln in test_output[start:].splitlines()
             if ln.startswith(('per class', 'Summary', '+', '|'))]
    return '\n'.join(lines)


def summary_value(tables, key='mIoU'):
    """The value under ``key`` in the last table of ``tables`` (the summary), or None."""
    rows = [ln for ln in tables.splitlines() if ln.startswith('|')]
    for header, values in zip(rows[:-1], rows[1:]):
        names = [c.strip() for c in header.strip('|').split('|')]
        if key in names and names[0] == 'aAcc':
            cells = [c.strip() for c in values.strip('|').split('|')]
            return float(cells[names.index(key)])
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/toy')
    parser.add_argument('--regenerate', action='store_true', help='make the toy data anew')
    args = parser.parse_args(argv)

    py, work_dir = sys.executable, args.work_dir
    marker = osp.join(REPO, args.data_root, 'cityscapes', 'sample_class_stats.json')
    if args.regenerate or not osp.exists(marker):
        run([py, 'tools/make_toy_data.py', '--out', args.data_root],
            osp.join(work_dir, 'toy_data_output.txt'), f'1/3 making the toy data in {args.data_root}')
    else:
        print(f'1/3 toy data found in {args.data_root} (use --regenerate to make it anew)')
    run([py, '-m', 'tools.train', args.config, '--work-dir', work_dir, '--seed', '0'],
        osp.join(work_dir, 'train_output.txt'), f'2/3 training {args.config}')
    checkpoint = osp.join(work_dir, 'latest.pth')
    preds = osp.join(work_dir, 'preds')
    test_output = run([py, '-m', 'tools.test', args.config, checkpoint, '--eval', 'mIoU',
                       '--show-dir', preds, '--opacity', '1'],
                      osp.join(work_dir, 'test_output.txt'), '3/3 testing on toy Cityscapes val')
    tables = evaluation_tables(test_output)
    print(tables)
    miou = summary_value(tables)
    drawn = sum(len(files) for _, _, files in os.walk(osp.join(REPO, preds)))
    print('\nDemo finished')
    print(f'  mIoU on toy Cityscapes val: {"?" if miou is None else f"{miou:.2f}"}')
    print(f'  checkpoint:        {checkpoint}')
    print(f'  predictions drawn: {preds}/ ({drawn} images)')
    print(f'  logs and config:   {work_dir}/ (*.log, *.log.json, *_output.txt)')
    return miou


if __name__ == '__main__':
    os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    main()

"""`make demo`: the main job end to end on the built-in toy data, on CPU.

1. generate the toy GTA (source) and toy Cityscapes (target) data under data/toy and convert them
   (train IDs and rare-class-sampling statistics), unless they are already there;
2. train configs/toy/toy_gta2cs_source_only.py (supervised on toy GTA) into work_dirs/demo;
3. evaluate the checkpoint on toy Cityscapes val and print the per-class IoU table.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = 'configs/toy/toy_gta2cs_source_only.py'


def run(cmd):
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/toy')
    parser.add_argument('--regenerate', action='store_true', help='make the toy data anew')
    args = parser.parse_args(argv)

    py = sys.executable
    marker = osp.join(REPO, args.data_root, 'cityscapes', 'sample_class_stats.json')
    if args.regenerate or not osp.exists(marker):
        run([py, 'tools/make_toy_data.py', '--out', args.data_root])
    else:
        print(f'toy data found in {args.data_root} (use --regenerate to make it anew)')
    run([py, '-m', 'tools.train', args.config, '--work-dir', args.work_dir, '--seed', '0'])
    checkpoint = osp.join(args.work_dir, 'latest.pth')
    run([py, '-m', 'tools.test', args.config, checkpoint, '--eval', 'mIoU'])
    print(f'\nDemo finished: logs, config and checkpoint in {args.work_dir}/')


if __name__ == '__main__':
    os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    main()

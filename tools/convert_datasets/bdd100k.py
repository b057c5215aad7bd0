"""Rare-class statistics of BDD100K's semantic masks, which are Cityscapes train IDs already
(docs/dataset_prepare.md, BDD100K); nothing is rewritten.

Usage: python tools/convert_datasets/bdd100k.py data/bdd100k
       [--gt-dir labels/sem_seg/masks/train] [-o OUT] [--nproc N]
Only needed to use BDD100K as a source with rare-class sampling. A mask holding a value other
than 0-18 or 255 stops the run (not BDD100K's train-ID masks).
"""
import argparse
import os.path as osp
import sys

import numpy as np

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg.utils.errors import run_cli  # noqa: E402
from tools.convert_datasets.common import (NUM_CLASSES, ConversionError,  # noqa: E402
                                           class_pixel_counts, convert_files, list_label_files,
                                           read_single_channel, require_dir)

__all__ = ['bdd100k_mask_stats', 'bdd100k_statistics', 'parse_args', 'main']


def bdd100k_mask_stats(label_file):
    """``{train_id: count, 'file': label_file}`` of one train-ID mask (values checked)."""
    label = read_single_channel(label_file)
    bad = np.setdiff1d(np.unique(label), np.r_[np.arange(NUM_CLASSES), 255])
    if bad.size:
        raise ConversionError(f'{label_file} holds values {bad[:10].tolist()}: expected train '
                              f'IDs 0-{NUM_CLASSES - 1} or 255 (BDD100K sem_seg masks)')
    stats = class_pixel_counts(label)
    stats['file'] = label_file
    return stats


def bdd100k_statistics(data_root, gt_dir='labels/sem_seg/masks/train', out_dir=None, nproc=1):
    """Statistics of every mask in ``data_root/gt_dir`` into ``out_dir`` (default data_root)."""
    data_root = str(data_root)
    label_dir = require_dir(osp.join(data_root, gt_dir), 'the BDD100K semantic masks '
                            '(labels/sem_seg/masks/<split>/*.png; see docs/dataset_prepare.md)')
    files = list_label_files(label_dir, what='BDD100K masks')
    return convert_files(bdd100k_mask_stats, files,
                         out_dir if out_dir is not None else data_root, nproc, 'BDD100K masks')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the rare-class statistics of BDD100K (its masks are train IDs)')
    parser.add_argument('bdd100k_path', help='BDD100K root (holds images/10k/ and labels/)')
    parser.add_argument('--gt-dir', default='labels/sem_seg/masks/train',
                        help='mask folder under the root')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: the data root)')
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stats = bdd100k_statistics(args.bdd100k_path, args.gt_dir, args.out_dir, args.nproc)
    print(f'counted the classes of {len(stats)} BDD100K masks')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

"""Rename UrbanSyn's train-ID labels after their images and write the RCS statistics
(docs/dataset_prepare.md, UrbanSyn).

Usage: python tools/convert_datasets/urbansyn.py data/urbansyn [--gt-dir ss]
       [--out-gt-dir labelTrainIds] [-o OUT] [--nproc N]
UrbanSyn's ``ss/ss_<n>.png`` already hold Cityscapes train IDs (0-18); any other value
(unlabelled) becomes 255. Each is written as ``labelTrainIds/rgb_<n>_labelTrainIds.png``, the
name of its image ``rgb/rgb_<n>.png`` plus the suffix, so that the dataset pairs them.
"""
import argparse
import functools
import os
import os.path as osp
import sys

import numpy as np
from PIL import Image

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg.utils.errors import run_cli  # noqa: E402
from tools.convert_datasets.common import (NUM_CLASSES, TRAIN_ID_SUFFIX,  # noqa: E402
                                           ConversionError, class_pixel_counts, convert_files,
                                           list_label_files, read_single_channel, require_dir)

__all__ = ['convert_urbansyn_label', 'convert_urbansyn', 'parse_args', 'main']

LABEL_PREFIX, IMAGE_PREFIX = 'ss_', 'rgb_'


def convert_urbansyn_label(label_file, out_gt_dir):
    """Write ``out_gt_dir/rgb_<n>_labelTrainIds.png`` for ``.../ss_<n>.png``; return
    ``{train_id: count, 'file': out_file}``."""
    name = osp.basename(label_file)
    if not name.startswith(LABEL_PREFIX):
        raise ConversionError(f'{label_file}: expected UrbanSyn label names ss_<n>.png')
    label = read_single_channel(label_file)
    train_ids = np.where(label < NUM_CLASSES, label, 255).astype(np.uint8)
    out_file = osp.join(out_gt_dir, IMAGE_PREFIX + name[len(LABEL_PREFIX):-len('.png')]
                        + TRAIN_ID_SUFFIX)
    Image.fromarray(train_ids, mode='L').save(out_file)
    stats = class_pixel_counts(train_ids)
    stats['file'] = out_file
    return stats


def convert_urbansyn(data_root, gt_dir='ss', out_gt_dir='labelTrainIds', out_dir=None, nproc=1):
    """Convert every ``data_root/gt_dir/ss_<n>.png`` into ``data_root/out_gt_dir``; statistics
    go to ``out_dir`` (default data_root). Returns the statistics list."""
    data_root = str(data_root)
    label_dir = require_dir(osp.join(data_root, gt_dir), 'the UrbanSyn semantic labels '
                            '(ss/ss_<n>.png with train IDs; see docs/dataset_prepare.md)')
    files = list_label_files(label_dir, what='UrbanSyn labels')
    target = osp.join(data_root, out_gt_dir)
    os.makedirs(target, exist_ok=True)
    return convert_files(functools.partial(convert_urbansyn_label, out_gt_dir=target), files,
                         out_dir if out_dir is not None else data_root, nproc, 'UrbanSyn labels')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write UrbanSyn labels named after their images and the rare-class '
                    'statistics')
    parser.add_argument('urbansyn_path', help='UrbanSyn root (holds rgb/ and ss/)')
    parser.add_argument('--gt-dir', default='ss', help='label folder under the root')
    parser.add_argument('--out-gt-dir', default='labelTrainIds',
                        help='folder under the root for the renamed labels')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: the data root)')
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stats = convert_urbansyn(args.urbansyn_path, args.gt_dir, args.out_gt_dir, args.out_dir,
                             args.nproc)
    print(f'converted {len(stats)} UrbanSyn label files')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

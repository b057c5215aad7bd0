"""Convert Synscapes labels (Cityscapes label IDs) to train IDs and write the RCS statistics
(docs/dataset_prepare.md, Synscapes).

Usage: python tools/convert_datasets/synscapes.py data/synscapes [--gt-dir img/class] [-o OUT]
       [--nproc N]
Every ``img/class/<n>.png`` becomes ``<n>_labelTrainIds.png`` (uint8), with the Cityscapes
label-ID -> train-ID table of cityscapesscripts (the one the GTA converter uses).
"""
import argparse
import os.path as osp
import sys

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import numpy as np  # noqa: E402

from mmseg.utils.errors import run_cli  # noqa: E402
from tools.convert_datasets.common import (ConversionError, convert_label_folder,  # noqa: E402
                                           read_single_channel)
from tools.convert_datasets.gta import convert_gta_label  # noqa: E402

__all__ = ['convert_synscapes_label', 'convert_synscapes', 'parse_args', 'main']

# Cityscapes label IDs run 0-33; license plate (-1) is stored as 255.
CITYSCAPES_LABEL_IDS = np.r_[np.arange(34), 255]


def convert_synscapes_label(label_file):
    """Check that ``label_file`` holds Cityscapes label IDs, then convert it as a GTA label.
    Raises ConversionError naming the file and the values otherwise (labels of another
    dataset given by mistake would map to train IDs without a word)."""
    bad = np.setdiff1d(np.unique(read_single_channel(label_file)), CITYSCAPES_LABEL_IDS)
    if bad.size:
        raise ConversionError(f'{label_file} holds values {bad[:10].tolist()}: expected '
                              f'Cityscapes label IDs 0-33 (Synscapes img/class/*.png)')
    return convert_gta_label(label_file)


def convert_synscapes(data_root, gt_dir='img/class', out_dir=None, nproc=1):
    """Convert every label in ``data_root/gt_dir``; statistics go to ``out_dir`` (or data_root)."""
    return convert_label_folder(convert_synscapes_label, data_root, gt_dir, out_dir, nproc,
                                'the Synscapes class folder (img/class/<n>.png with Cityscapes '
                                'label IDs; see docs/dataset_prepare.md)', 'Synscapes labels')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert Synscapes labels to train IDs and write the rare-class statistics')
    parser.add_argument('synscapes_path', help='Synscapes root (holds img/rgb/ and img/class/)')
    parser.add_argument('--gt-dir', default='img/class', help='label folder under the root')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: the data root)')
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stats = convert_synscapes(args.synscapes_path, args.gt_dir, args.out_dir, args.nproc)
    print(f'converted {len(stats)} Synscapes label files')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

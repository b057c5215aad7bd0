"""Convert Synthia labels to train IDs and write the RCS statistics (docs/REFERENCE.md §1.1).

Usage: python tools/convert_datasets/synthia.py data/synthia [--gt-dir GT/LABELS] [-o OUT]
       [--nproc N]
Synthia labels are 16-bit 3-channel PNGs; the class ID is the last channel as OpenCV reads it
with IMREAD_UNCHANGED. Every ``GT/LABELS/*.png`` becomes ``<same name>_labelTrainIds.png``.
"""
import argparse
import os.path as osp
import sys

import cv2

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg.utils.errors import run_cli  # noqa: E402
from tools.convert_datasets.common import (ConversionError, convert_label_folder,  # noqa: E402
                                           map_to_train_ids,
                                           write_train_ids)

__all__ = ['SYNTHIA_ID_TO_TRAIN_ID', 'convert_synthia_label', 'convert_synthia', 'parse_args',
           'main']

# Synthia class ID -> train ID; no terrain (9), truck (14) or train (16) pixels in practice.
SYNTHIA_ID_TO_TRAIN_ID = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10, 10: 11, 17: 12, 8: 13,
    18: 14, 19: 15, 20: 16, 12: 17, 11: 18
}


def read_synthia_class_ids(label_file):
    """The class-ID channel (H×W uint16) of a Synthia label PNG."""
    label = cv2.imread(label_file, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ConversionError(f'cannot read label file {label_file}')
    if label.ndim != 3:
        raise ConversionError(f'{label_file}: expected a 3-channel (16-bit) Synthia label PNG, '
                              f'got shape {label.shape}')
    return label[:, :, -1]


def convert_synthia_label(label_file):
    """Write ``<label_file>_labelTrainIds.png``; return ``{train_id: count, 'file': out_file}``."""
    return write_train_ids(label_file, map_to_train_ids(read_synthia_class_ids(label_file), SYNTHIA_ID_TO_TRAIN_ID))


def convert_synthia(data_root, gt_dir='GT/LABELS', out_dir=None, nproc=1):
    """Convert every label in ``data_root/gt_dir``; statistics go to ``out_dir`` (or data_root)."""
    return convert_label_folder(convert_synthia_label, data_root, gt_dir, out_dir, nproc,
                                'the Synthia label folder (GT/LABELS/*.png, 16-bit; see docs/dataset_prepare.md)',
                                'Synthia labels')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert Synthia annotations to train IDs and write the rare-class statistics')
    parser.add_argument('synthia_path', help='Synthia data root (holds RGB/ and GT/LABELS/)')
    parser.add_argument('--gt-dir', default='GT/LABELS', help='label folder under the data root')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: the data root)')
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stats = convert_synthia(args.synthia_path, args.gt_dir, args.out_dir, args.nproc)
    print(f'converted {len(stats)} Synthia label files')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

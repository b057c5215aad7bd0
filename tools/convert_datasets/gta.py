"""Convert GTA labels (Cityscapes label IDs) to train IDs and write the RCS statistics (docs/REFERENCE.md §1.1).

Usage: python tools/convert_datasets/gta.py data/gta [--gt-dir labels] [-o OUT] [--nproc N]
Every ``<gt-dir>/*.png`` becomes ``<same name>_labelTrainIds.png`` (uint8, mode L).
"""
import argparse
import os.path as osp
import sys

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg.utils.errors import run_cli  # noqa: E402
from tools.convert_datasets.common import (convert_label_folder,  # noqa: E402
                                           map_to_train_ids, read_single_channel,
                                           write_train_ids)

__all__ = ['GTA_ID_TO_TRAIN_ID', 'convert_gta_label', 'convert_gta', 'parse_args', 'main']

# Cityscapes label ID -> train ID; every other ID becomes 255 (docs/REFERENCE.md §1.1).
GTA_ID_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
    26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}


def convert_gta_label(label_file):
    """Write ``<label_file>_labelTrainIds.png``; return ``{train_id: count, 'file': out_file}``."""
    label_ids = read_single_channel(label_file)
    return write_train_ids(label_file, map_to_train_ids(label_ids, GTA_ID_TO_TRAIN_ID))


def convert_gta(data_root, gt_dir='labels', out_dir=None, nproc=1):
    """Convert every label in ``data_root/gt_dir``; statistics go to ``out_dir`` (or data_root)."""
    return convert_label_folder(convert_gta_label, data_root, gt_dir, out_dir, nproc,
                                'the GTA label folder (labels/*.png with Cityscapes label IDs; see docs/dataset_prepare.md)',
                                'GTA labels')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert GTA annotations to train IDs and write the rare-class statistics')
    parser.add_argument('gta_path', help='GTA data root (holds images/ and labels/)')
    parser.add_argument('--gt-dir', default='labels', help='label folder under the data root')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: the data root)')
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stats = convert_gta(args.gta_path, args.gt_dir, args.out_dir, args.nproc)
    print(f'converted {len(stats)} GTA label files')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

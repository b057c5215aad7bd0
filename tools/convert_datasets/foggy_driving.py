"""Convert Foggy Driving's label-ID annotations to train IDs (docs/dataset_prepare.md,
Foggy Driving).

Usage: python tools/convert_datasets/foggy_driving.py data/foggy_driving [-o OUT] [--nproc N]
Every ``gtFine/test/**/*_gtFine_labelIds.png`` and
``gtCoarse/test_extra/**/*_gtCoarse_labelIds.png`` (Cityscapes label IDs) becomes
``*_gtFine_labelTrainIds.png`` / ``*_gtCoarse_labelTrainIds.png`` beside it, with cityscapesscripts' label-ID -> train-ID table (the GTA converter's). Statistics
(of all converted labels) go to OUT (default the data root); Foggy Driving is meant for
evaluation only.
"""
import argparse
import os.path as osp
import sys

from PIL import Image

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg.utils.errors import run_cli  # noqa: E402
from tools.convert_datasets.common import (ConversionError, class_pixel_counts,  # noqa: E402
                                           convert_files, list_label_files, map_to_train_ids,
                                           read_single_channel)
from tools.convert_datasets.gta import GTA_ID_TO_TRAIN_ID  # noqa: E402

__all__ = ['FOGGY_DRIVING_LABELS', 'convert_foggy_driving_label', 'convert_foggy_driving',
           'parse_args', 'main']

# (label folder under the root, suffix of the label-ID files) of the fine and coarse splits.
FOGGY_DRIVING_LABELS = (('gtFine/test', '_gtFine_labelIds.png'),
                        ('gtCoarse/test_extra', '_gtCoarse_labelIds.png'))


def convert_foggy_driving_label(label_file):
    """Write ``*_labelTrainIds.png`` for ``*_labelIds.png``; return its statistics entry."""
    train_ids = map_to_train_ids(read_single_channel(label_file), GTA_ID_TO_TRAIN_ID)
    out_file = label_file[:-len('_labelIds.png')] + '_labelTrainIds.png'
    Image.fromarray(train_ids, mode='L').save(out_file)
    stats = class_pixel_counts(train_ids)
    stats['file'] = out_file
    return stats


def convert_foggy_driving(data_root, out_dir=None, nproc=1):
    """Convert the fine and coarse labels found under ``data_root``. Returns the statistics
    list; raises ConversionError when neither label folder exists."""
    data_root = str(data_root)
    folders = [(osp.join(data_root, folder), suffix) for folder, suffix in FOGGY_DRIVING_LABELS]
    present = [(folder, suffix) for folder, suffix in folders if osp.isdir(folder)]
    if not present:
        raise ConversionError(f'{" and ".join(f for f, _ in folders)} not found: expected '
                              'the Foggy Driving label folders (see docs/dataset_prepare.md)')
    files = [path for folder, suffix in present
             for path in list_label_files(folder, suffix, 'Foggy Driving label-ID files')]
    return convert_files(convert_foggy_driving_label, files,
                         out_dir if out_dir is not None else data_root, nproc,
                         'Foggy Driving labels')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert Foggy Driving label IDs to train IDs')
    parser.add_argument('foggy_driving_path', help='Foggy Driving root (holds leftImg8bit/, '
                                                   'gtFine/, gtCoarse/)')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: the data root)')
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stats = convert_foggy_driving(args.foggy_driving_path, args.out_dir, args.nproc)
    print(f'converted {len(stats)} Foggy Driving label files')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

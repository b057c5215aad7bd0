"""Convert Mapillary Vistas v1.2 labels (66 classes) to Cityscapes train IDs and write the RCS
statistics (docs/dataset_prepare.md, Mapillary Vistas).

Usage: python tools/convert_datasets/mapillary.py data/mapillary [--labels-dir v1.2/labels]
       [--splits training validation] [-o OUT] [--nproc N]
Every ``<split>/<labels-dir>/*.png`` (palette PNG; the palette index is the v1.2 class index)
becomes ``<same name>_labelTrainIds.png`` (uint8, 255 for classes without a Cityscapes
counterpart). The statistics are those of the ``training`` split (where converted).
"""
import argparse
import os.path as osp
import sys

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg.utils.errors import run_cli  # noqa: E402
from tools.convert_datasets.common import (ConversionError, list_label_files,  # noqa: E402
                                           map_to_train_ids, read_single_channel, run_tasks,
                                           save_class_stats, write_train_ids)

__all__ = ['MAPILLARY_ID_TO_TRAIN_ID', 'convert_mapillary_label', 'convert_mapillary',
           'parse_args', 'main']

# Vistas v1.2 class index -> Cityscapes train ID, as the DG benchmark of Kerssies et al.
# (tue-mps/benchmark-vfm-ss, datasets/mappings.py) maps them; all other classes -> 255.
MAPILLARY_ID_TO_TRAIN_ID = {
    13: 0, 24: 0, 41: 0,  # road, lane marking (general), manhole
    2: 1, 15: 1,  # curb, sidewalk
    17: 2, 6: 3, 3: 4,  # building, wall, fence
    45: 5, 47: 5,  # pole, utility pole
    48: 6, 50: 7,  # traffic light, traffic sign (front)
    30: 8, 29: 9, 27: 10,  # vegetation, terrain, sky
    19: 11, 20: 12, 21: 12, 22: 12,  # person, bicyclist, motorcyclist, other rider
    55: 13, 61: 14, 54: 15,  # car, truck, bus
    58: 16, 57: 17, 52: 18,  # on rails, motorcycle, bicycle
}
SPLITS = ('training', 'validation')


def convert_mapillary_label(label_file):
    """Write ``<label_file>_labelTrainIds.png``; return ``{train_id: count, 'file': out_file}``."""
    return write_train_ids(label_file, map_to_train_ids(read_single_channel(label_file),
                                                        MAPILLARY_ID_TO_TRAIN_ID))


def convert_mapillary(data_root, labels_dir='v1.2/labels', splits=SPLITS, out_dir=None, nproc=1):
    """Convert the labels of every split in ``splits`` found under ``data_root``; the
    statistics of the training split go to ``out_dir`` (default data_root).

    Returns {split: statistics list}. Raises ConversionError when no split folder exists.
    """
    data_root = str(data_root)
    folders = {split: osp.join(data_root, split, labels_dir) for split in splits}
    present = {split: folder for split, folder in folders.items() if osp.isdir(folder)}
    if not present:
        raise ConversionError(
            f'{" and ".join(folders.values())} not found: expected the Mapillary Vistas v1.2 '
            f'label folders (<split>/{labels_dir}/*.png; for the v1.2-only release give '
            f'--labels-dir labels; see docs/dataset_prepare.md)')
    results = {}
    for split, folder in present.items():
        files = list_label_files(folder, what='Mapillary Vistas labels')
        results[split] = run_tasks(convert_mapillary_label, files, nproc,
                                   desc=f'Mapillary {split} labels')
    if 'training' in results:
        save_class_stats(str(out_dir) if out_dir is not None else data_root,
                         results['training'])
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert Mapillary Vistas v1.2 labels to Cityscapes train IDs and write '
                    'the rare-class statistics of the training split')
    parser.add_argument('mapillary_path', help='Mapillary Vistas root (holds training/, '
                                               'validation/)')
    parser.add_argument('--labels-dir', default='v1.2/labels',
                        help='label folder under each split (v1.2-only release: labels)')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS), help='split folders')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: the data root)')
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    results = convert_mapillary(args.mapillary_path, args.labels_dir, args.splits, args.out_dir,
                                args.nproc)
    counts = ', '.join(f'{len(stats)} {split}' for split, stats in results.items())
    print(f'converted Mapillary Vistas label files: {counts}')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

"""Rasterise Cityscapes polygons to train IDs, write split lists and the RCS statistics (docs/REFERENCE.md §1.1).

Usage: python tools/convert_datasets/cityscapes.py data/cityscapes [--gt-dir gtFine] [-o OUT]
       [--nproc N]
Every ``*_gtFine_polygons.json`` becomes ``*_gtFine_labelTrainIds.png`` (cityscapesscripts'
``json2labelImg(json, png, 'trainIds')``); ``train.txt``/``val.txt`` (and ``test.txt`` when that
split exists) list the frames relative to the split folder; statistics come from the train split.
"""
import argparse
import io
import os
import os.path as osp
import sys
from contextlib import redirect_stdout

import numpy as np
from cityscapesscripts.preparation.json2labelImg import json2labelImg
from PIL import Image

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg.utils.errors import run_cli  # noqa: E402
from tools.convert_datasets.common import (ConversionError, class_pixel_counts,  # noqa: E402
                                           require_dir, run_tasks,
                                           save_class_stats)

__all__ = ['convert_json_to_label', 'find_polygon_files', 'write_split_lists',
           'convert_cityscapes', 'parse_args', 'main']

POLYGON_SUFFIX = '_gtFine_polygons.json'
TRAIN_ID_SUFFIX = '_gtFine_labelTrainIds.png'
SPLITS = ('train', 'val', 'test')


def convert_json_to_label(json_file):
    """Rasterise one polygon file to train IDs; return ``(label_file, {train_id: count})``."""
    label_file = json_file[:-len(POLYGON_SUFFIX)] + TRAIN_ID_SUFFIX
    messages = io.StringIO()
    try:
        # json2labelImg reports unknown labels by printing and calling sys.exit.
        with redirect_stdout(messages):
            json2labelImg(json_file, label_file, 'trainIds')
    except (SystemExit, KeyError, ValueError, TypeError) as exc:
        detail = messages.getvalue().strip().splitlines()
        reason = detail[0] if detail else f'{type(exc).__name__}: {exc}'
        raise ConversionError(f'{json_file}: not a valid Cityscapes polygon annotation '
                              f'(imgWidth, imgHeight, objects with label and polygon): '
                              f'{reason}') from None
    with Image.open(label_file) as img:
        counts = class_pixel_counts(np.asarray(img))
    return label_file, counts


def find_polygon_files(split_dir):
    """Sorted ``*_gtFine_polygons.json`` paths below ``split_dir`` (one folder per city)."""
    found = []
    for folder, _, names in os.walk(split_dir):
        found.extend(osp.join(folder, n) for n in names if n.endswith(POLYGON_SUFFIX))
    return sorted(found)


def write_split_lists(gt_root, out_dir):
    """Write ``<split>.txt`` for each split folder present: ``<city>/<frame>`` per line."""
    written = {}
    for split in SPLITS:
        split_dir = osp.join(gt_root, split)
        if not osp.isdir(split_dir):
            continue
        names = [
            osp.relpath(f, split_dir)[:-len(POLYGON_SUFFIX)].replace(os.sep, '/')
            for f in find_polygon_files(split_dir)
        ]
        path = osp.join(out_dir, f'{split}.txt')
        with open(path, 'w') as f:
            f.writelines(name + '\n' for name in names)
        written[split] = names
    return written


def convert_cityscapes(data_root, gt_dir='gtFine', out_dir=None, nproc=1):
    """Convert all splits of ``data_root/gt_dir``; lists and statistics go to ``out_dir``.

    Returns the train-split statistics (list of ``{train_id: count, 'file': label_file}``).
    """
    data_root = str(data_root)
    out_dir = str(out_dir) if out_dir is not None else data_root
    gt_root = require_dir(osp.join(data_root, gt_dir),
                          'the Cityscapes annotation folder (gtFine/{train,val}/<city>/'
                          '*_gtFine_polygons.json; see docs/dataset_prepare.md)')
    require_dir(osp.join(gt_root, 'train'),
                'the Cityscapes train annotations (<city>/*_gtFine_polygons.json)')
    json_files = [f for split in SPLITS for f in find_polygon_files(osp.join(gt_root, split))]
    if not json_files:
        raise ConversionError(f'no *{POLYGON_SUFFIX} files found below {gt_root}')
    results = run_tasks(convert_json_to_label, json_files, nproc, desc='Cityscapes polygons')
    train_prefix = osp.join(gt_root, 'train') + os.sep
    sample_class_stats = []
    for json_file, (label_file, counts) in zip(json_files, results):
        if json_file.startswith(train_prefix):
            sample_class_stats.append(dict(counts, file=label_file))
    os.makedirs(out_dir, exist_ok=True)
    write_split_lists(gt_root, out_dir)
    save_class_stats(out_dir, sample_class_stats)
    return sample_class_stats


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert Cityscapes polygons to train IDs and write the rare-class statistics')
    parser.add_argument('cityscapes_path',
                        help='Cityscapes data root (holds leftImg8bit/ and gtFine/)')
    parser.add_argument('--gt-dir', default='gtFine', help='annotation folder under the data root')
    parser.add_argument('-o', '--out-dir', help='where lists and statistics go (default: the root)')
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stats = convert_cityscapes(args.cityscapes_path, args.gt_dir, args.out_dir, args.nproc)
    print(f'converted Cityscapes annotations; statistics over {len(stats)} train frames')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

"""Convert WildDash2's panoptic annotations to Cityscapes train IDs and write the RCS
statistics (docs/dataset_prepare.md, WildDash2).

Usage: python tools/convert_datasets/wilddash2.py data/wilddash2 [--json panoptic.json]
       [--panoptic-dir panoptic] [--out-gt-dir labelTrainIds] [-o OUT] [--nproc N]
``panoptic/<name>.png`` stores a segment id per pixel as R + 256·G + 256²·B (COCO panoptic
format); ``panoptic.json`` gives each segment's WildDash2 category. Each image ``images/<stem>.jpg``
gets ``labelTrainIds/<stem>_labelTrainIds.png`` (uint8; 255 for void, classes without a
Cityscapes train ID and pixels of no segment).
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np
from PIL import Image

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg.utils.errors import run_cli  # noqa: E402
from tools.convert_datasets.common import (TRAIN_ID_SUFFIX, ConversionError,  # noqa: E402
                                           class_pixel_counts, convert_files, require_dir)

__all__ = ['WILDDASH2_ID_TO_TRAIN_ID', 'panoptic_ids', 'convert_wilddash2_label',
           'convert_wilddash2', 'parse_args', 'main']

# WildDash2 category id -> Cityscapes train ID following the Cityscapes column ("cs_name") of
# WildDash2's unified label policy (ozendelait/wilddash_scripts, wd2_unified_label_policy.json):
# ids 0-33 are Cityscapes' own label ids (on rails = train); pickup -> truck, van -> car,
# road marking -> road, billboard and street light -> static (ignored).
WILDDASH2_ID_TO_TRAIN_ID = {
    0: 255, 1: 255, 2: 255, 3: 255, 4: 255, 5: 255, 6: 255,  # void, ego vehicle, ..., ground
    7: 0, 8: 1, 9: 255, 10: 255,  # road, sidewalk, parking, rail track
    11: 2, 12: 3, 13: 4, 14: 255, 15: 255, 16: 255,  # building, wall, fence, guard rail, ...
    17: 5, 18: 255, 19: 6, 20: 7,  # pole, pole group, traffic light, traffic sign
    21: 8, 22: 9, 23: 10, 24: 11, 25: 12,  # vegetation, terrain, sky, person, rider
    26: 13, 27: 14, 28: 15, 29: 255, 30: 255,  # car, truck, bus, caravan, trailer
    31: 16, 32: 17, 33: 18,  # on rails, motorcycle, bicycle
    34: 14, 35: 13, 36: 255, 37: 255, 38: 0,  # pickup, van, billboard, street light, road marking
}


def panoptic_ids(png_file):
    """Segment id per pixel (H×W int64) of a COCO-panoptic RGB PNG: R + 256·G + 256²·B."""
    try:
        with Image.open(png_file) as img:
            rgb = np.asarray(img.convert('RGB')).astype(np.int64)
    except (OSError, ValueError) as exc:
        raise ConversionError(f'cannot read panoptic label {png_file}: {exc}') from None
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def convert_wilddash2_label(task):
    """``task``: (panoptic PNG, output file, [(segment id, train id), ...]). Writes the
    train-ID PNG; returns ``{train_id: count, 'file': out_file}``."""
    png_file, out_file, segments = task
    ids = panoptic_ids(png_file)
    train_ids = np.full(ids.shape, 255, dtype=np.uint8)
    for segment_id, train_id in segments:
        train_ids[ids == segment_id] = train_id
    Image.fromarray(train_ids, mode='L').save(out_file)
    stats = class_pixel_counts(train_ids)
    stats['file'] = out_file
    return stats


def _load_panoptic_json(json_file):
    try:
        with open(json_file) as f:
            panoptic = json.load(f)
        return panoptic['annotations'], {img['id']: img for img in panoptic.get('images', [])}
    except FileNotFoundError:
        raise ConversionError(f'{json_file} not found: expected WildDash2\'s panoptic.json '
                              '(see docs/dataset_prepare.md)') from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConversionError(f'{json_file}: not a COCO panoptic annotation file ({exc!r})') \
            from None


def _tasks(annotations, images, json_file, panoptic_dir, out_gt_dir):
    tasks = []
    for ann in annotations:
        image = images.get(ann['image_id'], {})
        stem = osp.splitext(image.get('file_name') or ann['file_name'])[0]
        segments = []
        for segment in ann['segments_info']:
            category = segment['category_id']
            if category not in WILDDASH2_ID_TO_TRAIN_ID:
                raise ConversionError(
                    f'{json_file}: segment {segment["id"]} of {ann["file_name"]} has category '
                    f'id {category}, which is not a WildDash2 category 0-38 this converter '
                    'maps (see docs/dataset_prepare.md)')
            segments.append((segment['id'], WILDDASH2_ID_TO_TRAIN_ID[category]))
        tasks.append((osp.join(panoptic_dir, ann['file_name']),
                      osp.join(out_gt_dir, osp.basename(stem) + TRAIN_ID_SUFFIX), segments))
    if not tasks:
        raise ConversionError(f'{json_file} lists no annotation')
    return tasks


def convert_wilddash2(data_root, json_name='panoptic.json', panoptic_dir='panoptic',
                      out_gt_dir='labelTrainIds', out_dir=None, nproc=1):
    """Convert every annotation of ``data_root/json_name``; statistics go to ``out_dir``
    (default data_root). Returns the statistics list."""
    data_root = str(data_root)
    json_file = osp.join(data_root, json_name)
    annotations, images = _load_panoptic_json(json_file)
    png_dir = require_dir(osp.join(data_root, panoptic_dir),
                          'the WildDash2 panoptic PNGs (panoptic/*.png)')
    target = osp.join(data_root, out_gt_dir)
    os.makedirs(target, exist_ok=True)
    tasks = _tasks(annotations, images, json_file, png_dir, target)
    missing = [task[0] for task in tasks if not osp.isfile(task[0])]
    if missing:
        raise ConversionError(f'{len(missing)} panoptic PNG(s) listed in {json_file} not '
                              f'found, e.g. {missing[0]}')
    return convert_files(convert_wilddash2_label, tasks,
                         out_dir if out_dir is not None else data_root, nproc, 'WildDash2 labels')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert WildDash2 panoptic annotations to Cityscapes train IDs')
    parser.add_argument('wilddash2_path', help='WildDash2 root (holds images/, panoptic/, '
                                               'panoptic.json)')
    parser.add_argument('--json', default='panoptic.json', help='panoptic JSON under the root')
    parser.add_argument('--panoptic-dir', default='panoptic', help='panoptic PNG folder')
    parser.add_argument('--out-gt-dir', default='labelTrainIds',
                        help='folder under the root for the train-ID labels')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: the data root)')
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stats = convert_wilddash2(args.wilddash2_path, args.json, args.panoptic_dir,
                              args.out_gt_dir, args.out_dir, args.nproc)
    print(f'converted {len(stats)} WildDash2 label files')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

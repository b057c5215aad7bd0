"""Pieces shared by the dataset converters: label-ID mapping, class statistics, parallel runs.

The three statistics files are what rare-class sampling reads (docs/REFERENCE.md §1.1):
``sample_class_stats.json``, ``sample_class_stats_dict.json`` and ``samples_with_class.json``.
"""
import json
import multiprocessing
import os
import os.path as osp
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

from mmseg.utils.errors import UserInputError

__all__ = [
    'NUM_CLASSES', 'ConversionError', 'require_dir', 'map_to_train_ids', 'class_pixel_counts',
    'save_class_stats', 'run_tasks', 'TRAIN_ID_SUFFIX', 'write_train_ids',
    'convert_label_folder', 'list_label_files', 'convert_files', 'read_single_channel'
]

NUM_CLASSES = 19
IGNORE_INDEX = 255
TRAIN_ID_SUFFIX = '_labelTrainIds.png'


class ConversionError(UserInputError):
    """Bad converter input (missing folder, unreadable file); the CLI prints it as one line
    ('Cannot convert: ...', exit status 2: mmseg.utils.errors.run_cli)."""


def require_dir(path, what):
    """Raise ConversionError naming ``path`` if it is not a folder (``what`` belongs there)."""
    if not osp.isdir(path):
        raise ConversionError(f'{path} not found: expected {what}')
    return path


def map_to_train_ids(label, id_to_train_id):
    """Map an integer label array (H×W) to train IDs (H×W uint8, 255 for unmapped IDs)."""
    label = np.asarray(label)
    if label.ndim != 2 or not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f'expected a 2-D integer label array, got shape {label.shape} '
                         f'and dtype {label.dtype}')
    lookup = np.full(max(id_to_train_id) + 1, IGNORE_INDEX, dtype=np.uint8)
    for label_id, train_id in id_to_train_id.items():
        lookup[label_id] = train_id
    train_ids = np.full(label.shape, IGNORE_INDEX, dtype=np.uint8)
    known = (label >= 0) & (label < lookup.size)
    train_ids[known] = lookup[label[known]]
    return train_ids


def class_pixel_counts(train_ids, num_classes=NUM_CLASSES):
    """Pixel count per train ID for the classes present: ``{train_id: count}`` (ints, sorted)."""
    counts = np.bincount(np.asarray(train_ids, dtype=np.int64).ravel(), minlength=256)
    return {c: int(counts[c]) for c in range(num_classes) if counts[c] > 0}


def warn_empty_labels(sample_class_stats, max_listed=20):
    """Warn (stderr) about each converted label without any class pixel (all 255) and in a
    summary; returns the list of those files."""
    empty = [stats['file'] for stats in sample_class_stats
             if not any(key != 'file' for key in stats)]
    for file in empty[:max_listed]:
        print(f'warning: {file} has no pixel of any class (all 255 = ignored)', file=sys.stderr)
    if len(empty) > max_listed:
        print(f'warning: ... and {len(empty) - max_listed} more such files', file=sys.stderr)
    if empty:
        advice = ('every label is empty: the converter most likely did not read the class IDs '
                  '(check the label format, e.g. Synthia\'s 16-bit PNGs hold the class ID in '
                  'their last channel) before training on them' if len(empty) == len(
                      sample_class_stats) else 'check these files before training on them')
        print(f'warning: {len(empty)} of {len(sample_class_stats)} converted labels are all '
              f'ignore (255): {advice}', file=sys.stderr)
    return empty


def save_class_stats(out_dir, sample_class_stats):
    """Write the three rare-class-sampling statistics files into ``out_dir`` (docs/REFERENCE.md §1.1).

    ``sample_class_stats`` is a list of ``{train_id: count, ..., 'file': path}`` dicts, one per
    label file. Returns the paths written.
    """
    os.makedirs(out_dir, exist_ok=True)
    warn_empty_labels(sample_class_stats)
    per_file = {}
    samples_with_class = {}
    for stats in sample_class_stats:
        counts = {c: n for c, n in stats.items() if c != 'file'}
        per_file[stats['file']] = counts
        for c, n in counts.items():
            samples_with_class.setdefault(c, []).append([stats['file'], n])
    # Classes in ascending train-ID order, so the file does not depend on which image came first.
    samples_with_class = dict(sorted(samples_with_class.items()))
    outputs = {
        'sample_class_stats.json': sample_class_stats,
        'sample_class_stats_dict.json': per_file,
        'samples_with_class.json': samples_with_class,
    }
    paths = []
    for name, content in outputs.items():
        path = osp.join(out_dir, name)
        with open(path, 'w') as f:
            json.dump(content, f, indent=2)
        paths.append(path)
    return paths


def run_tasks(func, tasks, nproc=1, desc=None):
    """``[func(t) for t in tasks]`` with a progress bar, in ``nproc`` worker processes if > 1."""
    tasks = list(tasks)
    if nproc <= 1 or len(tasks) <= 1:
        return [func(task) for task in tqdm(tasks, desc=desc, unit='file')]
    with multiprocessing.Pool(min(nproc, len(tasks))) as pool:
        return list(tqdm(pool.imap(func, tasks), total=len(tasks), desc=desc, unit='file'))


def write_train_ids(label_file, train_ids):
    """Save ``train_ids`` as ``<label_file without .png>_labelTrainIds.png`` (uint8, mode L).

    Returns the file's entry of sample_class_stats.json: ``{train_id: count, 'file': out_file}``.
    """
    out_file = label_file[:-len('.png')] + TRAIN_ID_SUFFIX
    Image.fromarray(train_ids, mode='L').save(out_file)
    stats = class_pixel_counts(train_ids)
    stats['file'] = out_file
    return stats


def convert_label_folder(convert_label, data_root, gt_dir, out_dir, nproc, what, desc):
    """Run ``convert_label`` on every ``*.png`` of ``data_root/gt_dir`` (outputs of an earlier
    run excluded) and write the statistics to ``out_dir`` (default data_root).

    ``what`` describes the expected folder for the error message. Returns the statistics list.
    """
    data_root = str(data_root)
    label_dir = require_dir(osp.join(data_root, gt_dir), what)
    label_files = sorted(
        osp.join(label_dir, name) for name in os.listdir(label_dir)
        if name.endswith('.png') and not name.endswith(TRAIN_ID_SUFFIX))
    if not label_files:
        raise ConversionError(f'no label files (*.png) found in {label_dir}')
    sample_class_stats = run_tasks(convert_label, label_files, nproc, desc=desc)
    save_class_stats(str(out_dir) if out_dir is not None else data_root, sample_class_stats)
    return sample_class_stats


def list_label_files(label_dir, suffix='.png', what='label files'):
    """Sorted paths of the files ending in ``suffix`` under ``label_dir`` (recursively),
    outputs of an earlier run (``*_labelTrainIds.png``) excluded. Raises ConversionError
    naming ``label_dir`` when there are none."""
    files = sorted(
        osp.join(folder, name) for folder, _, names in os.walk(label_dir) for name in names
        if name.endswith(suffix) and not name.endswith(TRAIN_ID_SUFFIX))
    if not files:
        raise ConversionError(f'no {what} (*{suffix}) found in {label_dir}')
    return files


def convert_files(convert_label, label_files, out_dir, nproc, desc):
    """Run ``convert_label`` on every file (progress bar, ``nproc`` processes) and write the
    statistics of the results into ``out_dir``. Returns the statistics list."""
    sample_class_stats = run_tasks(convert_label, label_files, nproc, desc=desc)
    save_class_stats(str(out_dir), sample_class_stats)
    return sample_class_stats


def read_single_channel(label_file):
    """A single-channel label PNG (mode L, P: the palette indices, or I) as an H×W integer
    array. Raises ConversionError naming the file when unreadable or multi-channel."""
    try:
        with Image.open(label_file) as img:
            mode = img.mode
            label = np.asarray(img)
    except (OSError, ValueError) as exc:
        raise ConversionError(f'cannot read label file {label_file}: {exc}') from None
    if label.ndim != 2:
        raise ConversionError(f'{label_file}: expected a single-channel label PNG (mode L, P '
                              f'or I), got mode {mode}')
    return label

"""File checks of a dataset at build time, so that a bad file stops the run before training and
not at the first evaluation hours later (docs/CHECKS.md).

Two depths:

* ``decode_labels=False`` (training sets, cheap): every image and label exists and has a
  readable header; sizes are compared from the headers (a mismatch is returned, the caller warns).
* ``decode_labels=True`` (val/test sets): as above, plus the PNG images' chunk checksums
  (``PIL.Image.verify``: a truncated or damaged file fails), and every label is decoded and its
  values counted, in a thread pool; sizes must agree and values must be classes
  ``[0, num_classes)`` or the ignore index.

Problems are gathered over the whole set and raised as one ``UserInputError`` naming the files.
"""
import os
import os.path as osp
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from PIL import Image

from mmseg.utils.errors import UserInputError
from .pipelines.loading import load_label_map

__all__ = ['image_size', 'verify_image', 'label_value_counts', 'map_value_counts',
           'out_of_range_values', 'FileCheckResult', 'check_files', 'suffix_hint',
           'sample_label_counts', 'MAX_LISTED']

MAX_LISTED = 3  # problems named in one message; the count says how many there are in all


def image_size(path):
    """(height, width) of an image file read from its header (nothing decoded).

    Raises FileNotFoundError for a missing file and ValueError for an unreadable header.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found')
    try:
        with Image.open(path) as img:
            width, height = img.size
    except Exception as error:  # PIL raises several kinds of errors on broken files
        raise ValueError(f'{path} is not a readable image ({_reason(error, path)})') from error
    return height, width


def _reason(error, path):
    """PIL's message without the path it repeats."""
    return str(error).replace(repr(str(path)), '').replace(str(path), '').strip(' :') or \
        type(error).__name__


def verify_image(path):
    """(height, width) of an image, after checking the whole file (PNG: every chunk's CRC and
    the end chunk; other formats such as JPEG: decoded), so a truncated download fails.

    Raises FileNotFoundError / ValueError as ``image_size``.
    """
    size = image_size(path)
    try:
        with Image.open(path) as img:
            if img.format == 'PNG':
                img.verify()
            else:  # JPEG & co.: verify() checks little; decoding finds a truncated file
                img.load()
    except Exception as error:
        raise ValueError(f'{path} is damaged or truncated ({_reason(error, path)})') from error
    return size


def label_value_counts(path):
    """(shape (H, W), counts): pixels per stored value of a label file, counts[v] for v in
    0..max value (int64). Raises FileNotFoundError / ValueError naming the file."""
    label = None
    if _png_mode(path) == 'L':
        # 8-bit grey PNGs (train-ID labels): OpenCV decodes without holding the GIL, so the
        # thread pool of check_files decodes several at once (palette PNGs go through PIL,
        # which gives their indices, not their colours).
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None or label.ndim != 2:
        label = load_label_map(path)
    flat = label.reshape(-1)
    if label.dtype == np.uint8 and flat.size < 2**24:  # float32 histogram counts stay exact
        hist = cv2.calcHist([label], [0], None, [256], [0, 256])
        return label.shape, hist.reshape(-1).astype(np.int64)
    if flat.size and flat.min() < 0:
        raise ValueError(f'label file {path} holds negative values')
    return label.shape, np.bincount(flat.astype(np.int64, copy=False), minlength=256)


def _png_mode(path):
    """PIL's mode of a PNG file (header only), None for other or unreadable files."""
    try:
        with Image.open(path) as img:
            return img.mode if img.format == 'PNG' else None
    except Exception:
        return None  # load_label_map names the problem


def map_value_counts(counts, label_map=None, reduce_zero_label=False, ignore_index=255):
    """The value counts after the dataset's ``label_map`` (old id -> new id) and
    ``reduce_zero_label`` (0 -> ignore, others - 1; mmseg 0.x), as a {value: pixels} dict."""
    mapped = Counter()
    for value in np.flatnonzero(counts):
        new = (label_map or {}).get(int(value), int(value))
        if reduce_zero_label:
            new = ignore_index if new in (0, 255) else new - 1
        mapped[new] += int(counts[value])
    return dict(mapped)


def out_of_range_values(value_counts, num_classes, ignore_index):
    """Sorted values of a {value: pixels} dict that are no class and not the ignore index."""
    return sorted(v for v in value_counts
                  if (v < 0 or v >= num_classes) and v != ignore_index)


class FileCheckResult:
    """What a check found: ``value_counts`` {label value: pixels} over the decoded labels
    (after label_map / reduce_zero_label), ``num_decoded`` labels, and ``size_mismatches``
    (list of messages; an error for val/test sets, the caller's choice otherwise)."""

    def __init__(self):
        self.value_counts = Counter()
        self.num_decoded = 0
        self.size_mismatches = []


def _check_pair(img_file, label_file, decode_labels):
    """(problem or None, size mismatch or None, label value counts or None) of one pair."""
    try:
        img_hw = verify_image(img_file) if decode_labels else image_size(img_file)
    except (FileNotFoundError, ValueError) as error:
        return f'image {error}', None, None
    if label_file is None:
        return None, None, None
    try:
        if decode_labels:
            label_hw, counts = label_value_counts(label_file)
        else:
            label_hw, counts = image_size(label_file), None
    except (FileNotFoundError, ValueError) as error:
        text = str(error)
        return (text if text.startswith('label') else f'label {text}'), None, None
    mismatch = None
    if tuple(label_hw) != tuple(img_hw):
        mismatch = (f'image {img_file} is {img_hw[0]}x{img_hw[1]} (HxW) but its label '
                    f'{label_file} is {label_hw[0]}x{label_hw[1]}')
    return None, mismatch, counts


def _listing(problems):
    shown = '; '.join(problems[:MAX_LISTED])
    return shown + (f'; ... ({len(problems)} in all)' if len(problems) > MAX_LISTED else '')


def check_files(img_files, label_files=None, *, decode_labels=False, num_classes=None,
                ignore_index=255, label_map=None, reduce_zero_label=False, what='dataset',
                hint=None, num_threads=None):
    """Check every image (and label) file; return a ``FileCheckResult``.

    img_files: list of paths; label_files: parallel list (None: no labels). With
    ``decode_labels`` a size mismatch and a label value outside [0, num_classes) other than
    ``ignore_index`` are errors too (num_classes None: values not checked). ``hint``: a sentence
    appended when files are missing (e.g. a suffix advice from ``suffix_hint``).
    Raises UserInputError naming the first files with a problem and their number.
    """
    if label_files is None:
        label_files = [None] * len(img_files)
    num_threads = num_threads or min(16, (os.cpu_count() or 1) * 4)
    result = FileCheckResult()
    problems, bad_values = [], []
    with ThreadPoolExecutor(max_workers=num_threads) as pool:
        checked = pool.map(_check_pair, img_files, label_files,
                           [decode_labels] * len(img_files), chunksize=16)
        for label_file, (problem, mismatch, counts) in zip(label_files, checked):
            if problem is not None:
                problems.append(problem)
            if mismatch is not None:
                result.size_mismatches.append(mismatch)
            if counts is None:
                continue
            values = map_value_counts(counts, label_map, reduce_zero_label, ignore_index)
            result.num_decoded += 1
            result.value_counts.update(values)
            bad = [] if num_classes is None else out_of_range_values(values, num_classes,
                                                                     ignore_index)
            if bad:
                bad_values.append(f'label {label_file} holds values {bad[:10]}')
    if decode_labels:
        problems += result.size_mismatches
    if problems or bad_values:
        parts = []
        if problems:
            missing = any('not found' in p for p in problems)
            parts.append(_listing(problems) + (f' ({hint})' if hint and missing else ''))
        if bad_values:
            parts.append(_listing(bad_values) + f': expected classes 0..{num_classes - 1} or '
                         f'the ignore index {ignore_index} (labels not converted to train IDs, '
                         f'a wrong reduce_zero_label, or classes/num_classes not matching the '
                         f'labels)')
        raise UserInputError(f'{len(problems) + len(bad_values)} bad file(s) among the '
                             f'{len(img_files)} image/label pairs of {what}: ' + '; '.join(parts))
    return result


def suffix_hint(folder, suffix, key):
    """A sentence when ``folder`` (searched recursively) holds no file ending in ``suffix`` but
    other files: 'X holds 12 file(s) ending in .jpg (e.g. a.jpg), none in .png: set <key> ...';
    None otherwise."""
    if not folder or not osp.isdir(folder):
        return None
    endings, example = Counter(), {}
    for _, _, files in os.walk(folder):
        for name in files:
            if name.endswith(suffix):
                return None
            ending = osp.splitext(name)[1] or name
            endings[ending] += 1
            example.setdefault(ending, name)
    if not endings:
        return None
    listed = ', '.join(f'{n} file(s) ending in {e} (e.g. {example[e]})'
                       for e, n in endings.most_common(3))
    return (f'{osp.abspath(folder)} holds {listed}, none in {suffix}: set {key} to the '
            f'suffix of your files')


def sample_label_counts(label_files, max_files=32, label_map=None, reduce_zero_label=False,
                        ignore_index=255, num_threads=None):
    """[(path, {value: pixels})] of up to ``max_files`` evenly spaced label files (decoded in a
    thread pool; label_map / reduce_zero_label applied as in ``map_value_counts``).

    Raises UserInputError naming an unreadable file.
    """
    if not label_files:
        return []
    picks = sorted(set(np.linspace(0, len(label_files) - 1, min(len(label_files), max_files))
                       .round().astype(int).tolist()))
    files = [label_files[i] for i in picks]

    def count(path):
        try:
            return map_value_counts(label_value_counts(path)[1], label_map, reduce_zero_label,
                                    ignore_index)
        except (FileNotFoundError, ValueError) as error:
            raise UserInputError(f'label file {path}: {error}') from error

    with ThreadPoolExecutor(max_workers=num_threads or min(16, (os.cpu_count() or 1) * 4)) \
            as pool:
        return list(zip(files, pool.map(count, files)))

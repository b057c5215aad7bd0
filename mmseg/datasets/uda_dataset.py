"""UDADataset: (source, target) sample pairs with rare-class sampling of the source (docs/REFERENCE.md §3.6);
several sources mixed per item (docs/domains.md)."""
import json
import os.path as osp
from logging import WARNING

import numpy as np
import torch
from mmcv.parallel import DataContainer as DC
from mmcv.utils import print_log

from mmseg.utils.errors import UserFileNotFoundError, UserInputError, UserKeyError
from .builder import DATASETS, build_dataset
from .pipelines.transforms import random_crop_bbox

__all__ = ['UDADataset', 'get_rcs_class_probs']


def _load_stats_json(data_root, name):
    path = osp.join(data_root, name)
    if not osp.isfile(path):
        raise UserFileNotFoundError(
            f'{osp.abspath(path)} not found: rare class sampling needs the statistics written by '
            f'tools/convert_datasets (see docs/dataset_prepare.md)')
    with open(path) as f:
        return json.load(f)


def get_rcs_class_probs(data_root, temperature):
    """Rare-class sampling distribution from ``<data_root>/sample_class_stats.json``.

    ``data_root``: one folder, or a list of them (several sources: the pixel counts of all
    are summed, docs/domains.md). f_c = n_c / Σn over the classes that occur;
    P(c) = softmax((1 − f_c) / T). Returns (classes sorted by ascending pixel count,
    probabilities as a float numpy array). Raises UserFileNotFoundError / UserInputError for a
    missing or empty statistics file.
    """
    roots = list(data_root) if isinstance(data_root, (list, tuple)) else [data_root]
    pixels = {}
    for root in roots:
        for entry in _load_stats_json(root, 'sample_class_stats.json'):
            for key, count in entry.items():
                if key != 'file':
                    pixels[int(key)] = pixels.get(int(key), 0) + count
    if not pixels:
        files = ', '.join(osp.abspath(osp.join(r, 'sample_class_stats.json')) for r in roots)
        raise UserInputError(
            f'{files} hold{"s" if len(roots) == 1 else ""} no class pixel '
            f'counts: every converted label is all ignore (255), e.g. because the converter did '
            f'not read the class IDs. Check the labels and regenerate the statistics with '
            f'tools/convert_datasets (see docs/dataset_prepare.md)')
    classes = sorted(pixels, key=lambda c: pixels[c])
    freq = torch.tensor([pixels[c] for c in classes], dtype=torch.float64)
    freq = freq / freq.sum()
    probs = torch.softmax((1 - freq) / temperature, dim=-1)
    return classes, probs.numpy()


@DATASETS.register_module()
class UDADataset:
    """Source sample (rare-class sampled when configured) + target sample per item.

    source: a built dataset or dataset config, or a list of them (several sources, mixed per
    item: docs/domains.md); target: a built dataset or config, or None for source samples
    only (source-only training with rare-class sampling); cfg: the data.train dict
    (rare_class_sampling=dict(min_pixels, class_temp, min_crop_ratio), sync_crop_size,
    source_weights), which may also come as keyword arguments (when built from a config by
    build_dataset). Raises UserInputError / UserKeyError for inconsistent settings.
    """

    # Keys of data.train besides the two datasets (type/source/target repeat when cfg is it).
    CONFIG_KEYS = ('type', 'source', 'target', 'rare_class_sampling', 'sync_crop_size',
                   'source_weights')
    RCS_KEYS = ('min_pixels', 'class_temp', 'min_crop_ratio')

    def __init__(self, source, target=None, cfg=None, **kwargs):
        cfg = dict(cfg or {}, **kwargs)
        unknown = sorted(set(cfg) - set(self.CONFIG_KEYS))
        if unknown:
            raise UserKeyError(f'UDADataset (data.train) got unknown keys {unknown}; expected some '
                               f'of {list(self.CONFIG_KEYS)}')
        self._build_sources(source, cfg.get('source'))
        # No target (None): source samples only, for source-only training with rare-class
        # sampling (domain generalisation, docs/domains.md).
        self.target = build_dataset(target) if isinstance(target, dict) else target
        labelled = self.target if self.target is not None else self.sources[0]
        self.CLASSES = labelled.CLASSES
        self.PALETTE = labelled.PALETTE
        self.ignore_index = labelled.ignore_index
        # Names as a list or a tuple (mmseg 0.x keeps the type given): compared as tuples.
        for key, dataset in zip(self.source_keys, self.sources):
            if tuple(dataset.CLASSES or ()) != tuple(labelled.CLASSES or ()):
                raise UserInputError(f'{key} classes {dataset.CLASSES} differ from target '
                                     f'classes {labelled.CLASSES}')
        self.source_probs = self._source_probs(cfg.get('source_weights'))
        self.sync_crop_size = cfg.get('sync_crop_size')
        rcs_cfg = cfg.get('rare_class_sampling')
        self.rcs_enabled = rcs_cfg is not None
        if self.rcs_enabled:
            self._init_rcs(rcs_cfg)

    def _build_sources(self, source, source_cfg):
        """self.sources (built), their config keys and data roots; self.source is the one
        source, or the ConcatDataset of several (its indices run over all of them)."""
        from .dataset_wrappers import ConcatDataset
        several = isinstance(source, (list, tuple))
        parts = list(source) if several else [source]
        if not parts:
            raise UserInputError('data.train.source is an empty list: give one dataset or more')
        cfgs = parts if all(isinstance(p, dict) for p in parts) else source_cfg
        cfgs = list(cfgs) if isinstance(cfgs, (list, tuple)) else [cfgs or {}] * len(parts)
        self.sources = [build_dataset(p) if isinstance(p, dict) else p for p in parts]
        self.source_keys = ([f'data.train.source[{k}]' for k in range(len(parts))] if several
                            else ['data.train.source'])
        self.source_data_roots = [(c or {}).get('data_root') or getattr(d, 'data_root', None)
                                  for c, d in zip(cfgs, self.sources)]
        self.source = self.sources[0] if len(self.sources) == 1 else \
            ConcatDataset(self.sources, key='data.train.source')

    def _source_probs(self, weights):
        """P(source k) of an item from data.train.source_weights; None: proportional to the
        sources' sizes (the index runs over all of them). Raises UserInputError unless the
        weights are a list of finite numbers >= 0, one a source, not all 0."""
        if weights is None:
            return None
        expected = (f'expected {len(self.sources)} finite numbers >= 0 in a list (one per '
                    f'data.train.source), not all 0 (docs/domains.md)')
        if not isinstance(weights, (list, tuple)) or len(weights) != len(self.sources):
            raise UserInputError(f'data.train.source_weights = {weights!r}: {expected}')
        for w in weights:
            if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(w) or w < 0:
                raise UserInputError(f'data.train.source_weights = {list(weights)!r}: '
                                     f'{w!r} is not a finite number >= 0; {expected}')
        if sum(weights) <= 0:
            raise UserInputError(f'data.train.source_weights = {list(weights)!r}: {expected}')
        if len(self.sources) == 1:
            return None
        return np.asarray(weights, dtype=np.float64) / float(sum(weights))

    def _init_rcs(self, rcs_cfg):
        missing = [k for k in self.RCS_KEYS if k not in rcs_cfg]
        unknown = sorted(set(rcs_cfg) - set(self.RCS_KEYS))
        if unknown:
            raise UserKeyError(f'rare_class_sampling got unknown keys {unknown}; expected '
                               f'{list(self.RCS_KEYS)}')
        if missing:
            raise UserKeyError(f'rare_class_sampling lacks {missing}; expected '
                               f'dict(min_pixels=..., class_temp=..., min_crop_ratio=...) '
                               f'(docs/REFERENCE.md §3.6)')
        for key, root in zip(self.source_keys, self.source_data_roots):
            if root is None:
                raise UserInputError(f'rare_class_sampling needs the data_root of {key} (where '
                                     f'sample_class_stats.json and samples_with_class.json are)')
        self.rcs_class_temp = rcs_cfg['class_temp']
        self.rcs_min_crop_ratio = rcs_cfg['min_crop_ratio']
        self.rcs_min_pixels = rcs_cfg['min_pixels']
        self.rcs_classes, self.rcs_classprob = get_rcs_class_probs(
            self.source_data_roots if len(self.sources) > 1 else self.source_data_roots[0],
            self.rcs_class_temp)
        self._init_rcs_candidates()

    def _file_key(self, k, name):
        """Candidate name: the label file name, prefixed with the source index when several."""
        return name if len(self.sources) == 1 else f'{k}/{name}'

    def _init_rcs_candidates(self):
        """samples_with_class[c]: the candidate files of class c over all sources;
        file_to_idx: candidate -> index of self.source; rcs_file_probs[c]: None (uniform over
        the candidates) or, with source_weights, P(file) = w_k / Σ w_k' / n_k,c, where the sum
        runs over the sources that have candidates of c (docs/domains.md). A class that only
        sources of weight 0 have is left out of rcs_classes and P(c) is renormalised over the
        rest, so that a source of weight 0 is never drawn."""
        self.file_to_idx, per_source = {}, []
        offset = 0
        for k, (dataset, root) in enumerate(zip(self.sources, self.source_data_roots)):
            samples = _load_stats_json(root, 'samples_with_class.json')
            per_source.append({int(c): files for c, files in samples.items()})
            for i, info in enumerate(dataset.img_infos):
                self.file_to_idx[self._file_key(k, osp.basename(info['ann']['seg_map']))] = \
                    offset + i
            offset += len(dataset)
        self.samples_with_class, self.rcs_file_probs = {}, {}
        kept = []
        for c in self.rcs_classes:
            names, source_of = [], []
            for k, samples in enumerate(per_source):
                found = self._class_candidates(k, c, samples.get(c, []))
                names += found
                source_of += [k] * len(found)
            if not names:
                raise UserInputError(self._no_candidates_message(
                    c, [e for samples in per_source for e in samples.get(c, [])]))
            source_of = np.asarray(source_of)
            if self.source_probs is not None and self.source_probs[source_of].sum() == 0:
                continue  # only sources of weight 0 have class c: c is never drawn
            kept.append(c)
            self.samples_with_class[c] = names
            self.rcs_file_probs[c] = self._file_probs(source_of)
        if len(kept) < len(self.rcs_classes):
            # P(c) renormalised over the classes that a source of positive weight has.
            index = {c: i for i, c in enumerate(self.rcs_classes)}
            probs = self.rcs_classprob[[index[c] for c in kept]]
            self.rcs_classes, self.rcs_classprob = kept, probs / probs.sum()

    def _class_candidates(self, k, c, entries):
        """Candidate names of class c in source k: files with more than min_pixels of it."""
        names = [self._file_key(k, osp.basename(f)) for f, count in entries
                 if count > self.rcs_min_pixels]
        unknown = [n for n in names if n not in self.file_to_idx]
        if unknown:
            print_log(f'rare class sampling: {len(unknown)} files of class {c} in '
                      f'samples_with_class.json of {self.source_keys[k]} are not in that '
                      f'dataset (e.g. {unknown[0]}); they are skipped', logger='mmseg',
                      level=WARNING)
            names = [n for n in names if n in self.file_to_idx]
        return names

    def _file_probs(self, source_of):
        if self.source_probs is None:
            return None
        weights = self.source_probs[source_of]
        counts = np.bincount(source_of, minlength=len(self.sources))[source_of]
        probs = weights / counts
        return probs / probs.sum()

    def _no_candidates_message(self, c, entries):
        stats = ' / '.join(osp.abspath(osp.join(r, 'samples_with_class.json'))
                           for r in self.source_data_roots)
        if entries and max(count for _, count in entries) <= self.rcs_min_pixels:
            return (f'class {c} occurs in sample_class_stats.json but no source file has more '
                    f'than min_pixels={self.rcs_min_pixels} pixels of it in {stats}: lower '
                    f'rare_class_sampling.min_pixels')
        return (f'{stats} is inconsistent with sample_class_stats.json beside it: class {c} '
                f'has pixels there but no file of the source dataset here. Regenerate both with '
                f'tools/convert_datasets (see docs/dataset_prepare.md)')

    def __len__(self):
        return len(self.source) * self._target_length()

    def _target_length(self):
        return 1 if self.target is None else len(self.target)

    def _random_target(self):
        return None if self.target is None else self.target[np.random.randint(len(self.target))]

    def get_rare_class_sample(self):
        """Draw a class by P(c), a file containing it, and re-crop until the class is visible."""
        c = np.random.choice(self.rcs_classes, p=self.rcs_classprob)
        file = np.random.choice(self.samples_with_class[c], p=self.rcs_file_probs.get(c))
        source_idx = self.file_to_idx[file]
        source = self.source[source_idx]
        if self.rcs_min_crop_ratio > 0:
            for _ in range(10):
                n_class = torch.sum(source['gt_semantic_seg'].data == c)
                if n_class > self.rcs_min_pixels * self.rcs_min_crop_ratio:
                    break
                source = self.source[source_idx]  # the pipeline draws a new random crop
        target = self._random_target()
        return self._merge(*self.synchronized_crop(source, target))

    def __getitem__(self, idx):
        if self.rcs_enabled:
            return self.get_rare_class_sample()
        if self.source_probs is None:  # sources in proportion to their sizes
            source = self.source[idx // self._target_length()]
        else:
            k = np.random.choice(len(self.sources), p=self.source_probs)
            source = self.sources[k][np.random.randint(len(self.sources[k]))]
        target = None if self.target is None else self.target[idx % len(self.target)]
        return self._merge(*self.synchronized_crop(source, target))

    def synchronized_crop(self, source, target):
        """Crop source and target outputs (C×H×W DataContainers) with one random box."""
        if self.sync_crop_size is None:
            return source, target
        height, width = source['img'].data.shape[1:]
        y1, y2, x1, x2 = random_crop_bbox((height, width), self.sync_crop_size)
        for sample in (source, target) if target is not None else (source,):
            for key in ('img', 'gt_semantic_seg', 'valid_pseudo_mask'):
                if key in sample:
                    container = sample[key]
                    sample[key] = DC(container.data[:, y1:y2, x1:x2], stack=container.stack)
            meta = dict(sample['img_metas'].data)
            for key in ('img_shape', 'pad_shape'):
                if key in meta:
                    meta[key] = (y2 - y1, x2 - x1) + tuple(meta[key][2:])
            sample['img_metas'] = DC(meta, cpu_only=True)
        return source, target

    @staticmethod
    def _merge(source, target):
        out = dict(source)
        if target is None:
            return out
        out['target_img_metas'] = target['img_metas']
        out['target_img'] = target['img']
        if 'valid_pseudo_mask' in target:
            out['valid_pseudo_mask'] = target['valid_pseudo_mask']
        return out

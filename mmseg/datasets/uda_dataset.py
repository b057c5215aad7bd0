"""UDADataset: (source, target) sample pairs with rare-class sampling of the source (docs/REFERENCE.md §3.6)."""
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
            f'tools/convert_datasets (see README, Datasets)')
    with open(path) as f:
        return json.load(f)


def get_rcs_class_probs(data_root, temperature):
    """Rare-class sampling distribution from ``<data_root>/sample_class_stats.json``.

    f_c = n_c / Σn over the classes that occur; P(c) = softmax((1 − f_c) / T). Returns
    (classes sorted by ascending pixel count, probabilities as a float numpy array).
    """
    pixels = {}
    for entry in _load_stats_json(data_root, 'sample_class_stats.json'):
        for key, count in entry.items():
            if key != 'file':
                pixels[int(key)] = pixels.get(int(key), 0) + count
    if not pixels:
        raise UserInputError(
            f'{osp.abspath(osp.join(data_root, "sample_class_stats.json"))} holds no class pixel '
            f'counts: every converted label is all ignore (255), e.g. because the converter did '
            f'not read the class IDs. Check the labels and regenerate the statistics with '
            f'tools/convert_datasets (see README, Datasets)')
    classes = sorted(pixels, key=lambda c: pixels[c])
    freq = torch.tensor([pixels[c] for c in classes], dtype=torch.float64)
    freq = freq / freq.sum()
    probs = torch.softmax((1 - freq) / temperature, dim=-1)
    return classes, probs.numpy()


@DATASETS.register_module()
class UDADataset:
    """Source sample (rare-class sampled when configured) + target sample per item.

    source/target: built datasets or dataset configs; cfg: the data.train dict
    (rare_class_sampling=dict(min_pixels, class_temp, min_crop_ratio), sync_crop_size),
    which may also come as keyword arguments (when built from a config by build_dataset).
    """

    # Keys of data.train besides the two datasets (type/source/target repeat when cfg is it).
    CONFIG_KEYS = ('type', 'source', 'target', 'rare_class_sampling', 'sync_crop_size')
    RCS_KEYS = ('min_pixels', 'class_temp', 'min_crop_ratio')

    def __init__(self, source, target, cfg=None, **kwargs):
        cfg = dict(cfg or {}, **kwargs)
        unknown = sorted(set(cfg) - set(self.CONFIG_KEYS))
        if unknown:
            raise UserKeyError(f'UDADataset (data.train) got unknown keys {unknown}; expected some '
                               f'of {list(self.CONFIG_KEYS)}')
        source_cfg = source if isinstance(source, dict) else cfg.get('source', {})
        self.source = build_dataset(source) if isinstance(source, dict) else source
        self.target = build_dataset(target) if isinstance(target, dict) else target
        self.CLASSES = self.target.CLASSES
        self.PALETTE = self.target.PALETTE
        self.ignore_index = self.target.ignore_index
        # Names as a list or a tuple (mmseg 0.x keeps the type given): compared as tuples.
        if tuple(self.source.CLASSES or ()) != tuple(self.target.CLASSES or ()):
            raise UserInputError(f'source classes {self.source.CLASSES} differ from target classes '
                                 f'{self.target.CLASSES}')
        self.sync_crop_size = cfg.get('sync_crop_size')
        rcs_cfg = cfg.get('rare_class_sampling')
        self.rcs_enabled = rcs_cfg is not None
        if self.rcs_enabled:
            data_root = source_cfg.get('data_root') or getattr(self.source, 'data_root', None)
            if data_root is None:
                raise UserInputError('rare_class_sampling needs the source data_root (where '
                                     'sample_class_stats.json and samples_with_class.json are)')
            self._init_rcs(rcs_cfg, data_root)

    def _init_rcs(self, rcs_cfg, data_root):
        missing = [k for k in self.RCS_KEYS if k not in rcs_cfg]
        unknown = sorted(set(rcs_cfg) - set(self.RCS_KEYS))
        if unknown:
            raise UserKeyError(f'rare_class_sampling got unknown keys {unknown}; expected '
                               f'{list(self.RCS_KEYS)}')
        if missing:
            raise UserKeyError(f'rare_class_sampling lacks {missing}; expected '
                               f'dict(min_pixels=..., class_temp=..., min_crop_ratio=...) '
                               f'(docs/REFERENCE.md §3.6)')
        self.rcs_class_temp = rcs_cfg['class_temp']
        self.rcs_min_crop_ratio = rcs_cfg['min_crop_ratio']
        self.rcs_min_pixels = rcs_cfg['min_pixels']
        self.rcs_classes, self.rcs_classprob = get_rcs_class_probs(data_root,
                                                                   self.rcs_class_temp)
        samples = _load_stats_json(data_root, 'samples_with_class.json')
        samples = {int(c): files for c, files in samples.items()}
        self.file_to_idx = {osp.basename(info['ann']['seg_map']): i
                            for i, info in enumerate(self.source.img_infos)}
        self.samples_with_class = {}
        for c in self.rcs_classes:
            names = [osp.basename(f) for f, count in samples.get(c, [])
                     if count > self.rcs_min_pixels]
            unknown = [n for n in names if n not in self.file_to_idx]
            if unknown:
                print_log(f'rare class sampling: {len(unknown)} files of class {c} in '
                          f'samples_with_class.json are not in the source dataset (e.g. '
                          f'{unknown[0]}); they are skipped', logger='mmseg', level=WARNING)
                names = [n for n in names if n in self.file_to_idx]
            if not names:
                raise UserInputError(self._no_candidates_message(c, samples.get(c), data_root))
            self.samples_with_class[c] = names

    def _no_candidates_message(self, c, entries, data_root):
        stats = osp.abspath(osp.join(data_root, 'samples_with_class.json'))
        if entries and max(count for _, count in entries) <= self.rcs_min_pixels:
            return (f'class {c} occurs in sample_class_stats.json but no source file has more '
                    f'than min_pixels={self.rcs_min_pixels} pixels of it in {stats}: lower '
                    f'rare_class_sampling.min_pixels')
        return (f'{stats} is inconsistent with sample_class_stats.json beside it: class {c} '
                f'has pixels there but no file of the source dataset here. Regenerate both with '
                f'tools/convert_datasets (see README, Datasets)')

    def __len__(self):
        return len(self.source) * len(self.target)

    def get_rare_class_sample(self):
        """Draw a class by P(c), a file containing it, and re-crop until the class is visible."""
        c = np.random.choice(self.rcs_classes, p=self.rcs_classprob)
        file = np.random.choice(self.samples_with_class[c])
        source_idx = self.file_to_idx[file]
        source = self.source[source_idx]
        if self.rcs_min_crop_ratio > 0:
            for _ in range(10):
                n_class = torch.sum(source['gt_semantic_seg'].data == c)
                if n_class > self.rcs_min_pixels * self.rcs_min_crop_ratio:
                    break
                source = self.source[source_idx]  # the pipeline draws a new random crop
        target = self.target[np.random.randint(len(self.target))]
        return self._merge(*self.synchronized_crop(source, target))

    def __getitem__(self, idx):
        if self.rcs_enabled:
            return self.get_rare_class_sample()
        source = self.source[idx // len(self.target)]
        target = self.target[idx % len(self.target)]
        return self._merge(*self.synchronized_crop(source, target))

    def synchronized_crop(self, source, target):
        """Crop source and target outputs (C×H×W DataContainers) with one random box."""
        if self.sync_crop_size is None:
            return source, target
        height, width = source['img'].data.shape[1:]
        y1, y2, x1, x2 = random_crop_bbox((height, width), self.sync_crop_size)
        for sample in (source, target):
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
        out['target_img_metas'] = target['img_metas']
        out['target_img'] = target['img']
        if 'valid_pseudo_mask' in target:
            out['valid_pseudo_mask'] = target['valid_pseudo_mask']
        return out

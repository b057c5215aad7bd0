"""Formatting transforms: arrays → tensors and DataContainers, and the final key selection."""
from collections.abc import Sequence

import numpy as np
import torch
from mmcv.parallel import DataContainer as DC

from ..builder import PIPELINES

__all__ = ['to_tensor', 'ImageToTensor', 'ToTensor', 'DefaultFormatBundle', 'Collect',
           'DEFAULT_META_KEYS']

DEFAULT_META_KEYS = ('filename', 'ori_filename', 'ori_shape', 'img_shape', 'pad_shape',
                     'scale_factor', 'flip', 'flip_direction', 'img_norm_cfg')  # docs/REFERENCE.md §1.2


def to_tensor(data):
    """Tensor from a tensor, ndarray, non-string sequence, int (long) or float."""
    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(data))
    if isinstance(data, Sequence) and not isinstance(data, str):
        return torch.tensor(data)
    if isinstance(data, int):
        return torch.LongTensor([data])
    if isinstance(data, float):
        return torch.FloatTensor([data])
    raise TypeError(f'type {type(data)} cannot be converted to a tensor')


def _image_chw(img):
    if img.ndim < 3:
        img = img[..., None]
    return np.ascontiguousarray(img.transpose(2, 0, 1))


@PIPELINES.register_module()
class ImageToTensor:
    """H×W×C arrays under ``keys`` → C×H×W tensors (no DataContainer; used at test time)."""

    def __init__(self, keys):
        self.keys = keys

    def __call__(self, results):
        for key in self.keys:
            results[key] = to_tensor(_image_chw(results[key]))
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(keys={self.keys})'


@PIPELINES.register_module()
class ToTensor:
    """Values under ``keys`` → tensors."""

    def __init__(self, keys):
        self.keys = keys

    def __call__(self, results):
        for key in self.keys:
            results[key] = to_tensor(results[key])
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(keys={self.keys})'


@PIPELINES.register_module()
class DefaultFormatBundle:
    """img → C×H×W float tensor; each seg field → 1×H×W tensor (gt_semantic_seg as long, others
    in their own dtype); all as stacked DataContainers."""

    def __call__(self, results):
        if 'img' in results:
            img = results['img']
            results['img'] = DC(to_tensor(_image_chw(img)).float(), stack=True)
        for key in results.get('seg_fields', []):
            value = results[key][None, ...]
            if key == 'gt_semantic_seg':
                value = value.astype(np.int64)
            results[key] = DC(to_tensor(value), stack=True)
        return results

    def __repr__(self):
        return self.__class__.__name__


@PIPELINES.register_module()
class Collect:
    """Keep only ``keys`` (plus valid_pseudo_mask when present) and gather ``meta_keys`` into
    ``img_metas`` (a cpu_only DataContainer)."""

    def __init__(self, keys, meta_keys=DEFAULT_META_KEYS):
        self.keys = keys
        self.meta_keys = meta_keys

    def __call__(self, results):
        missing = [k for k in list(self.meta_keys) + list(self.keys) if k not in results]
        if missing:
            raise KeyError(f'Collect: keys {missing} are not in the pipeline results (available: '
                           f'{sorted(results)}); check the transforms before Collect')
        img_meta = {key: results[key] for key in self.meta_keys}
        data = {'img_metas': DC(img_meta, cpu_only=True)}
        for key in self.keys:
            data[key] = results[key]
        if 'valid_pseudo_mask' in results:
            # made by the UDA target dataset (crop_pseudo_margins) and always passed on (docs/REFERENCE.md §1)
            data['valid_pseudo_mask'] = results['valid_pseudo_mask']
        return data

    def __repr__(self):
        return f'{self.__class__.__name__}(keys={self.keys}, meta_keys={self.meta_keys})'

"""The segmentor base class: forward dispatch, runner steps, loss parsing, result drawing."""
import warnings
from abc import ABCMeta, abstractmethod
from collections import OrderedDict

import mmcv
import numpy as np
import torch
import torch.distributed as dist
from mmcv.runner import BaseModule

from ..utils.mixed_precision import autocast

__all__ = ['BaseSegmentor']


def attention_to_grey(attention):
    """H×W×3 uint8 grey image of a float map in [0, 1] (HRDA's scale attention under
    ``--hrda-out ATT``): grey level = round(255 × value), values clipped to [0, 1]."""
    grey = np.rint(np.clip(np.asarray(attention, dtype=np.float64), 0, 1) * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


class BaseSegmentor(BaseModule, metaclass=ABCMeta):
    """Base of all segmentors (mmseg 0.x interface).

    ``forward(img, img_metas, return_loss=True)`` trains; with ``return_loss=False`` it tests on
    lists over augmentations (one entry: ``simple_test``, several: ``aug_test``).
    """

    CLASSES = None
    PALETTE = None
    # Autocast dtype of the forward passes (None: float32); set from the config's
    # ``mixed_precision`` by ``build_train_model`` (see mmseg/models/utils/mixed_precision.py).
    mixed_precision = None
    # ``mixed_precision.fp32_upsample`` and ``.cast_teacher_once`` (set with mixed_precision).
    fp32_upsample = False
    cast_teacher_once = False

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg)
        self.fp16_enabled = False

    @property
    def with_neck(self):
        return getattr(self, 'neck', None) is not None

    @property
    def with_auxiliary_head(self):
        return getattr(self, 'auxiliary_head', None) is not None

    @property
    def with_decode_head(self):
        return getattr(self, 'decode_head', None) is not None

    @abstractmethod
    def extract_feat(self, img):
        """Backbone (+ neck) features of a B×3×H×W batch."""

    @abstractmethod
    def encode_decode(self, img, img_metas):
        """Logits B×C×H×W at the size of ``img``."""

    @abstractmethod
    def forward_train(self, img, img_metas, **kwargs):
        """Dict of named losses."""

    @abstractmethod
    def simple_test(self, img, img_meta, **kwargs):
        """Predictions of one augmentation."""

    @abstractmethod
    def aug_test(self, imgs, img_metas, **kwargs):
        """Predictions averaged over several augmentations."""

    def forward_test(self, imgs, img_metas, **kwargs):
        """Test on ``imgs``: a list over augmentations of B×3×H×W batches (and their metas)."""
        for var, name in ((imgs, 'imgs'), (img_metas, 'img_metas')):
            if not isinstance(var, list):
                raise TypeError(f'{name} must be a list over test augmentations, '
                                f'got {type(var).__name__}')
        if len(imgs) != len(img_metas):
            raise ValueError(f'{len(imgs)} augmented image batches but {len(img_metas)} '
                             f'lists of img_metas')
        for img_meta in img_metas:
            for key in ('ori_shape', 'img_shape', 'pad_shape'):
                shapes = [meta[key] for meta in img_meta if key in meta]
                if any(shape != shapes[0] for shape in shapes):
                    raise ValueError(f'all images of a test batch need the same {key}, '
                                     f'got {shapes}')
        if len(imgs) == 1:
            return self.simple_test(imgs[0], img_metas[0], **kwargs)
        return self.aug_test(imgs, img_metas, **kwargs)

    def forward(self, img, img_metas, return_loss=True, **kwargs):
        if return_loss:
            return self.forward_train(img, img_metas, **kwargs)
        return self.forward_test(img, img_metas, **kwargs)

    def train_step(self, data_batch, optimizer, **kwargs):
        """One runner iteration: the losses of ``data_batch``; the optimizer hook steps."""
        with autocast(self.mixed_precision, data_batch['img']):
            losses = self(**data_batch)
        loss, log_vars = self._parse_losses(losses)
        return dict(loss=loss, log_vars=log_vars, num_samples=len(data_batch['img_metas']))

    def val_step(self, data_batch, optimizer=None, **kwargs):
        return self(**data_batch, **kwargs)

    @staticmethod
    def _parse_losses(losses):
        """(sum of the entries whose key contains 'loss', log vars) of a dict of named losses.

        Each log var is a detached 0-d tensor on the losses' device (the mean of the entry, or
        the sum of the means of a list): no host sync here; the runner's log buffer reads them
        at log time (mmseg/core/log_buffer.py, docs/performance.md). Distributed, the log vars
        are averaged over the processes in one all-reduce. ``features`` (returned with
        ``return_feat=True``) is no loss and is not logged. Raises TypeError for an entry that
        is no tensor or list of tensors, ValueError when no key contains 'loss'.
        """
        log_vars = OrderedDict()
        for name, value in losses.items():
            if name == 'features':
                continue
            if isinstance(value, torch.Tensor):
                log_vars[name] = value.mean()
            elif isinstance(value, (list, tuple)):
                log_vars[name] = sum(item.mean() for item in value)
            else:
                raise TypeError(f'loss {name!r} is a {type(value).__name__}; expected a tensor '
                                f'or a list of tensors')
        loss = sum(value for name, value in log_vars.items() if 'loss' in name)
        if not torch.is_tensor(loss):
            raise ValueError(f'no entry with "loss" in its name among {list(losses)}')
        log_vars['loss'] = loss
        # float32 (float64 when a value is float64): every value is kept exactly.
        dtype = torch.float64 if any(v.dtype == torch.float64 for v in log_vars.values()) \
            else torch.float32
        values = torch.stack([value.detach().to(dtype) for value in log_vars.values()])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(values.div_(dist.get_world_size()))
        return loss, OrderedDict(zip(log_vars, values.unbind()))

    def show_result(self, img, result, palette=None, win_name='', show=False, wait_time=0,
                    out_file=None, opacity=0.5):
        """Blend the colour-coded prediction ``result[0]`` (H×W train IDs) over ``img`` (BGR).

        A float ``result[0]`` (HRDA's scale attention in [0, 1], ``--hrda-out ATT``) is drawn in
        grey levels 255 × value instead of palette colours. Returns the blended BGR uint8 image when neither shown nor written.
        """
        if not 0 < opacity <= 1:
            raise ValueError(f'opacity must be in (0, 1], got {opacity}')
        img = mmcv.imread(img).copy()
        seg = np.asarray(result[0])
        if np.issubdtype(seg.dtype, np.floating):
            color_seg = attention_to_grey(seg)
        else:
            color_seg = self._colorize(seg, palette)
        img = (img * (1 - opacity) + color_seg * opacity).astype(np.uint8)
        if out_file is not None:
            mmcv.imwrite(img, out_file)
        elif show:
            mmcv.imshow(img, win_name, wait_time)
        else:
            return img
        return None

    def _colorize(self, seg, palette):
        """H×W×3 BGR uint8 colour map of the train IDs in ``seg``."""
        palette = self._resolve_palette(palette, seg)
        color_seg = np.zeros((*seg.shape[:2], 3), dtype=np.uint8)
        for label, color in enumerate(palette):
            color_seg[seg == label] = color
        return color_seg[..., ::-1]  # palettes are RGB, images BGR

    def _resolve_palette(self, palette, seg):
        """The given palette, else ``self.PALETTE``, else a fixed random one (seed 42)."""
        if palette is None:
            palette = self.PALETTE
        if palette is None:
            num_colors = len(self.CLASSES) if self.CLASSES is not None \
                else int(seg.max()) + 1 if seg.size else 1
            palette = np.random.RandomState(42).randint(0, 255, size=(num_colors, 3))
        palette = np.asarray(palette)
        if palette.ndim != 2 or palette.shape[1] != 3:
            raise ValueError(f'palette must be N×3 RGB colours, got shape {palette.shape}')
        if self.CLASSES is not None and len(palette) != len(self.CLASSES):
            warnings.warn(f'palette has {len(palette)} colours for {len(self.CLASSES)} classes')
        return palette

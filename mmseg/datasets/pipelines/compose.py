"""Compose: run a list of pipeline transforms in order (mmseg 0.x semantics)."""
from collections.abc import Sequence

from mmcv.utils import build_from_cfg

from ..builder import PIPELINES

__all__ = ['Compose']


@PIPELINES.register_module()
class Compose:
    """Apply transforms (configs built from PIPELINES, or callables) one after another.

    A transform that returns None drops the sample: Compose then returns None.
    """

    def __init__(self, transforms):
        if not isinstance(transforms, Sequence) or isinstance(transforms, str):
            raise TypeError(f'Compose expects a list of transforms, got {type(transforms)}')
        self.transforms = []
        for transform in transforms:
            if isinstance(transform, dict):
                transform = build_from_cfg(transform, PIPELINES)
            elif not callable(transform):
                raise TypeError(f'a pipeline transform must be a config dict or a callable, '
                                f'got {type(transform)}')
            self.transforms.append(transform)

    def __call__(self, data):
        for transform in self.transforms:
            data = transform(data)
            if data is None:
                return None
        return data

    def __repr__(self):
        return self.__class__.__name__ + '(' + ''.join(f'\n    {t}' for t in self.transforms) \
            + '\n)'

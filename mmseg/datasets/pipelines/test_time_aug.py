"""Test-time augmentation: run the inner transforms once per (scale, flip) combination."""
import warnings

import mmcv

from mmseg.utils.errors import UserInputError, UserTypeError
from ..builder import PIPELINES
from .compose import Compose
from .transforms import RandomFlip, as_scale_list

__all__ = ['MultiScaleFlipAug']


@PIPELINES.register_module()
class MultiScaleFlipAug:
    """Apply ``transforms`` for every scale × flip and return each key as a list over augmentations.

    img_scale: a (w, h) tuple or a list of them; with img_ratios, the single img_scale (or the
    image size when img_scale is None) times each ratio. The order is scale-major, then flips
    (no flip first). ``flip=True`` without a RandomFlip in ``transforms`` warns and still
    yields both flip flags (the images stay unflipped), as mmseg 0.x does. Raises
    UserInputError / UserTypeError for inconsistent scales, ratios or flip directions.
    """

    def __init__(self, transforms, img_scale, img_ratios=None, flip=False,
                 flip_direction='horizontal'):
        self.transforms = Compose(transforms)
        if img_ratios is not None:
            img_ratios = img_ratios if isinstance(img_ratios, list) else [img_ratios]
            if not all(isinstance(r, float) for r in img_ratios):
                raise UserInputError(f'MultiScaleFlipAug: img_ratios must be a float or a list '
                                     f'of floats (e.g. 1.0 or [0.5, 1.0]), got {img_ratios}')
            if img_scale is not None and len(as_scale_list(img_scale, 'MultiScaleFlipAug')) != 1:
                raise UserInputError('MultiScaleFlipAug with img_ratios takes one (w, h) '
                                     f'img_scale or None, got {img_scale}')
        elif img_scale is None:
            raise UserInputError('MultiScaleFlipAug needs img_scale or img_ratios')
        self.img_ratios = img_ratios
        if img_ratios is not None and img_scale is not None:
            width, height = as_scale_list(img_scale, 'MultiScaleFlipAug')[0]
            self.img_scale = [(int(width * r), int(height * r)) for r in img_ratios]
        elif img_scale is not None:
            self.img_scale = as_scale_list(img_scale, 'MultiScaleFlipAug')
        else:
            self.img_scale = None  # resolved from the image size per sample
        self.flip = flip
        self.flip_direction = (flip_direction if isinstance(flip_direction, list)
                               else [flip_direction])
        if not mmcv.is_list_of(self.flip_direction, str):
            raise UserTypeError(f'flip_direction must be a str or a list of str, got '
                                f'{flip_direction}')
        if flip and not any(isinstance(t, RandomFlip) for t in self.transforms.transforms):
            warnings.warn('MultiScaleFlipAug(flip=True): flip has no effect when RandomFlip is '
                          'not in transforms (the flip flags are set, the images not flipped)')

    def _scales(self, results):
        if self.img_scale is not None:
            return self.img_scale
        h, w = results['img'].shape[:2]
        return [(int(w * r), int(h * r)) for r in self.img_ratios]

    def __call__(self, results):
        flips = [False, True] if self.flip else [False]
        augmented = []
        for scale in self._scales(results):
            for flip in flips:
                for direction in (self.flip_direction if flip else self.flip_direction[:1]):
                    item = results.copy()
                    if 'seg_fields' in item:
                        item['seg_fields'] = list(item['seg_fields'])
                    item['scale'] = scale
                    item['flip'] = flip
                    item['flip_direction'] = direction
                    augmented.append(self.transforms(item))
        return {key: [data[key] for data in augmented] for key in augmented[0]}

    def __repr__(self):
        # mmseg 0.x prints flip_direction after the closing parenthesis; kept for log diffs.
        return (f'{self.__class__.__name__}(transforms={self.transforms}, '
                f'img_scale={self.img_scale}, flip={self.flip})'
                f'flip_direction={self.flip_direction}')


"""Geometric and photometric transforms of images and segmentation fields (mmseg 0.x semantics).

Every key listed in ``results['seg_fields']`` (gt_semantic_seg, valid_pseudo_mask, ...) is
treated as a label: resized nearest, cropped, flipped and padded together with the image.
"""
import mmcv
import numpy as np

from ..builder import PIPELINES

__all__ = ['Resize', 'RandomCrop', 'RandomFlip', 'PhotoMetricDistortion', 'Normalize', 'Pad',
           'random_crop_bbox', 'as_scale_list']

# Padding value of segmentation fields other than labels: padded pixels are not valid image
# content, so a validity mask (e.g. valid_pseudo_mask) marks them invalid.
MASK_FIELD_PAD_VAL = {'valid_pseudo_mask': 0}


def as_scale_list(img_scale, owner='Resize'):
    """A (w, h) tuple or a list of pairs (tuples, or lists after a JSON round trip) as a list
    of (w, h) tuples. A flat list of two numbers is ambiguous (one scale, or two scales of one
    number?) and, as in mmseg 0.x, raises ValueError naming ``<owner>.img_scale``."""
    if isinstance(img_scale, list) and len(img_scale) == 2 \
            and all(isinstance(v, (int, float)) for v in img_scale):
        raise ValueError(f'{owner}: img_scale={img_scale} is a list of two numbers; give one '
                         f'scale as a tuple (w, h), e.g. {tuple(img_scale)}, or several as a '
                         f'list of tuples')
    if isinstance(img_scale, tuple) and len(img_scale) == 2 \
            and all(isinstance(v, (int, float)) for v in img_scale):
        return [tuple(img_scale)]
    if isinstance(img_scale, (tuple, list)) and all(
            isinstance(s, (tuple, list)) and len(s) == 2 for s in img_scale):
        return [tuple(s) for s in img_scale]
    raise TypeError(f'{owner}: img_scale must be a (w, h) tuple or a list of them, got '
                    f'{img_scale}')


def random_crop_bbox(shape, crop_size):
    """A uniformly random crop box (y1, y2, x1, x2) of size crop_size=(h, w) inside shape (h, w)."""
    margin_h = max(shape[0] - crop_size[0], 0)
    margin_w = max(shape[1] - crop_size[1], 0)
    offset_h = np.random.randint(0, margin_h + 1)
    offset_w = np.random.randint(0, margin_w + 1)
    return offset_h, offset_h + crop_size[0], offset_w, offset_w + crop_size[1]


@PIPELINES.register_module()
class Resize:
    """Resize the image and every segmentation field (nearest) to one scale.

    Scales are (w, h) tuples. Modes: one img_scale (fit it, keeping the ratio when keep_ratio);
    several with multiscale_mode 'range' (random long/short edges between them) or 'value'
    (random choice); ratio_range (random ratio times img_scale, or the image size when
    img_scale is None). A ``results['scale']`` already set (MultiScaleFlipAug) wins; with
    neither img_scale nor ratio_range it is required.
    """

    def __init__(self, img_scale=None, multiscale_mode='range', ratio_range=None,
                 keep_ratio=True):
        self.img_scale = None if img_scale is None else as_scale_list(img_scale)
        if ratio_range is not None:
            if self.img_scale is not None and len(self.img_scale) != 1:
                raise ValueError('Resize with ratio_range takes at most one img_scale')
        elif multiscale_mode not in ('value', 'range'):
            raise ValueError(f"multiscale_mode must be 'value' or 'range', got {multiscale_mode}")
        self.multiscale_mode = multiscale_mode
        self.ratio_range = ratio_range
        self.keep_ratio = keep_ratio

    @staticmethod
    def random_select(img_scales):
        idx = np.random.randint(len(img_scales))
        return img_scales[idx], idx

    @staticmethod
    def random_sample(img_scales):
        """Long and short edge drawn uniformly (integers) between those of two scales."""
        if len(img_scales) != 2:
            raise ValueError(f"multiscale_mode 'range' needs exactly 2 scales, got {img_scales}")
        longs = [max(s) for s in img_scales]
        shorts = [min(s) for s in img_scales]
        long_edge = np.random.randint(min(longs), max(longs) + 1)
        short_edge = np.random.randint(min(shorts), max(shorts) + 1)
        return (long_edge, short_edge), None

    @staticmethod
    def random_sample_ratio(img_scale, ratio_range):
        min_ratio, max_ratio = ratio_range
        ratio = np.random.random_sample() * (max_ratio - min_ratio) + min_ratio
        return (int(img_scale[0] * ratio), int(img_scale[1] * ratio)), None

    def _random_scale(self, results):
        if self.ratio_range is not None:
            if self.img_scale is None:
                h, w = results['img'].shape[:2]
                scale, idx = self.random_sample_ratio((w, h), self.ratio_range)
            else:
                scale, idx = self.random_sample_ratio(self.img_scale[0], self.ratio_range)
        elif self.img_scale is None:
            raise KeyError('Resize without img_scale or ratio_range needs results["scale"] '
                           '(set by MultiScaleFlipAug)')
        elif len(self.img_scale) == 1:
            scale, idx = self.img_scale[0], 0
        elif self.multiscale_mode == 'range':
            scale, idx = self.random_sample(self.img_scale)
        else:
            scale, idx = self.random_select(self.img_scale)
        results['scale'] = scale
        results['scale_idx'] = idx

    def _resize(self, array, scale, interpolation):
        if self.keep_ratio:
            return mmcv.imrescale(array, scale, interpolation=interpolation)
        return mmcv.imresize(array, scale, interpolation=interpolation)

    def __call__(self, results):
        if 'scale' not in results:
            self._random_scale(results)
        h, w = results['img'].shape[:2]
        img = self._resize(results['img'], results['scale'], 'bilinear')
        new_h, new_w = img.shape[:2]
        w_scale, h_scale = new_w / w, new_h / h
        results['img'] = img
        results['img_shape'] = img.shape
        results['pad_shape'] = img.shape
        results['scale_factor'] = np.array([w_scale, h_scale, w_scale, h_scale],
                                           dtype=np.float32)
        results['keep_ratio'] = self.keep_ratio
        for key in results.get('seg_fields', []):
            results[key] = self._resize(results[key], results['scale'], 'nearest')
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(img_scale={self.img_scale}, '
                f'multiscale_mode={self.multiscale_mode}, ratio_range={self.ratio_range}, '
                f'keep_ratio={self.keep_ratio})')


@PIPELINES.register_module()
class RandomCrop:
    """Random crop of crop_size=(h, w); with cat_max_ratio < 1, up to 10 tries for a crop in
    which no single class covers more than cat_max_ratio of the non-ignored pixels (docs/REFERENCE.md §1.2)."""

    def __init__(self, crop_size, cat_max_ratio=1., ignore_index=255):
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'RandomCrop crop_size must be (h, w) > 0, got {crop_size}')
        self.crop_size = tuple(crop_size)
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    @staticmethod
    def crop(array, bbox):
        y1, y2, x1, x2 = bbox
        return array[y1:y2, x1:x2, ...]

    def _is_balanced(self, label):
        classes, counts = np.unique(label, return_counts=True)
        counts = counts[classes != self.ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def __call__(self, results):
        img = results['img']
        bbox = random_crop_bbox(img.shape[:2], self.crop_size)
        if self.cat_max_ratio < 1. and 'gt_semantic_seg' in results:
            for _ in range(10):
                if self._is_balanced(self.crop(results['gt_semantic_seg'], bbox)):
                    break
                bbox = random_crop_bbox(img.shape[:2], self.crop_size)
        img = self.crop(img, bbox)
        results['img'] = img
        results['img_shape'] = img.shape
        for key in results.get('seg_fields', []):
            results[key] = self.crop(results[key], bbox)
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@PIPELINES.register_module()
class RandomFlip:
    """Flip image and segmentation fields with probability prob (unless results['flip'] is set)."""

    def __init__(self, prob=None, direction='horizontal'):
        if prob is not None and not 0 <= prob <= 1:
            raise ValueError(f'RandomFlip prob must be in [0, 1], got {prob}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"RandomFlip direction must be 'horizontal' or 'vertical', "
                             f'got {direction}')
        self.prob = prob
        self.direction = direction

    def __call__(self, results):
        if 'flip' not in results:
            results['flip'] = self.prob is not None and np.random.rand() < self.prob
        if 'flip_direction' not in results:
            results['flip_direction'] = self.direction
        if results['flip']:
            direction = results['flip_direction']
            results['img'] = mmcv.imflip(results['img'], direction=direction)
            for key in results.get('seg_fields', []):
                results[key] = mmcv.imflip(results[key], direction=direction).copy()
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(prob={self.prob})'


@PIPELINES.register_module()
class PhotoMetricDistortion:
    """Random brightness, contrast (before or after), saturation and hue, each with p=0.5."""

    def __init__(self, brightness_delta=32, contrast_range=(0.5, 1.5),
                 saturation_range=(0.5, 1.5), hue_delta=18):
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    @staticmethod
    def convert(img, alpha=1, beta=0):
        img = img.astype(np.float32) * alpha + beta
        return np.clip(img, 0, 255).astype(np.uint8)

    def brightness(self, img):
        if np.random.randint(2):
            delta = np.random.uniform(-self.brightness_delta, self.brightness_delta)
            return self.convert(img, beta=delta)
        return img

    def contrast(self, img):
        if np.random.randint(2):
            return self.convert(img, alpha=np.random.uniform(self.contrast_lower,
                                                             self.contrast_upper))
        return img

    def saturation(self, img):
        if np.random.randint(2):
            img = mmcv.bgr2hsv(img)
            img[:, :, 1] = self.convert(img[:, :, 1], alpha=np.random.uniform(
                self.saturation_lower, self.saturation_upper))
            img = mmcv.hsv2bgr(img)
        return img

    def hue(self, img):
        if np.random.randint(2):
            img = mmcv.bgr2hsv(img)
            shift = np.random.randint(-self.hue_delta, self.hue_delta)
            img[:, :, 0] = (img[:, :, 0].astype(int) + shift) % 180  # OpenCV hue is 0..179
            img = mmcv.hsv2bgr(img)
        return img

    def __call__(self, results):
        img = self.brightness(results['img'])
        contrast_first = np.random.randint(2) == 1
        if contrast_first:
            img = self.contrast(img)
        img = self.saturation(img)
        img = self.hue(img)
        if not contrast_first:
            img = self.contrast(img)
        results['img'] = img
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(brightness_delta={self.brightness_delta}, '
                f'contrast_range=({self.contrast_lower}, {self.contrast_upper}), '
                f'saturation_range=({self.saturation_lower}, {self.saturation_upper}), '
                f'hue_delta={self.hue_delta})')


@PIPELINES.register_module()
class Normalize:
    """(img − mean) / std as float32, after BGR→RGB when to_rgb; records img_norm_cfg."""

    def __init__(self, mean, std, to_rgb=True):
        self.mean = np.array(mean, dtype=np.float32)
        self.std = np.array(std, dtype=np.float32)
        self.to_rgb = to_rgb

    def __call__(self, results):
        results['img'] = mmcv.imnormalize(results['img'], self.mean, self.std, self.to_rgb)
        results['img_norm_cfg'] = dict(mean=self.mean, std=self.std, to_rgb=self.to_rgb)
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(mean={self.mean}, std={self.std}, '
                f'to_rgb={self.to_rgb})')


@PIPELINES.register_module()
class Pad:
    """Pad at the bottom/right to size=(h, w) or to a multiple of size_divisor.

    The image gets pad_val, labels seg_pad_val (ignored); a validity mask such as
    valid_pseudo_mask gets 0 (padding is not image content).
    """

    def __init__(self, size=None, size_divisor=None, pad_val=0, seg_pad_val=255):
        if (size is None) == (size_divisor is None):
            raise ValueError('Pad needs exactly one of size and size_divisor')
        self.size = tuple(size) if size is not None else None
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def __call__(self, results):
        img = results['img']
        if self.size is not None:
            if img.shape[0] > self.size[0] or img.shape[1] > self.size[1]:
                raise ValueError(f'Pad size {self.size} is smaller than the image '
                                 f'{img.shape[:2]} ({results.get("filename")})')
            padded = mmcv.impad(img, shape=self.size, pad_val=self.pad_val)
        else:
            padded = mmcv.impad_to_multiple(img, self.size_divisor, pad_val=self.pad_val)
        results['img'] = padded
        results['pad_shape'] = padded.shape
        results['pad_fixed_size'] = self.size
        results['pad_size_divisor'] = self.size_divisor
        for key in results.get('seg_fields', []):
            pad_val = MASK_FIELD_PAD_VAL.get(key, self.seg_pad_val)
            results[key] = mmcv.impad(results[key], shape=padded.shape[:2], pad_val=pad_val)
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(size={self.size}, size_divisor={self.size_divisor}, '
                f'pad_val={self.pad_val})')

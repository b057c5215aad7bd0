"""Loading transforms: images (BGR uint8) and label maps from files (mmseg 0.x semantics)."""
import os.path as osp

import mmcv
import numpy as np

from mmseg.utils.errors import UserFileNotFoundError, UserInputError, UserKeyError
from ..builder import PIPELINES

__all__ = ['LoadImageFromFile', 'LoadAnnotations', 'read_file_bytes', 'load_label_map',
           'apply_label_map', 'reduce_zero']


def read_file_bytes(filename, file_client, what):
    """Bytes of ``filename``; a missing file raises FileNotFoundError naming it and ``what``."""
    try:
        return file_client.get(filename)
    except FileNotFoundError as error:
        raise UserFileNotFoundError(f'{what} file not found: {filename}') from error


def load_label_map(filename, file_client=None, backend='pillow'):
    """Read a label PNG as an H×W integer array (palette indices for mode-P files)."""
    if file_client is None:
        file_client = mmcv.FileClient(backend='disk')
    content = read_file_bytes(filename, file_client, 'label')
    try:
        label = mmcv.imfrombytes(content, flag='unchanged', backend=backend)
    except Exception as error:  # PIL raises several kinds of errors on broken files
        raise UserInputError(f'cannot decode the label file {filename}: {error}') from error
    if label is None:
        raise UserInputError(f'cannot decode the label file {filename}')
    if label.ndim == 3:
        raise UserInputError(f'label file {filename} has {label.shape[2]} channels; expected a '
                             f'single-channel map of train IDs (run tools/convert_datasets first)')
    return label


@PIPELINES.register_module()
class LoadImageFromFile:
    """Load ``img_prefix/img_info['filename']`` as a BGR uint8 (or float32) H×W×3 array.

    Sets filename, ori_filename, img, img_shape, ori_shape, pad_shape, scale_factor (1.0),
    num_channels and a neutral img_norm_cfg.
    """

    def __init__(self, to_float32=False, color_type='color',
                 file_client_args=dict(backend='disk'), imdecode_backend='cv2'):
        self.to_float32 = to_float32
        self.color_type = color_type
        self.file_client_args = file_client_args.copy()
        self.file_client = None
        self.imdecode_backend = imdecode_backend

    def __call__(self, results):
        if self.file_client is None:
            self.file_client = mmcv.FileClient(**self.file_client_args)
        prefix = results.get('img_prefix')
        name = results['img_info']['filename']
        filename = osp.join(prefix, name) if prefix is not None else name
        content = read_file_bytes(filename, self.file_client, 'image')
        try:
            img = mmcv.imfrombytes(content, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as error:
            raise UserInputError(f'cannot decode the image file {filename}: {error}') from error
        if img is None:
            raise UserInputError(f'cannot decode the image file {filename} (empty or not an image)')
        if self.to_float32:
            img = img.astype(np.float32)
        results['filename'] = filename
        results['ori_filename'] = name
        results['img'] = img
        results['img_shape'] = img.shape
        results['ori_shape'] = img.shape
        results['pad_shape'] = img.shape
        results['scale_factor'] = 1.0
        results['num_channels'] = 1 if img.ndim < 3 else img.shape[2]
        num_channels = results['num_channels']
        results['img_norm_cfg'] = dict(mean=np.zeros(num_channels, dtype=np.float32),
                                       std=np.ones(num_channels, dtype=np.float32),
                                       to_rgb=False)
        return results

    def __repr__(self):
        # mmseg 0.x's format (no spaces after the commas).
        return (f'{self.__class__.__name__}(to_float32={self.to_float32},'
                f"color_type='{self.color_type}',imdecode_backend='{self.imdecode_backend}')")


@PIPELINES.register_module()
class LoadAnnotations:
    """Load ``seg_prefix/ann_info['seg_map']`` into ``gt_semantic_seg`` (uint8 H×W).

    ``results['label_map']`` (old id → new id, from a class subset) is applied first; with
    ``reduce_zero_label`` 0 becomes 255 and every other label is decreased by one.
    """

    def __init__(self, reduce_zero_label=False, file_client_args=dict(backend='disk'),
                 imdecode_backend='pillow'):
        self.reduce_zero_label = reduce_zero_label
        self.file_client_args = file_client_args.copy()
        self.file_client = None
        self.imdecode_backend = imdecode_backend

    def __call__(self, results):
        if self.file_client is None:
            self.file_client = mmcv.FileClient(**self.file_client_args)
        prefix = results.get('seg_prefix')
        if 'ann_info' not in results:
            raise UserKeyError(f"LoadAnnotations: {results['img_info']['filename']} has no label "
                               f'(the dataset has no ann_dir); remove LoadAnnotations from the '
                               f'pipeline of an unlabelled dataset')
        name = results['ann_info']['seg_map']
        filename = osp.join(prefix, name) if prefix is not None else name
        label = load_label_map(filename, self.file_client, self.imdecode_backend)
        image_shape = results.get('ori_shape')
        if image_shape is not None and tuple(label.shape) != tuple(image_shape[:2]):
            raise UserInputError(f"image {results.get('filename')} is {image_shape[0]}x"
                                 f'{image_shape[1]} (HxW) but its label {filename} is '
                                 f'{label.shape[0]}x{label.shape[1]}')
        label = apply_label_map(label, results.get('label_map'))
        if self.reduce_zero_label:
            label = reduce_zero(label)
        results['gt_semantic_seg'] = label.astype(np.uint8)
        results.setdefault('seg_fields', []).append('gt_semantic_seg')
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(reduce_zero_label={self.reduce_zero_label},'
                f"imdecode_backend='{self.imdecode_backend}')")


def apply_label_map(label, label_map):
    """Map old ids to new ids all at once (no chaining: 1→2, 2→3 maps an old 1 to 2)."""
    if not label_map:
        return label
    mapped = label.copy()
    for old_id, new_id in label_map.items():
        mapped[label == old_id] = new_id
    return mapped


def reduce_zero(label):
    """0 (e.g. 'unlabelled' in ADE20k) → 255; every other id − 1; 255 stays 255."""
    label = label.astype(np.int64)
    reduced = label - 1
    reduced[label == 0] = 255
    reduced[label == 255] = 255
    return reduced

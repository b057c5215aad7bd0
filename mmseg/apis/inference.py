"""Python API for a trained segmentor: build, load a checkpoint, predict one image, show it."""
import os.path as osp
import re
import warnings
from collections import OrderedDict

import mmcv
import numpy as np
import torch
from mmcv.parallel import collate
from mmcv.runner import CheckpointLoader
from mmcv.utils import build_from_cfg

from mmseg.core.checkpoint import check_state_dict_fits, load_checkpoint_file
from mmseg.utils.errors import UserFileNotFoundError, UserRuntimeError, UserTypeError
from mmseg.datasets import PIPELINES
from mmseg.datasets.eval_sets import first_dataset_config
from mmseg.models import build_segmentor

__all__ = [
    'UDA_STUDENT_PREFIX', 'revise_state_dict', 'load_segmentor_checkpoint', 'init_segmentor',
    'LoadImage', 'inference_segmentor', 'show_result_pyplot'
]

# UDA checkpoints (docs/REFERENCE.md §3.1) hold the student under 'model.' next to 'ema_model.', 'imnet_model.',
# 'mic.teacher.ema_model.' and 'model_D.*'; a segmentor is tested with the student only.
UDA_STUDENT_PREFIX = 'model.'


def revise_state_dict(state_dict, revise_keys=((r'^module\.', ''), )):
    """Apply the regex key revisions, then keep only the UDA student if the dict is a UDA one.

    The original revises with ('model.', ''); doing it by prefix instead drops the teacher and
    ImageNet copies (``ema_model.*``, ``imnet_model.*``, ...) rather than mangling their names.
    Returns ``(new_state_dict, dropped_keys)``.
    """
    revised = OrderedDict()
    for key, value in state_dict.items():
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    if not any(k.startswith(UDA_STUDENT_PREFIX) for k in revised):
        return revised, []
    student = OrderedDict((k[len(UDA_STUDENT_PREFIX):], v) for k, v in revised.items()
                          if k.startswith(UDA_STUDENT_PREFIX))
    dropped = [k for k in revised if not k.startswith(UDA_STUDENT_PREFIX)]
    return student, dropped


def load_segmentor_checkpoint(model, filename, map_location='cpu',
                              revise_keys=((r'^module\.', ''), ), trust=False):
    """Load ``filename`` into ``model`` (strict) after ``revise_state_dict``; return the checkpoint.

    Local files are read safely (mmseg.core.checkpoint.load_checkpoint_file; ``trust`` allows
    arbitrary pickled objects). Raises FileNotFoundError for a missing file, ValueError for a
    file that is not a checkpoint, UntrustedCheckpointError, and RuntimeError (naming the keys)
    for a checkpoint that does not fit the model.
    """
    if '://' in str(filename):
        checkpoint = CheckpointLoader.load_checkpoint(str(filename), map_location=map_location)
    else:
        checkpoint = load_checkpoint_file(filename, map_location=map_location, trust=trust)
    if not isinstance(checkpoint, dict):
        raise UserRuntimeError(f'{filename} holds a {type(checkpoint).__name__}, expected a dict '
                               "with a 'state_dict'")
    state_dict = checkpoint.get('state_dict', checkpoint)
    state_dict, _ = revise_state_dict(state_dict, revise_keys)
    check_state_dict_fits(model, state_dict, filename)
    model.load_state_dict(state_dict, strict=True)
    return checkpoint


def _resolve_device(device):
    if str(device).startswith('cuda') and not torch.cuda.is_available():
        warnings.warn(f'device {device} requested but no GPU is available: using the CPU')
        return 'cpu'
    return device


def init_segmentor(config, checkpoint=None, device='cuda:0', classes=None, palette=None,  # device-ok
                   revise_checkpoint=((r'^module\.', ''), )):
    """Build the segmentor of ``config`` (path or Config), load ``checkpoint``, eval mode.

    CLASSES/PALETTE come from the arguments, else (the palette) from the config's
    ``data.test.palette``, else from the checkpoint meta. The config is kept as ``model.cfg`` for
    ``inference_segmentor``.
    """
    if isinstance(config, str):
        config = mmcv.Config.fromfile(config)
    elif not isinstance(config, mmcv.Config):
        raise UserTypeError(f'config must be a file path or an mmcv.Config, got {type(config)}')
    config.model.pretrained = None
    config.model.train_cfg = None
    test_cfg = None if config.model.get('test_cfg') is not None else config.get('test_cfg')
    model = build_segmentor(config.model, test_cfg=test_cfg)
    if palette is None:  # a palette edited in the config wins over the checkpoint's
        palette = first_dataset_config((config.get('data') or {}).get('test')).get('palette')
    if checkpoint is not None:
        meta = load_segmentor_checkpoint(model, checkpoint,
                                         revise_keys=revise_checkpoint).get('meta', {})
        model.CLASSES = classes if classes is not None else meta.get('CLASSES')
        model.PALETTE = palette if palette is not None else meta.get('PALETTE')
    else:
        model.CLASSES, model.PALETTE = classes, palette
    model.cfg = config
    model.to(_resolve_device(device))
    model.eval()
    return model


class LoadImage:
    """First test transform for the API: takes a file path or a BGR uint8 array as ``img``."""

    def __call__(self, results):
        img = results['img']
        if isinstance(img, (str, bytes)) or hasattr(img, '__fspath__'):
            path = str(img)
            results['filename'] = results['ori_filename'] = path
            img = mmcv.imread(path)
            if img is None:
                raise UserFileNotFoundError(f'image file {path} not found or unreadable')
        else:
            results['filename'] = results['ori_filename'] = None
        results['img'] = img
        results['img_shape'] = results['ori_shape'] = img.shape
        return results


def inference_segmentor(model, img):
    """Predict one image (path or BGR H×W×3 array) through the config's test pipeline.

    Returns a list with one H×W label map (np.ndarray) at the image's original size.
    """
    cfg = model.cfg
    device = next(model.parameters()).device
    # The file loader of the config is replaced by LoadImage, which also takes arrays.
    # data.test may list several datasets (docs/evaluation.md): the first one's pipeline
    pipeline = first_dataset_config(cfg.data.test)['pipeline']
    transforms = [LoadImage()] + [build_from_cfg(t, PIPELINES) for t in pipeline
                                  if t['type'] != 'LoadImageFromFile']
    data = dict(img=img)
    for transform in transforms:
        data = transform(data)
    data = collate([data], samples_per_gpu=1)
    data['img'] = [t.to(device) for t in data['img']]
    data['img_metas'] = [dc.data[0] for dc in data['img_metas']]
    with torch.no_grad():
        result = model(return_loss=False, rescale=True, **data)
    return list(result) if isinstance(result, (list, tuple)) else [result]


def show_result_pyplot(model, img, result, palette=None, fig_size=(15, 10), opacity=0.5,
                       title='', block=True, out_file=None):
    """Show the prediction blended over ``img`` in a matplotlib figure (and optionally save it)."""
    import matplotlib.pyplot as plt
    segmentor = model.module if hasattr(model, 'module') else model
    if palette is None:
        palette = getattr(segmentor, 'PALETTE', None)
    drawn = segmentor.show_result(img, result, palette=palette, show=False, opacity=opacity)
    figure = plt.figure(figsize=fig_size)
    plt.imshow(mmcv.bgr2rgb(np.asarray(drawn)))
    plt.title(title)
    plt.axis('off')
    plt.tight_layout()
    if out_file is not None:
        figure.savefig(out_file)
    plt.show(block=block)
    return figure

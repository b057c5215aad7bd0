"""Helpers of the MIC(HRDA) integration tests: the released state-dict listing, checkpoints in
that layout, and MiT-B0 / toy-sized versions of the annotated MIC(HRDA) config."""
import math
import re
from collections import OrderedDict
from pathlib import Path

import torch
from mmcv import Config

__all__ = [
    'MIC_HRDA_CONFIG', 'UDA_PREFIXES', 'BN_BUFFER_SUFFIXES', 'read_released_layout',
    'count_parameters_of_layout', 'layout_checkpoint', 'write_b0_child_config',
    'make_toy_run_config'
]

REPO = Path(__file__).resolve().parents[2]
MIC_HRDA_CONFIG = REPO / 'configs' / 'mic' / 'gtaHR2csHR_mic_hrda.py'
# docs/REFERENCE.md §3.1: a MIC(HRDA) UDA checkpoint holds the segmentor three times.
UDA_PREFIXES = ('model.', 'ema_model.', 'imnet_model.')
BN_BUFFER_SUFFIXES = ('running_mean', 'running_var', 'num_batches_tracked')
_LISTING_LINE = re.compile(r'^(\S+) \(((?:\d+, )*\d+,?|)\)$')


def read_released_layout(path):
    """{key: shape} of a listing with one ``<key> (<d1>, <d2>, ...)`` line per tensor.

    Lines starting with '#' and blank lines are skipped; anything else that does not parse, and
    duplicated keys, raise a ValueError naming the file and line.
    """
    layout = OrderedDict()
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        match = _LISTING_LINE.match(line)
        if match is None:
            raise ValueError(f'{path}:{number}: expected "<key> (<shape>)", got {line!r}')
        key, dims = match.groups()
        if key in layout:
            raise ValueError(f'{path}:{number}: key {key} listed twice')
        layout[key] = tuple(int(d) for d in dims.split(',') if d.strip())
    return layout


def count_parameters_of_layout(layout):
    """Number of trainable values in a listing: every tensor but the BatchNorm buffers."""
    return sum(math.prod(shape) for key, shape in layout.items()
               if not key.endswith(BN_BUFFER_SUFFIXES))


def layout_checkpoint(layout, prefixes, meta=None):
    """A checkpoint dict ``{'state_dict', 'meta'}`` holding every key of ``layout`` under each
    prefix (prefix '' for a plain segmentor).

    Tensor number i of the listing under prefix number p is filled with ``1000 * p + i + 1``, so
    a loaded network tells which tensor went where. Each tensor is a stride-0 view of one number:
    torch.save stores a single value per tensor, and a checkpoint of MiT-B5 x3 stays tiny.
    """
    state_dict = OrderedDict()
    for p, prefix in enumerate(prefixes):
        for i, (key, shape) in enumerate(layout.items()):
            value = 1000 * p + i + 1
            dtype = torch.long if key.endswith('num_batches_tracked') else torch.float32
            state_dict[prefix + key] = torch.full((), value, dtype=dtype).expand(shape)
    return dict(state_dict=state_dict, meta=dict(meta or {}))


def write_b0_child_config(path, narrow_decoder=False):
    """A child config of the annotated MIC(HRDA) file with a MiT-B0 encoder and no pretrained
    weights. ``narrow_decoder`` also shrinks the decoders to 16 channels (CPU-sized tests on
    2048x1024 frames)."""
    decode_head = dict(in_channels=[32, 64, 160, 256])
    if narrow_decoder:
        decode_head.update(channels=16, attention_embed_dim=16,
                           decoder_params=dict(embed_dims=16))
    model = dict(pretrained=None, backbone=dict(type='mit_b0'), decode_head=decode_head)
    Path(path).write_text(f'_base_ = [{str(MIC_HRDA_CONFIG)!r}]\nmodel = {model!r}\n')
    return Path(path)


def _shrink_pipeline(pipeline, img_scale, crop_size):
    for step in pipeline:
        if step['type'] in ('Resize', 'MultiScaleFlipAug') and 'img_scale' in step:
            step['img_scale'] = img_scale
        if step['type'] == 'RandomCrop':
            step['crop_size'] = crop_size
        if step['type'] == 'Pad':
            step['size'] = crop_size


def make_toy_run_config(b0_config, toy_root, out_path):
    """The MiT-B0 MIC(HRDA) config scaled to the toy data (128x64 frames): 64x64 crops,
    32x32 detail crops, 64x64 test windows with stride 32, 16 px mask blocks, no loader workers,
    2 iterations with a checkpoint at 2. Written (merged, without _base_) to ``out_path``."""
    cfg = Config.fromfile(str(b0_config))
    toy_root = Path(toy_root)
    frame, crop = (128, 64), (64, 64)
    train = cfg.data.train
    train.source.data_root = str(toy_root / 'gta')
    train.target.data_root = str(toy_root / 'cityscapes')
    _shrink_pipeline(train.source.pipeline, frame, crop)
    _shrink_pipeline(train.target.pipeline, frame, crop)
    for split in ('val', 'test'):
        cfg.data[split].data_root = str(toy_root / 'cityscapes')
        _shrink_pipeline(cfg.data[split].pipeline, frame, crop)
    # The original margins (30 top, 240 bottom) would cover a whole 64 px high frame.
    train.target.crop_pseudo_margins = [2, 8, 2, 2]
    # A toy label has a few hundred pixels of a class, a GTA frame thousands.
    train.rare_class_sampling.min_pixels = 10
    cfg.data.workers_per_gpu = 0
    cfg.model.hr_crop_size = (32, 32)
    cfg.model.test_cfg.crop_size = [64, 64]
    cfg.model.test_cfg.stride = [32, 32]
    cfg.uda.mask_generator.mask_block_size = 16
    cfg.runner.max_iters = 2
    cfg.checkpoint_config.interval = 2
    cfg.evaluation.interval = 2
    cfg.log_config.interval = 1
    cfg.lr_config.warmup_iters = 1
    cfg.dump(str(out_path))
    return Path(out_path)

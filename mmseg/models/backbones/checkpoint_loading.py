"""Loading ImageNet-pretrained weights into a backbone, with checks that name what does not fit."""
import os
import warnings

import torch

from mmseg.utils.errors import UserFileNotFoundError, UserInputError

__all__ = ['read_state_dict', 'load_pretrained_weights', 'load_state_dict_checked',
           'resolve_pretrained_path', 'load_backbone_pretrained']

WEIGHTS_HINT = 'see README section "Datasets and weights"'
# The original names ImageNet weights by open-mmlab:// URLs; nothing is downloaded here, the files
# are read from pretrained/.
OPEN_MMLAB_WEIGHTS = {
    'open-mmlab://resnet50_v1c': 'pretrained/resnet50_v1c.pth',
    'open-mmlab://resnet101_v1c': 'pretrained/resnet101_v1c.pth',
}


def resolve_pretrained_path(pretrained):
    """Map an ``open-mmlab://`` name to its local file under pretrained/; paths pass through."""
    if isinstance(pretrained, str) and pretrained.startswith('open-mmlab://'):
        if pretrained not in OPEN_MMLAB_WEIGHTS:
            raise ValueError(f'unknown pretrained name {pretrained}; known: '
                             f'{", ".join(OPEN_MMLAB_WEIGHTS)}, or give a file path')
        return OPEN_MMLAB_WEIGHTS[pretrained]
    return os.fspath(pretrained)


def read_state_dict(path, download_hint):
    """Read a checkpoint file and return its plain state dict (unwrapping 'state_dict'/'model').

    A missing file raises FileNotFoundError naming the path and ``download_hint``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserFileNotFoundError(f'pretrained weights {path} not found: {download_hint} '
                                f'({WEIGHTS_HINT})')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception:  # mmcv-style checkpoints may carry non-tensor metadata
        checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    if not isinstance(checkpoint, dict):
        raise UserInputError(f'{path}: expected a dict of tensors (or a dict with key '
                         f'"state_dict" or "model"), got {type(checkpoint).__name__}')
    for wrapper_key in ('state_dict', 'model'):
        if wrapper_key in checkpoint and isinstance(checkpoint[wrapper_key], dict):
            checkpoint = checkpoint[wrapper_key]
            break
    # Weights saved from a DataParallel/segmentor wrapper.
    if checkpoint and all(k.startswith('module.') for k in checkpoint):
        checkpoint = {k[len('module.'):]: v for k, v in checkpoint.items()}
    # A whole segmentor checkpoint: its backbone.* part is what a backbone loads.
    if any(k.startswith('backbone.') for k in checkpoint):
        checkpoint = {k[len('backbone.'):]: v for k, v in checkpoint.items()
                      if k.startswith('backbone.')}
    return checkpoint


def load_pretrained_weights(module, path, download_hint, ignored_prefixes=()):
    """Load ``path`` into ``module``; keys starting with ``ignored_prefixes`` are dropped.

    Any other missing or unexpected key, or a shape mismatch, raises a ValueError listing them.
    Returns the list of dropped keys.
    """
    state_dict = read_state_dict(path, download_hint)
    return load_state_dict_checked(module, state_dict, path, ignored_prefixes)


def load_state_dict_checked(module, state_dict, source, ignored_prefixes=()):
    """Load ``state_dict`` into ``module``, dropping keys that start with ``ignored_prefixes``.

    Any other missing or unexpected key, or a shape mismatch, raises a ValueError naming
    ``source`` (the file) and listing them. Returns the list of dropped keys.
    """
    dropped = [k for k in state_dict if k.startswith(tuple(ignored_prefixes))]
    state_dict = {k: v for k, v in state_dict.items() if k not in dropped}
    own = module.state_dict()
    # BatchNorm step counters are absent from older ImageNet checkpoints and are not weights.
    missing = sorted(k for k in set(own) - set(state_dict)
                     if not k.endswith('num_batches_tracked'))
    unexpected = sorted(set(state_dict) - set(own))
    mismatched = [f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}'
                  for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        problems = []
        for title, items in (('missing keys', missing), ('unexpected keys', unexpected),
                             ('shape mismatches', mismatched)):
            if items:
                shown = ', '.join(items[:20]) + (f', ... ({len(items)} in all)'
                                                 if len(items) > 20 else '')
                problems.append(f'{title}: {shown}')
        raise UserInputError(f'{source} does not fit {type(module).__name__}: '
                             + '; '.join(problems))
    module.load_state_dict(state_dict, strict=not any(
        k.endswith('num_batches_tracked') for k in set(own) - set(state_dict)))
    if dropped:
        warnings.warn(f'{source}: ignored {len(dropped)} keys not used by the backbone '
                      f'({", ".join(dropped[:5])})')
    return dropped


def load_backbone_pretrained(backbone, pretrained):
    """The segmentor's ``pretrained`` into its backbone: the backbone's own ``load_pretrained``
    when it has one (MiT, ResNet), else a strict load that ignores ImageNet classifier keys."""
    if hasattr(backbone, 'load_pretrained'):
        return backbone.load_pretrained(pretrained)
    return load_pretrained_weights(backbone, resolve_pretrained_path(pretrained),
                                   f'place the ImageNet weights of {type(backbone).__name__} there',
                                   ignored_prefixes=('head.', 'fc.'))

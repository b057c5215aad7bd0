"""Vision foundation models (DINOv2, EVA02 ViTs) from timm as a backbone of the segmentors.

The wrapped timm ViT returns the tokens of the taken blocks as maps on its patch grid; a
``MultiLevelNeck`` (mmseg/models/necks/) resamples them to the strides 4, 8, 16 and 32 that the
DAFormer, SegFormer and HRDA heads expect (docs/config.md, "Foundation-model encoders").
"""
import os

import timm
import torch.nn as nn
from mmcv.runner import BaseModule

from ..builder import BACKBONES
from .checkpoint_loading import load_state_dict_checked, read_state_dict
from .dinov2_conversion import convert_to_timm_layout

__all__ = ['TIMMBackbone', 'PatchGridFeatures', 'read_weights_file']

TIMM_DOWNLOAD_HINT = ('save the timm or HuggingFace weights of the model to this path, or '
                      'convert them with tools/convert_weights/dinov2_hf2timm.py')
# Parts of a timm ViT that come before the blocks: frozen as "stage 0" by frozen_stages.
STEM_NAMES = ('patch_embed', 'cls_token', 'reg_token', 'pos_embed', 'rope', 'norm_pre',
              'patch_drop')
# Checkpoint keys that a segmentation backbone does not use (timm's and HuggingFace's classifiers,
# DINOv2's mask token).
IGNORED_PREFIXES = ('head.', 'fc_norm.', 'mask_token', 'head_drop.', 'classifier.')


class PatchGridFeatures(list):
    """The backbone's list of B×C×h×w maps on the patch grid of the padded input.

    ``image_size`` is the (H, W) of the input before padding and ``patch_size`` the pixels of a
    grid cell, so that a neck can crop its outputs back to the unpadded image.
    """

    def __init__(self, maps, image_size, patch_size):
        super().__init__(maps)
        self.image_size = tuple(image_size)
        self.patch_size = patch_size


@BACKBONES.register_module()
class TIMMBackbone(BaseModule):
    """A timm ViT (``vit_*_patch14_dinov2``, ``*_reg4_dinov2``, ``eva02_*_patch14_*``, ...).

    Input: B×3×H×W (any H, W: zero-padded at the bottom/right to a multiple of the patch size p).
    Output: a :class:`PatchGridFeatures` list with one B×C×ceil(H/p)×ceil(W/p) map per entry of
    ``out_indices`` (block indices, negative from the end), the class/register tokens dropped;
    equal to timm's ``forward_intermediates(..., output_fmt='NCHW')`` of the padded input.
    Models: DINOv2 (Oquab et al., arXiv 2304.07193; registers: Darcet et al., arXiv 2309.16588),
    EVA-02 (Fang et al., arXiv 2303.11331), as implemented by timm.

    Args:
        model_name (str): timm model name.
        out_indices (Sequence[int]): blocks whose outputs are returned.
        pretrained (bool): timm's own download of the weights (needs internet).
        checkpoint_path (str | None): local weights, timm or HuggingFace ``facebook/dinov2-*``
            layout; keys that do not fit raise a ValueError listing them.
        norm (bool): apply the model's final LayerNorm to every taken output (as DINOv2's dense
            heads do).
        with_cp (bool): gradient checkpointing of the blocks (less memory; each block's forward
            runs again in the backward pass).
        frozen_stages (int): -1 trains everything; 0 freezes the patch embedding, position
            embedding and class/register tokens; n > 0 also freezes blocks 0..n-1.
        **model_kwargs: passed to ``timm.create_model`` (e.g. ``embed_dim``, ``depth``,
            ``num_heads`` for tiny test models, ``drop_path_rate``).

    Raises:
        ValueError: unknown model name, out_indices outside the blocks or not increasing, bad
            frozen_stages.
    """

    def __init__(self, model_name, out_indices=(-1, ), pretrained=False, checkpoint_path=None,
                 norm=False, with_cp=False, frozen_stages=-1, init_cfg=None, **model_kwargs):
        super().__init__(init_cfg)
        if not timm.is_model(model_name):
            raise ValueError(f'TIMMBackbone: unknown timm model_name {model_name!r} (e.g. '
                             f'vit_base_patch14_dinov2, eva02_base_patch14_448)')
        model_kwargs = dict(dict(num_classes=0, dynamic_img_size=True, dynamic_img_pad=True),
                            **model_kwargs)
        self.timm_model = timm.create_model(model_name, pretrained=pretrained, **model_kwargs)
        num_blocks = len(self.timm_model.blocks)
        self.out_indices = [self._check_index(i, num_blocks) for i in out_indices]
        if any(a >= b for a, b in zip(self.out_indices, self.out_indices[1:])):
            # timm returns each block once, in block order.
            raise ValueError(f'TIMMBackbone: out_indices must be increasing block indices '
                             f'without repeats, got {list(out_indices)}')
        if not -1 <= frozen_stages <= num_blocks:
            raise ValueError(f'TIMMBackbone: frozen_stages must be in [-1, {num_blocks}], got '
                             f'{frozen_stages}')
        self.model_name = model_name
        self.checkpoint_path = checkpoint_path
        self.norm = norm
        self.frozen_stages = frozen_stages
        self.patch_size = self.timm_model.patch_embed.patch_size[0]
        self.embed_dim = self.timm_model.embed_dim
        self.timm_model.set_grad_checkpointing(with_cp)
        if checkpoint_path:
            self.load_pretrained(checkpoint_path)
        self._freeze_stages()

    @staticmethod
    def _check_index(index, num_blocks):
        if not -num_blocks <= index < num_blocks:
            raise ValueError(f'TIMMBackbone: out_indices entry {index} outside the '
                             f'{num_blocks} blocks of the model')
        return index % num_blocks

    def init_weights(self):
        """Keep timm's initialisation (or the checkpoint): mmcv would otherwise call the timm
        model's own ``init_weights`` and draw fresh weights over loaded ones."""
        if self.checkpoint_path:
            self.load_pretrained(self.checkpoint_path)

    def load_pretrained(self, path):
        """Load ``path`` (timm or HuggingFace DINOv2 layout) into the timm model.

        Classifier and mask-token keys are dropped; other missing/unexpected keys or shape
        mismatches raise a ValueError listing them. Returns the dropped keys.
        """
        state_dict = read_weights_file(path)
        if any(k.startswith('timm_model.') for k in state_dict):
            state_dict = {k[len('timm_model.'):]: v for k, v in state_dict.items()
                          if k.startswith('timm_model.')}
        state_dict = convert_to_timm_layout(state_dict)
        return load_state_dict_checked(self.timm_model, state_dict, path, IGNORED_PREFIXES)

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        for module in self._frozen_modules():
            module.eval()
        for name, param in self.timm_model.named_parameters():
            if self._is_frozen(name):
                param.requires_grad = False

    def _is_frozen(self, param_name):
        if param_name.startswith(STEM_NAMES):
            return True
        if param_name.startswith('blocks.'):
            return int(param_name.split('.')[1]) < self.frozen_stages
        return False

    def _frozen_modules(self):
        model = self.timm_model
        modules = [getattr(model, n) for n in STEM_NAMES if isinstance(getattr(model, n, None),
                                                                        nn.Module)]
        return modules + list(model.blocks[:self.frozen_stages])

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()  # frozen parts stay in eval mode (no dropout / drop path)
        return self

    def forward(self, x):
        """Maps of the taken blocks on the patch grid; see the class docstring for shapes."""
        maps = self.timm_model.forward_intermediates(
            x, indices=self.out_indices, norm=self.norm, stop_early=True, output_fmt='NCHW',
            intermediates_only=True)
        return PatchGridFeatures(maps, x.shape[2:], self.patch_size)


def read_weights_file(path):
    """State dict of a ``.pth``/``.bin`` checkpoint or a ``.safetensors`` file (HuggingFace's).

    Raises FileNotFoundError naming the path and how to get the weights.
    """
    path = os.fspath(path)
    if not path.endswith('.safetensors'):
        return read_state_dict(path, TIMM_DOWNLOAD_HINT)
    if not os.path.isfile(path):
        from mmseg.utils.errors import UserFileNotFoundError
        raise UserFileNotFoundError(f'pretrained weights {path} not found: {TIMM_DOWNLOAD_HINT} '
                                f'(see docs/config.md, "Foundation-model encoders")')
    from safetensors.torch import load_file
    return load_file(path)

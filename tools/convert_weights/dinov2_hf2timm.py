"""Convert DINOv2 weights (HuggingFace ``facebook/dinov2-*`` or torch hub) to timm's layout.

Usage:
    python tools/convert_weights/dinov2_hf2timm.py SRC DST [--model-name vit_base_patch14_dinov2]

SRC is a HuggingFace model folder (model.safetensors or pytorch_model.bin), or one weights file
(.safetensors, .bin, .pth). DST is a .pth file with timm's keys, which TIMMBackbone's
``checkpoint_path`` loads as it is (it also converts HuggingFace files on load; converting once
saves the work at every start). With ``--model-name`` the result is checked against that timm
model: missing/unexpected keys and shape mismatches are listed and nothing is written.
"""
import argparse
import os
import os.path as osp
import sys

import torch

if __package__ in (None, ''):  # run as a script: make ``mmseg`` and ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg.models.backbones.checkpoint_loading import load_state_dict_checked  # noqa: E402
from mmseg.utils.errors import UserFileNotFoundError, run_cli  # noqa: E402
from mmseg.models.backbones.dinov2_conversion import convert_to_timm_layout  # noqa: E402
from mmseg.models.backbones.timm_backbone import IGNORED_PREFIXES, read_weights_file  # noqa: E402

__all__ = ['find_weights_file', 'convert', 'parse_args', 'main']

HF_FILE_NAMES = ('model.safetensors', 'pytorch_model.bin')


def find_weights_file(src):
    """The weights file of ``src`` (a file, or a HuggingFace model folder).

    Raises UserFileNotFoundError (a FileNotFoundError) naming what was looked for.
    """
    if osp.isfile(src):
        return src
    if osp.isdir(src):
        for name in HF_FILE_NAMES:
            if osp.isfile(osp.join(src, name)):
                return osp.join(src, name)
        raise UserFileNotFoundError(f'{src} holds none of {", ".join(HF_FILE_NAMES)}: download '
                                    f'the whole facebook/dinov2-* model folder')
    raise UserFileNotFoundError(f'{src} not found: give a HuggingFace model folder or a weights '
                                f'file')


def convert(src, dst, model_name=None):
    """Convert ``src`` to timm's layout and save it to ``dst``; returns the state dict.

    With ``model_name`` (a timm model) the result must fit that model exactly (classifier and
    mask-token keys aside), else UserInputError (a ValueError) lists the keys and nothing is
    written.
    """
    state_dict = convert_to_timm_layout(read_weights_file(find_weights_file(src)))
    if model_name is not None:
        import timm
        model = timm.create_model(model_name, pretrained=False, num_classes=0)
        load_state_dict_checked(model, dict(state_dict), src, IGNORED_PREFIXES)
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith(IGNORED_PREFIXES)}
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(state_dict, dst)
    return state_dict


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='HuggingFace model folder or weights file')
    parser.add_argument('dst', help='output .pth file (timm layout)')
    parser.add_argument('--model-name', default=None,
                        help='timm model to check the result against, e.g. '
                             'vit_base_patch14_dinov2, vit_large_patch14_reg4_dinov2')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    state_dict = convert(args.src, args.dst, args.model_name)
    print(f'wrote {len(state_dict)} tensors in timm layout to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'convert'))

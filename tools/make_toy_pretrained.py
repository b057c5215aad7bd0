"""Warm start of the toy runs: a tiny MiT pre-trained on toy GTA, standing in for ImageNet weights.

Usage: python tools/make_toy_pretrained.py [--out data/toy/mittiny_toygta.pth]
       [--work-dir work_dirs/toy_pretrain] [--force]

The real runs start from SegFormer's ImageNet-pretrained MiT-B5. The toy MiT has no such weights,
and from scratch it learns only a few classes in a 400-iteration run: too weak a start for
self-training (its pseudo-labels are wrong or unconfident). This trains
configs/toy/toy_pretrain_mittiny.py (the toy source-only setting from scratch, 800 iterations on
toy GTA, seed 0, no validation) and keeps only the backbone's weights, as a plain dict of tensors
like an ImageNet checkpoint. Every toy MiT run (experiments.py toy ids 1-5 and 7, configs/toy/)
loads them as ``model.pretrained`` and trains its decode head from scratch; source-only and the
oracle start from them too, so the comparison stays fair. Toy GTA only: no target image is seen.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmseg.core.checkpoint import load_checkpoint_file  # noqa: E402
from mmseg.utils.errors import UserInputError, run_cli  # noqa: E402

__all__ = ['PRETRAIN_CONFIG', 'DEFAULT_OUT', 'backbone_state_dict', 'make_toy_pretrained',
           'main']

PRETRAIN_CONFIG = 'configs/toy/toy_pretrain_mittiny.py'
DEFAULT_OUT = 'data/toy/mittiny_toygta.pth'


def backbone_state_dict(checkpoint_path):
    """The ``backbone.*`` weights of a segmentor checkpoint, prefix removed (name -> tensor).

    Raises UserInputError (a ValueError) when the checkpoint holds no backbone weights.
    """
    checkpoint = load_checkpoint_file(checkpoint_path)  # the safe (weights-only) load
    state_dict = checkpoint.get('state_dict', checkpoint)
    backbone = {k[len('backbone.'):]: v.clone() for k, v in state_dict.items()
                if k.startswith('backbone.')}
    if not backbone:
        raise UserInputError(f'{checkpoint_path} holds no backbone.* weights')
    return backbone


def make_toy_pretrained(out=DEFAULT_OUT, work_dir='work_dirs/toy_pretrain', force=False,
                        extra_options=()):
    """Train the pre-training config into ``work_dir`` and write its backbone to ``out``.

    Paths are relative to the current folder. Nothing is trained when ``out`` exists and
    ``force`` is false. ``extra_options``: KEY=VALUE overrides for tools/train.py (tests use
    them to shorten the run). Returns ``out``. Raises UserFileNotFoundError when the toy data
    are missing, RuntimeError when training fails.
    """
    if osp.exists(out) and not force:
        return out
    _check_toy_data(extra_options)
    cmd = [sys.executable, '-m', 'tools.train', osp.join(REPO, PRETRAIN_CONFIG),
           '--work-dir', work_dir, '--seed', '0', '--no-validate']
    if extra_options:
        cmd += ['--options', *extra_options]
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO, env.get('PYTHONPATH')) if p)
    status = subprocess.run(cmd, env=env).returncode
    if status != 0:
        raise RuntimeError(f'pre-training failed (exit status {status}); see the log in '
                           f'{work_dir}')
    os.makedirs(osp.dirname(out) or '.', exist_ok=True)
    torch.save(backbone_state_dict(osp.join(work_dir, 'latest.pth')), out)
    return out


def _check_toy_data(extra_options):
    """The pre-training data must exist (relative to the current folder, as for training)."""
    from mmcv import Config

    from mmseg.utils.config_args import parse_cfg_options
    from mmseg.utils.errors import UserFileNotFoundError
    from tools.train import find_missing_inputs
    cfg = Config.fromfile(osp.join(REPO, PRETRAIN_CONFIG))
    cfg.merge_from_dict(parse_cfg_options(extra_options))
    missing = find_missing_inputs(cfg)
    if missing:
        raise UserFileNotFoundError(f'{", ".join(missing)} not found (in {os.getcwd()}): make '
                                    f'the toy data first, python tools/make_toy_data.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=DEFAULT_OUT, help='backbone weights file to write')
    parser.add_argument('--work-dir', default='work_dirs/toy_pretrain',
                        help='folder of the pre-training run (log and checkpoint)')
    parser.add_argument('--force', action='store_true', help='train again even if --out exists')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    existed = osp.exists(args.out)
    try:
        out = make_toy_pretrained(args.out, args.work_dir, args.force)
    except RuntimeError as exc:
        raise SystemExit(f'error: {exc}') from None
    if existed and not args.force:
        print(f'{out} exists (use --force to train it again)')
    else:
        print(f'toy warm start written: {out}')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'make the toy warm start'))

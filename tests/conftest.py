"""Fixtures shared by the whole suite: paths, the real demo frame, and tiny generated datasets."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / 'shared'
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def repo_root():
    return REPO


@pytest.fixture(scope='session')
def shared_data():
    path = SHARED / 'data'
    if not path.is_dir():
        pytest.skip(f'{path} not found (the shared data folder beside the repo)')
    return path


@pytest.fixture(scope='session')
def toy_data_root(tmp_path_factory):
    """Tiny toy GTA + Cityscapes in the real layouts, converted (train IDs and RCS statistics).

    Layout: <root>/gta/{images,labels}, <root>/cityscapes/{leftImg8bit,gtFine}/{train,val}/<city>.
    """
    from tools.make_toy_data import generate_toy_data
    root = tmp_path_factory.mktemp('toy')
    generate_toy_data(root, num_source=6, num_target_train=4, num_target_val=3,
                      size=(128, 64), seed=0, convert=True)
    # The toy configs warm-start their tiny MiT from <root>/mittiny_toygta.pth (made by
    # tools/make_toy_pretrained.py); tests get random weights of that shape instead.
    import torch

    from mmseg.models.backbones import MixVisionTransformer
    torch.manual_seed(0)
    backbone = MixVisionTransformer(embed_dims=[16, 32, 64, 128], num_heads=[1, 1, 2, 4],
                                    depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1])
    torch.save(backbone.state_dict(), root / 'mittiny_toygta.pth')
    return root

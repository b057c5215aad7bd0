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


@pytest.fixture
def single_torch_thread():
    """One intra-op torch thread during the test, as in the subprocesses started with
    OMP_NUM_THREADS=1: in-process results then match theirs bit for bit (same summation order),
    and tiny networks run faster than with a pool competing for the shared cores."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope='session')
def memoized_config_formatting():
    """mmcv's Config.pretty_text formats its text with yapf, about 2 s for a UDA config on a
    small CPU, and one training run asks for the same text four times (the dumped config, the
    log, the run's meta and the checkpoint's meta). In this process the yapf call is memoized on
    its exact input text and style: every caller still gets yapf's own output, once computed.
    Subprocesses (the CLI tests) are unaffected."""
    import mmcv.utils.config as mmcv_config
    format_code = mmcv_config.FormatCode
    results = {}

    def memoized(text, style_config=None, **kwargs):
        key = (text, repr(style_config), repr(sorted(kwargs.items())))
        if key not in results:
            if len(results) >= 256:
                results.clear()
            results[key] = format_code(text, style_config=style_config, **kwargs)
        return results[key]

    mmcv_config.FormatCode = memoized
    yield
    mmcv_config.FormatCode = format_code


@pytest.fixture(scope='session')
def toy_new_datasets(tmp_path_factory):
    """The eight datasets of docs/dataset_prepare.md as toys (tools/toy_datasets.py, 2 images
    per split, 128×64): ``raw/<name>`` in the released layout, ``converted/<name>`` after the
    converter. Returns dict(raw=Path, converted=Path)."""
    from tools.toy_datasets import TOY_DATASETS, generate_toy_dataset
    root = tmp_path_factory.mktemp('toy_new_datasets')
    for name in TOY_DATASETS:
        for kind, convert in (('raw', False), ('converted', True)):
            generate_toy_dataset(name, root / kind / name, num_images=2, size=(128, 64),
                                 seed=1, convert=convert)
    return dict(raw=root / 'raw', converted=root / 'converted')

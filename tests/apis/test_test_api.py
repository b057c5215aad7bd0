"""single_gpu_test / multi_gpu_test: order of results, efficient_test files, --show-dir drawing."""
import os.path as osp
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
from mmcv.parallel import DataContainer, MMDataParallel, collate
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmseg.apis import multi_gpu_test, np2tmp, single_gpu_test

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


class TestPipelineOutput(Dataset):
    """Items shaped like the test pipeline's: a list over augmentations of img and img_metas.

    Image i is a random 5×7 BGR image, normalised (to RGB), padded to 8×8.
    """

    PALETTE = [[0, 0, 0], [255, 0, 0]]

    def __init__(self, length=3):
        rng = np.random.RandomState(0)
        self.images = [rng.randint(0, 256, (5, 7, 3)).astype(np.uint8) for _ in range(length)]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        rgb = self.images[idx][..., ::-1].astype(np.float32)
        padded = np.zeros((8, 8, 3), dtype=np.float32)
        padded[:5, :7] = (rgb - MEAN) / STD
        meta = dict(ori_filename=f'city/img{idx}.png', ori_shape=(5, 7, 3), img_shape=(5, 7, 3),
                    pad_shape=(8, 8, 3),
                    img_norm_cfg=dict(mean=MEAN, std=STD, to_rgb=True))
        return dict(img=[torch.from_numpy(padded.transpose(2, 0, 1).copy())],
                    img_metas=[DataContainer(meta, cpu_only=True)])


class IndexPainter(nn.Module):
    """Predicts the image's index (read from ori_filename) everywhere; records show_result."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.shown = []

    def forward(self, img, img_metas, return_loss=True, **kwargs):
        assert not return_loss and kwargs == dict(rescale=True)
        return [np.full((5, 7), int(m['ori_filename'][-5]), dtype=np.int64)
                for m in img_metas[0]]

    def show_result(self, img, result, palette=None, show=False, out_file=None, opacity=0.5):
        self.shown.append((img, result, palette, out_file, opacity))


def _loader(length=3, batch=1):
    return DataLoader(TestPipelineOutput(length), batch_size=batch,
                      collate_fn=lambda items: collate(items, samples_per_gpu=batch))


def test_single_gpu_test_returns_one_map_per_image_in_order():
    results = single_gpu_test(MMDataParallel(IndexPainter()), _loader(3))
    assert [int(r[0, 0]) for r in results] == [0, 1, 2]


def test_efficient_test_returns_npy_files_with_the_predictions():
    paths = single_gpu_test(MMDataParallel(IndexPainter()), _loader(3), efficient_test=True)
    assert all(p.endswith('.npy') and osp.isfile(p) for p in paths)
    assert [np.load(p)[0, 0] for p in paths] == [0, 1, 2]


def test_np2tmp_round_trip(tmp_path):
    array = np.arange(6).reshape(2, 3)
    path = np2tmp(array, tmpdir=str(tmp_path))
    assert osp.dirname(path) == str(tmp_path)
    assert np.array_equal(np.load(path), array)


def test_show_dir_draws_the_unpadded_original_image(tmp_path):
    model = IndexPainter()
    single_gpu_test(MMDataParallel(model), _loader(2), out_dir=str(tmp_path), opacity=0.7)
    originals = TestPipelineOutput(2).images
    assert len(model.shown) == 2
    for idx, (img, result, palette, out_file, opacity) in enumerate(model.shown):
        # De-normalised back to the BGR input (up to rounding), padding cut off.
        assert img.shape == (5, 7, 3)
        assert np.abs(img.astype(int) - originals[idx].astype(int)).max() <= 1
        assert int(result[0][0, 0]) == idx
        assert out_file == osp.join(str(tmp_path), f'city/img{idx}.png')
        assert palette == TestPipelineOutput.PALETTE and opacity == 0.7


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('efficient_test', [False, True])
def test_multi_gpu_test_collects_through_tmpdir(tmp_path, efficient_test):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{_free_port()}', rank=0,
                            world_size=1)
    try:
        results = multi_gpu_test(MMDataParallel(IndexPainter()), _loader(3),
                                 tmpdir=str(tmp_path / 'collect'),
                                 efficient_test=efficient_test)
    finally:
        dist.destroy_process_group()
    values = [np.load(r) if efficient_test else r for r in results]
    assert [int(v[0, 0]) for v in values] == [0, 1, 2]


def test_format_only_without_prefix_writes_beside_the_checkpoint(tmp_path):
    """tools/test.py --format-only with no imgfile_prefix: the PNGs go to <ckpt dir>/format_results."""
    from types import SimpleNamespace

    from tools.test import _report

    calls = []

    class RecordingDataset:
        def format_results(self, results, **kwargs):
            calls.append((results, kwargs))

    args = SimpleNamespace(out=None, eval_options=None, format_only=True, eval=None,
                           checkpoint=str(tmp_path / 'run' / 'latest.pth'))
    _report(args, RecordingDataset(), ['pred'])
    assert calls == [(['pred'], dict(imgfile_prefix=str(tmp_path / 'run' / 'format_results')))]
    args.eval_options = dict(imgfile_prefix='labelTrainIds', to_label_id=False)
    _report(args, RecordingDataset(), ['pred'])
    assert calls[-1][1] == dict(imgfile_prefix='labelTrainIds', to_label_id=False)


def test_progress_bar_ends_its_line(monkeypatch):
    """Tables printed after the test loop start on a new line (not 'ETA: 0sper class')."""
    import io

    import mmcv
    stream = io.StringIO()

    class Bar(mmcv.ProgressBar):
        def __init__(self, task_num):
            super().__init__(task_num, file=stream)

    monkeypatch.setattr(mmcv, 'ProgressBar', Bar)
    single_gpu_test(MMDataParallel(IndexPainter()), _loader(2))
    out = stream.getvalue()
    assert out.endswith('\n') and '2/2' in out.splitlines()[-1]

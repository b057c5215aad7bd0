"""MIC(HRDA) end to end (docs/REFERENCE.md §4, §6, §A): the annotated config builds the original network
and UDA checkpoint layout, released checkpoints load, a MiT-B0 version predicts a real frame,
trains on toy data and is tested with --hrda-out, and a newcomer without data gets one message."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hrda_helpers import (MIC_HRDA_CONFIG, UDA_PREFIXES, count_parameters_of_layout,
                          layout_checkpoint, make_toy_run_config, read_released_layout,
                          write_b0_child_config)
from mmcv import Config
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
RELEASED_KEYS_FILE = 'hrda_daformer_sepaspp_mitb5_state_dict.txt'
HRDA_MITB5_PARAMETERS = 85_685_990  # docs/REFERENCE.md §2.2
CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
           'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck',
           'bus', 'train', 'motorcycle', 'bicycle')


@pytest.fixture(scope='module')
def released_layout(shared_data):
    return read_released_layout(shared_data / RELEASED_KEYS_FILE)


def _mic_hrda_cfg():
    cfg = Config.fromfile(str(MIC_HRDA_CONFIG))
    cfg.model.pretrained = None
    return cfg


def _shapes(state_dict, prefix=''):
    return {k[len(prefix):]: tuple(v.shape) for k, v in state_dict.items()
            if k.startswith(prefix)}


def _run(argv, cwd=REPO, check=True):
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH=str(REPO))
    out = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                         env=env, timeout=300)
    if check:
        assert out.returncode == 0, f'{argv} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}'
    return out


# ----------------------------------------------------------------------------- released layout
def test_released_listing_is_the_hrda_mitb5_network(released_layout):
    # The listing itself (Appendix A): 1,126 tensors whose weights add up to docs/REFERENCE.md §2.2's count.
    assert len(released_layout) == 1126
    assert count_parameters_of_layout(released_layout) == HRDA_MITB5_PARAMETERS
    assert released_layout['backbone.block1.0.attn.sr.weight'] == (64, 64, 8, 8)
    assert released_layout['decode_head.head.fuse_layer.aspp_modules.0.bn.'
                           'num_batches_tracked'] == ()
    assert released_layout['decode_head.scale_attention.fuse_layer.conv.weight'] == (
        256, 1024, 1, 1)
    assert 'backbone.block4.0.attn.sr.weight' not in released_layout  # sr ratio 1


def test_released_checkpoint_does_not_fit_a_mitb0_config(released_layout, tmp_path):
    from mmseg.apis import load_segmentor_checkpoint
    from mmseg.models import build_segmentor
    cfg = Config.fromfile(str(write_b0_child_config(tmp_path / 'b0.py')))
    model = build_segmentor(cfg.model)
    path = tmp_path / 'released.pth'
    torch.save(layout_checkpoint(released_layout, UDA_PREFIXES), path)
    with pytest.raises(RuntimeError) as error:
        load_segmentor_checkpoint(model, str(path))
    message = str(error.value)
    assert str(path) in message
    # MiT-B5 has 3 blocks in stage 1 where MiT-B0 has 2, and 64 instead of 32 channels.
    assert 'unexpected keys: backbone.block1.2.' in message
    assert 'backbone.patch_embed1.proj.weight: checkpoint (64, 3, 7, 7) vs model ' \
           '(32, 3, 7, 7)' in message


@pytest.fixture(scope='module')
def mitb5_segmentor():
    from mmseg.models import build_segmentor
    torch.manual_seed(0)
    return build_segmentor(_mic_hrda_cfg().model)


def test_segmentor_of_the_config_has_the_released_keys_and_shapes(mitb5_segmentor,
                                                                  released_layout):
    assert type(mitb5_segmentor).__name__ == 'HRDAEncoderDecoder'
    assert sum(p.numel() for p in mitb5_segmentor.parameters()) == HRDA_MITB5_PARAMETERS
    assert _shapes(mitb5_segmentor.state_dict()) == dict(released_layout)


@pytest.mark.slow
def test_uda_wrapper_holds_student_teacher_and_imagenet_copies(released_layout):
    from mmseg.models import build_train_model
    wrapper = build_train_model(_mic_hrda_cfg())  # MiT-B5 three times: built once
    assert type(wrapper).__name__ == 'DACS'
    state = wrapper.state_dict()
    assert len(state) == 3 * 1126 == 3378
    for prefix in UDA_PREFIXES:
        assert _shapes(state, prefix) == dict(released_layout), prefix
    # MIC reuses the self-training teacher (mask_alpha 'same'): no mic.teacher.* copy.
    assert all(k.startswith(UDA_PREFIXES) for k in state)


def test_released_uda_checkpoint_loads_the_student_into_a_plain_segmentor(
        mitb5_segmentor, released_layout, tmp_path):
    from mmseg.apis import load_segmentor_checkpoint
    path = tmp_path / 'mic_hrda_release.pth'
    meta = dict(CLASSES=CLASSES, PALETTE=[[128, 64, 128]] * 19, config='# released')
    torch.save(layout_checkpoint(released_layout, UDA_PREFIXES, meta), path)
    checkpoint = load_segmentor_checkpoint(mitb5_segmentor, str(path))  # strict
    assert checkpoint['meta']['CLASSES'] == CLASSES
    state = mitb5_segmentor.state_dict()
    # Tensor i of the listing was filled with i + 1 under model. (1001 + i under ema_model.).
    for i, key in enumerate(released_layout):
        assert torch.all(state[key] == i + 1), key


# ----------------------------------------------------------------------------- MiT-B0 prediction
@pytest.mark.slow
def test_mitb0_version_predicts_the_demo_frame_by_slide_inference(shared_data, tmp_path):
    from mmseg.apis import inference_segmentor, init_segmentor
    # 16-channel decoders: the 256-channel ones take minutes on 2048x1024 on a small CPU.
    config = write_b0_child_config(tmp_path / 'mic_hrda_b0.py', narrow_decoder=True)
    torch.manual_seed(0)
    model = init_segmentor(str(config), device='cpu')
    backbone_inputs = []
    model.backbone.register_forward_hook(
        lambda module, args, output: backbone_inputs.append(tuple(args[0].shape)))
    result = inference_segmentor(model, str(shared_data / 'cityscapes_demo_1024x512.png'))
    assert len(result) == 1
    assert result[0].shape == (512, 1024)
    assert np.issubdtype(result[0].dtype, np.integer)
    assert 0 <= result[0].min() and result[0].max() <= 18
    # Test pipeline: 1024x512 -> 2048x1024. Slide: 3 windows of 1024x1024 (stride 512) as one
    # batch; per window a 0.5 context input and 3x3 overlapping 512x512 detail windows.
    assert sorted(backbone_inputs) == [(3, 3, 512, 512), (27, 3, 512, 512)]


# ----------------------------------------------------------------------------- toy training
TRAIN_LOSSES = ('decode.loss_seg', 'decode.hr.loss_seg', 'mix.decode.loss_seg',
                'mix.decode.hr.loss_seg', 'masked.decode.loss_seg', 'masked.decode.hr.loss_seg',
                'src.loss_imnet_feat_dist')


@pytest.fixture(scope='module')
def toy_mic_hrda_run(toy_data_root, tmp_path_factory):
    """2 iterations of the MiT-B0 MIC(HRDA) config on toy data through tools/train.py's main, in
    this process (`python -m tools.train` itself runs in tests/tools/test_train_test_cli.py)."""
    from tools.train import main as train_main
    tmp = tmp_path_factory.mktemp('mic_hrda')
    b0 = write_b0_child_config(tmp / 'mic_hrda_b0.py')
    config = make_toy_run_config(b0, toy_data_root, tmp / 'mic_hrda_b0_toy.py')
    work_dir = tmp / 'work_dirs' / 'mic_hrda_b0_toy'
    train_main([str(config), '--work-dir', str(work_dir), '--no-validate'])
    return work_dir / 'mic_hrda_b0_toy.py', work_dir


@pytest.mark.slow
def test_mic_hrda_training_logs_every_loss_and_saves_the_uda_checkpoint(toy_mic_hrda_run):
    _, work_dir = toy_mic_hrda_run
    json_log, = work_dir.glob('*.log.json')
    records = [json.loads(line) for line in json_log.read_text().splitlines()[1:]]
    assert [r['mode'] for r in records] == ['train', 'train']  # evaluation off
    assert [r['iter'] for r in records] == [1, 2]
    for key in TRAIN_LOSSES:
        assert all(np.isfinite(r[key]) and r[key] >= 0 for r in records), key
    assert all(r['decode.loss_seg'] > 0 and r['mix.decode.loss_seg'] > 0 for r in records)
    assert (work_dir / 'latest.pth').resolve() == (work_dir / 'iter_2.pth').resolve()
    state = torch.load(work_dir / 'iter_2.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    keys = {prefix: {k[len(prefix):] for k in state if k.startswith(prefix)}
            for prefix in UDA_PREFIXES}
    assert sum(len(k) for k in keys.values()) == len(state)
    assert keys['model.'] == keys['ema_model.'] == keys['imnet_model.']
    assert 'decode_head.scale_attention.conv_seg.weight' in keys['model.']


def _val_images(toy_data_root):
    return sorted((toy_data_root / 'cityscapes/leftImg8bit/val').rglob('*_leftImg8bit.png'))


@pytest.mark.slow
def test_test_cli_evaluates_and_draws_fused_context_detail_and_attention(
        toy_mic_hrda_run, toy_data_root, tmp_path, single_torch_thread):
    from tools.test import main as test_main
    config, work_dir = toy_mic_hrda_run
    checkpoint = work_dir / 'latest.pth'
    out = _run([PYTHON, '-m', 'tools.test', config, checkpoint, '--eval', 'mIoU',
                '--show-dir', tmp_path / 'fused'])
    assert 'mIoU' in out.stdout and 'road' in out.stdout
    # The other outputs through the same main (one process: no torch import per mode).
    for mode in ('LR', 'HR', 'ATT'):
        test_main([str(config), str(checkpoint), '--hrda-out', mode,
                   '--show-dir', str(tmp_path / mode), '--out', str(tmp_path / f'{mode}.pkl')])
    images = _val_images(toy_data_root)
    # The context-only and detail-only predictions of the CLI are the in-process ones, pixel
    # for pixel (the same process and one thread: the same floating-point sums).
    from mmseg.apis import inference_segmentor, init_segmentor
    model = init_segmentor(str(config), str(checkpoint), device='cpu')
    for mode in ('LR', 'HR'):
        model.set_hrda_out(mode)
        with open(tmp_path / f'{mode}.pkl', 'rb') as f:
            cli_preds = pickle.load(f)
        assert len(cli_preds) == len(images)
        for pred, image in zip(cli_preds, images):
            expected = inference_segmentor(model, str(image))[0]
            assert pred.shape == expected.shape
            assert np.array_equal(pred, expected), (mode, image, (pred == expected).mean())
    drawings = {}
    for mode in ('fused', 'LR', 'HR', 'ATT'):
        drawn = sorted((tmp_path / mode).rglob('*.png'))
        assert [p.name for p in drawn] == [p.name for p in images], mode
        drawings[mode] = [np.array(Image.open(p).convert('RGB')) for p in drawn]
        for drawing, image in zip(drawings[mode], images):
            assert drawing.shape[:2] == Image.open(image).size[::-1]
    modes = sorted(drawings)
    for i, first in enumerate(modes):
        for second in modes[i + 1:]:
            assert any(not np.array_equal(a, b)
                       for a, b in zip(drawings[first], drawings[second])), (first, second)


# ----------------------------------------------------------------------------- no data yet
NEWCOMER_ENTRY_POINTS = ('train', 'run_experiments')


@pytest.fixture(scope='module')
def newcomer_runs(tmp_path_factory):
    """Both entry points on the annotated config from an empty folder each, started at once (one
    core each): {entry point: (CompletedProcess-like result, folder)}."""
    config = REPO / 'configs' / 'mic' / 'gtaHR2csHR_mic_hrda.py'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    started = {}
    for entry_point in NEWCOMER_ENTRY_POINTS:
        folder = tmp_path_factory.mktemp(f'newcomer_{entry_point}')
        if entry_point == 'train':
            argv = [PYTHON, '-m', 'tools.train', config]
        else:
            argv = [PYTHON, REPO / 'run_experiments.py', '--config', config,
                    '--gen-dir', folder / 'generated', '--work-dirs', folder / 'work_dirs']
        process = subprocess.Popen([str(a) for a in argv], cwd=folder, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started[entry_point] = (process, folder)
    results = {}
    for entry_point, (process, folder) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        results[entry_point] = (subprocess.CompletedProcess(process.args, process.returncode,
                                                            stdout, stderr), folder)
    return results


@pytest.mark.slow
@pytest.mark.parametrize('entry_point', NEWCOMER_ENTRY_POINTS)
def test_newcomer_without_data_gets_one_message(entry_point, newcomer_runs):
    out, tmp_path = newcomer_runs[entry_point]
    output = out.stdout + out.stderr
    assert out.returncode != 0
    for missing in ('data/gta', 'data/cityscapes', 'pretrained/mit_b5.pth',
                    'Datasets and weights'):
        assert missing in out.stderr, missing
    assert 'Traceback' not in output
    assert '## Datasets and weights' in (REPO / 'README.md').read_text()
    # Nothing was started and nothing left behind (run_experiments removes its generated config).
    assert not (tmp_path / 'work_dirs').exists()
    assert [p for p in tmp_path.rglob('*') if p.is_file()] == []
    if entry_point == 'run_experiments':
        assert 'The generated configs were removed.' in out.stderr

"""tools/train.py, tools/test.py and test.sh: pre-flight checks, flag handling, and end to end."""
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import mmcv
import numpy as np
import pytest
from PIL import Image

from mmseg.core.evaluation import eval_metrics

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CITYSCAPES_PALETTE = [  # docs/REFERENCE.md §0, RGB
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
    (0, 80, 100), (0, 0, 230), (119, 11, 32)]


# ----------------------------------------------------------------------------- pre-flight check
def _uda_config(tmp_path, source_root, target_root, val_root, pretrained):
    return mmcv.Config(dict(
        model=dict(type='EncoderDecoder', pretrained=pretrained, backbone=dict()),
        data=dict(
            train=dict(type='UDADataset',
                       source=dict(type='GTADataset', data_root=str(source_root)),
                       target=dict(type='CityscapesDataset', data_root=str(target_root))),
            val=dict(type='CityscapesDataset', data_root=str(val_root)))))


def test_find_missing_inputs_names_every_absent_root_and_weight(tmp_path):
    from tools.train import find_missing_inputs
    (tmp_path / 'gta').mkdir()
    cfg = _uda_config(tmp_path, tmp_path / 'gta', tmp_path / 'cityscapes',
                      tmp_path / 'cityscapes', str(tmp_path / 'pretrained/mit_b5.pth'))
    assert find_missing_inputs(cfg) == [str(tmp_path / 'cityscapes'),
                                        str(tmp_path / 'pretrained/mit_b5.pth')]
    (tmp_path / 'cityscapes').mkdir()
    (tmp_path / 'pretrained').mkdir()
    (tmp_path / 'pretrained/mit_b5.pth').write_bytes(b'')
    assert find_missing_inputs(cfg) == []


def test_train_main_exits_with_one_message_when_data_is_missing(tmp_path, capsys,
                                                                monkeypatch):
    from mmseg.utils import run_cli
    from mmseg.utils.errors import UserFileNotFoundError
    from tools.train import main
    monkeypatch.delenv('MICSEG_TRACEBACK', raising=False)
    cfg = _uda_config(tmp_path, tmp_path / 'no_gta', tmp_path / 'no_cs', tmp_path / 'no_cs',
                      'pretrained/absent_b5.pth')
    cfg.dump(str(tmp_path / 'missing.py'))
    argv = [str(tmp_path / 'missing.py'), '--work-dir', str(tmp_path / 'run'),
            '--load-from', str(tmp_path / 'absent_ckpt.pth')]
    with pytest.raises(UserFileNotFoundError):  # for Python callers
        main(argv)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, 'train', argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('Cannot train: these data folders / weight files do not exist: ')
    assert err.count('\n') == 1 and err.endswith('\n')
    listed = err.split('do not exist: ')[1].split('. Download')[0].split(', ')
    assert listed == [str(tmp_path / 'no_gta'), str(tmp_path / 'no_cs'),
                      'pretrained/absent_b5.pth', str(tmp_path / 'absent_ckpt.pth')]
    assert 'Datasets and weights' in err
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('option,message', [
    ('compile=3', "compile must be None, False, True or a dict of torch.compile's arguments"),
    ('compile.backend=nosuch', "compile.backend must be one of"),
    ('mixed_precision.dtype=int8', "mixed_precision.dtype must be one of"),
    ('cpu_malloc_reuse=3', 'cpu_malloc_reuse must be True or False'),
])
@pytest.mark.parametrize('tool', ['train', 'test'])
def test_bad_run_options_stop_with_one_line_before_anything_is_written(tool, option, message,
                                                                        tmp_path, capsys,
                                                                        monkeypatch):
    """tools.train / tools.test: a bad mixed_precision / compile / cpu_malloc_reuse value stops
    the run with one line naming the key, before the work_dir or a checkpoint is touched (the
    data of this config do not exist either: the option is checked first)."""
    import importlib
    cfg = _uda_config(tmp_path, tmp_path / 'no_gta', tmp_path / 'no_cs', tmp_path / 'no_cs',
                      'pretrained/absent_b5.pth')
    cfg.dump(str(tmp_path / 'c.py'))
    from mmseg.utils import UserInputError, run_cli
    monkeypatch.delenv('MICSEG_TRACEBACK', raising=False)
    main = importlib.import_module(f'tools.{tool}').main
    argv = [str(tmp_path / 'c.py')]
    argv += (['--work-dir', str(tmp_path / 'run')] if tool == 'train'
             else [str(tmp_path / 'absent.pth'), '--eval', 'mIoU'])
    with pytest.raises(UserInputError, match=message.replace('(', r'\(').replace(')', r'\)')):
        main(argv + ['--cfg-options', option])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, tool, argv + ['--cfg-options', option])
    assert exit_info.value.code == 2
    text = capsys.readouterr().err
    assert text.startswith(f'Cannot {tool}: ') and message in text and text.count('\n') == 1
    assert not (tmp_path / 'run').exists()


# ----------------------------------------------------------------------------- test flags
def _test_cfg():
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='MultiScaleFlipAug', img_scale=(128, 64), flip=False, transforms=[])]
    return mmcv.Config(dict(
        crop_size=(64, 32),
        model=dict(type='EncoderDecoder', pretrained='x.pth', train_cfg=dict(work_dir='w'),
                   test_cfg=dict(mode='whole')),
        data=dict(train=dict(type='X'),
                  test=dict(type='CityscapesDataset', data_root='data/cs',
                            img_dir='leftImg8bit/val', ann_dir='gtFine/val',
                            pipeline=pipeline))))


def test_configure_test_aug_test_and_slide_mode():
    from tools.test import configure_test, parse_args
    args = parse_args(['c.py', 'k.pth', '--eval', 'mIoU', '--aug-test',
                       '--inference-mode', 'slide'])
    cfg = configure_test(_test_cfg(), args)
    tta = cfg.data.test.pipeline[1]
    assert tta.img_ratios == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75] and tta.flip is True
    assert cfg.model.test_cfg.mode == 'slide'
    assert list(cfg.model.test_cfg.crop_size) == [64, 32]
    assert list(cfg.model.test_cfg.stride) == [32, 16]
    assert cfg.model.pretrained is None and cfg.model.train_cfg is None
    assert cfg.data.test.test_mode is True


def test_configure_test_test_set_and_whole_mode():
    from tools.test import configure_test, parse_args
    args = parse_args(['c.py', 'k.pth', '--format-only', '--test-set',
                       '--inference-mode', 'whole'])
    cfg = configure_test(_test_cfg(), args)
    assert cfg.data.test.img_dir == 'leftImg8bit/test'
    # data/cs/gtFine/test does not exist here: a test split without labels is predicted only.
    assert cfg.data.test.ann_dir is None
    assert cfg.data.test.data_root == 'data/cs'
    assert cfg.model.test_cfg.mode == 'whole'


@pytest.mark.parametrize('argv,message', [
    (['c.py', 'k.pth'], 'choose at least one of --out, --eval, --format-only'),
    (['c.py', 'k.pth', '--eval', 'mIoU', '--format-only'],
     '--eval and --format-only cannot be both specified'),
    (['c.py', 'k.pth', '--out', 'results.json'], '--out must be a .pkl or .pickle file'),
    (['c.py', 'k.pth', '--show-dir', 'd', '--opacity', '1.5'],
     '--opacity must be in (0, 1], got 1.5'),
    (['c.py', 'k.pth', '--eval', 'mIoU', '--hrda-out', 'XX'],
     "argument --hrda-out: invalid choice: 'XX'"),
    (['c.py', 'k.pth', '--eval', 'foo'], '--eval foo: unknown metric; choose from mIoU'),
    (['c.py', 'k.pth', '--eval', 'mIoU', 'cityscape'], '--eval cityscape: unknown metric'),
    (['c.py', 'k.pth', '--eval', 'mIoU', '--hrda-out', 'ATT'],
     '--hrda-out ATT outputs the scale attention'),
    (['c.py', 'k.pth', '--format-only', '--hrda-out', 'ATT'],
     '--hrda-out ATT outputs the scale attention'),
])
def test_test_cli_rejects_inconsistent_flags(argv, message, capsys):
    from tools.test import parse_args
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith('usage:') and message in stderr


def test_test_cli_accepts_every_metric_and_explains_unknown_ones(capsys):
    from tools.test import parse_args
    args = parse_args(['c.py', 'k.pth', '--eval', 'mIoU', 'mDice', 'mFscore', 'cityscapes'])
    assert args.eval == ['mIoU', 'mDice', 'mFscore', 'cityscapes']
    with pytest.raises(SystemExit):
        parse_args(['c.py', 'k.pth', '--eval', 'foo'])
    err = capsys.readouterr().err
    assert '--eval foo: unknown metric; choose from mIoU, mDice, mFscore, cityscapes' in err
    with pytest.raises(SystemExit):
        parse_args(['c.py', 'k.pth', '--eval', 'mIoU', '--hrda-out', 'ATT'])
    assert 'scale attention' in capsys.readouterr().err


def test_test_cli_checks_the_test_set_before_inference():
    from types import SimpleNamespace

    from mmseg.utils import UserInputError
    from tools.test import check_dataset_for_args, parse_args
    unlabelled = SimpleNamespace(ann_dir=None, img_dir='data/acdc/rgb_anon/test')
    with pytest.raises(UserInputError, match='has no labels .* use --format-only'):
        check_dataset_for_args(unlabelled, parse_args(['c.py', 'k.pth', '--eval', 'mIoU']))
    labelled = SimpleNamespace(ann_dir='gt/val', img_dir='rgb_anon/val')
    check_dataset_for_args(labelled, parse_args(['c.py', 'k.pth', '--eval', 'mIoU']))
    with pytest.raises(UserInputError, match='needs a CityscapesDataset'):
        check_dataset_for_args(labelled, parse_args(['c.py', 'k.pth', '--eval', 'cityscapes']))


def test_test_cli_eval_options_are_typed():
    from tools.test import parse_args
    args = parse_args(['c.py', 'k.pth', '--format-only', '--eval-options',
                       'imgfile_prefix=labelTrainIds', 'to_label_id=False'])
    assert args.eval_options == dict(imgfile_prefix='labelTrainIds', to_label_id=False)


# ----------------------------------------------------------------------------- test.sh
@pytest.mark.parametrize('shell', ['sh', 'bash'])
def test_test_sh_explains_missing_files(tmp_path, shell):
    run = tmp_path / 'myrun'
    run.mkdir()
    out = subprocess.run([shell, str(REPO / 'test.sh'), str(run)], capture_output=True,
                         text=True)
    assert out.returncode == 1
    assert f'{run}/myrun.py not found' in out.stderr
    (run / 'myrun.py').write_text('x = 1\n')
    out = subprocess.run([shell, str(REPO / 'test.sh'), f'{run}/'], capture_output=True,
                         text=True)
    assert out.returncode == 1
    assert f'checkpoint {run}/latest.pth not found' in out.stderr
    out = subprocess.run([shell, str(REPO / 'test.sh')], capture_output=True, text=True)
    assert out.returncode == 2 and 'usage' in out.stderr


# ----------------------------------------------------------------------------- end to end
TINY_CONFIG = """
norm_cfg = dict(type='BN', requires_grad=True)
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(128, 64)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=(128, 64), flip=False, transforms=[
        dict(type='Resize', keep_ratio=True),
        dict(type='RandomFlip'),
        dict(type='Normalize', **img_norm_cfg),
        dict(type='ImageToTensor', keys=['img']),
        dict(type='Collect', keys=['img']),
    ]),
]
cs_val = dict(type='CityscapesDataset', data_root='{root}/cityscapes',
              img_dir='leftImg8bit/val', ann_dir='gtFine/val', pipeline=test_pipeline)
data = dict(
    samples_per_gpu=2, workers_per_gpu=0,
    train=dict(type='GTADataset', data_root='{root}/gta', img_dir='images', ann_dir='labels',
               pipeline=train_pipeline),
    val=cs_val, test=cs_val)
model = dict(
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64],
                  num_heads=[1, 1, 2, 4], depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1]),
    decode_head=dict(
        type='DAFormerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3], channels=16,
        dropout_ratio=0.1, num_classes=19, norm_cfg=norm_cfg, align_corners=False,
        decoder_params=dict(
            embed_dims=16,
            embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            fusion_cfg=dict(type='conv', kernel_size=1, act_cfg=dict(type='ReLU'),
                            norm_cfg=norm_cfg)),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook', by_epoch=False)])
dist_params = dict(backend='nccl')
log_level = 'INFO'
load_from = None
resume_from = None
workflow = [('train', 1)]
cudnn_benchmark = False
optimizer = dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01,
                 paramwise_cfg=dict(custom_keys=dict(head=dict(lr_mult=10.0))))
optimizer_config = dict()
lr_config = dict(policy='poly', warmup='linear', warmup_iters=2, warmup_ratio=1e-6, power=1.0,
                 min_lr=0.0, by_epoch=False)
seed = 0
runner = dict(type='IterBasedRunner', max_iters=3)
checkpoint_config = dict(by_epoch=False, interval=3, max_keep_ckpts=1)
evaluation = dict(interval=3, metric='mIoU')
"""


@pytest.mark.parametrize('option,message', [
    # once a TypeError at the first save, after training: no checkpoint, rc=1
    ('checkpoint_config.intervall=2', "checkpoint_config.intervall (from --cfg-options) (did "
                                      "you mean 'interval'?) not accepted"),
    ('evaluation.metric=mIOU', "evaluation.metric 'mIOU' (did you mean 'mIoU'?) not "
                               "supported"),  # once every evaluation failed, rc=3
    ('optimiser.lr=0.1', "--cfg-options: top-level key(s) 'optimiser' (did you mean "
                         "'optimizer'?)"),
    # once read as True (gradient checkpointing on)
    ('model.backbone.with_cp=yes', "model.backbone.with_cp = 'yes': must be True or False"),
])
def test_train_rejects_a_misspelt_option_before_the_work_dir(option, message, toy_data_root,
                                                             tmp_path, capsys, monkeypatch):
    from mmseg.utils import run_cli
    from tools.train import main
    monkeypatch.delenv('MICSEG_TRACEBACK', raising=False)
    config = tmp_path / 'tiny.py'
    config.write_text(TINY_CONFIG.replace('{root}', str(toy_data_root)))
    argv = [str(config), '--work-dir', str(tmp_path / 'run'), '--cfg-options', option,
            'runner.max_iters=6']
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, 'train', argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('Cannot train: ') and message in err and err.count('\n') == 1
    assert not (tmp_path / 'run').exists()


def _run(argv, cwd=REPO):
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH=str(REPO))
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, f'{argv} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}'
    return out


@pytest.fixture(scope='module')
def trained_run(toy_data_root, tmp_path_factory):
    """A 3-iteration run of a tiny MiT + DAFormer head on toy GTA, evaluated on toy Cityscapes."""
    tmp = tmp_path_factory.mktemp('cli')
    config = tmp / 'tiny.py'
    config.write_text(TINY_CONFIG.replace('{root}', str(toy_data_root)))
    work_dir = tmp / 'work_dirs' / 'tiny'
    _run([PYTHON, '-m', 'tools.train', str(config), '--work-dir', str(work_dir)])
    return config, work_dir


def _printed_summary(stdout):
    """{column: value} of the last summary table (aAcc | mIoU | mAcc) that tools/test prints."""
    rows = [[cell.strip() for cell in line.strip().strip('|').split('|')]
            for line in stdout.splitlines()]
    header = max(i for i, cells in enumerate(rows) if cells[0] == 'aAcc')
    return dict(zip(rows[header], map(float, rows[header + 2])))


def _val_images(toy_data_root):
    return sorted((toy_data_root / 'cityscapes/leftImg8bit/val').rglob('*_leftImg8bit.png'))


@pytest.mark.slow
def test_train_writes_config_logs_and_checkpoints(trained_run):
    _, work_dir = trained_run
    assert (work_dir / 'tiny.py').is_file()
    assert mmcv.Config.fromfile(str(work_dir / 'tiny.py')).model.train_cfg.work_dir == \
        str(work_dir)
    assert len(list(work_dir.glob('*.log'))) == 1
    json_logs = list(work_dir.glob('*.log.json'))
    assert len(json_logs) == 1
    records = [json.loads(line) for line in json_logs[0].read_text().splitlines()[1:]]
    train = [r for r in records if r['mode'] == 'train']
    assert [r['iter'] for r in train] == [1, 2, 3]
    assert all(np.isfinite(r['decode.loss_seg']) and 'decode.acc_seg' in r for r in train)
    val = [r for r in records if r['mode'] == 'val']
    assert len(val) == 1 and 0 <= val[0]['mIoU'] <= 1
    assert (work_dir / 'iter_3.pth').is_file()
    assert (work_dir / 'latest.pth').resolve() == (work_dir / 'iter_3.pth').resolve()
    import torch
    meta = torch.load(work_dir / 'latest.pth', map_location='cpu', weights_only=False)['meta']
    assert len(meta['CLASSES']) == 19 and meta['CLASSES'][0] == 'road'
    assert [tuple(c) for c in meta['PALETTE']] == CITYSCAPES_PALETTE


@pytest.mark.slow
def test_test_cli_evaluates_and_draws_one_image_per_val_image(trained_run, toy_data_root,
                                                              tmp_path):
    config, work_dir = trained_run
    show_dir = tmp_path / 'show'
    out = _run([PYTHON, 'tools/test.py', str(config), str(work_dir / 'latest.pth'), '--eval',
                'mIoU', '--show-dir', str(show_dir), '--opacity', '1',
                '--out', str(tmp_path / 'preds.pkl')])
    assert 'mIoU' in out.stdout and 'road' in out.stdout  # summary and per-class table
    drawn = sorted(show_dir.rglob('*.png'))
    images = _val_images(toy_data_root)
    assert [p.name for p in drawn] == [p.name for p in images]
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    # Opacity 1: every pixel of a drawing is exactly the palette colour of the prediction.
    palette = np.array(CITYSCAPES_PALETTE)
    for drawing, pred, image in zip(drawn, preds, images):
        rgb = np.array(Image.open(drawing).convert('RGB'))
        assert rgb.shape[:2] == pred.shape == Image.open(image).size[::-1]
        assert np.array_equal(rgb, palette[pred].astype(np.uint8))
    # The printed mIoU is eval_metrics' on the written predictions and the val labels.
    labels = [np.array(Image.open(str(image).replace('leftImg8bit', 'gtFine').replace(
        '_gtFine.png', '_gtFine_labelTrainIds.png'))) for image in images]
    iou = eval_metrics(preds, labels, 19, 255, ['mIoU'])['IoU']
    assert _printed_summary(out.stdout)['mIoU'] == pytest.approx(
        round(float(np.nanmean(iou)) * 100, 2), abs=1e-6)


# The tests below call tools/test.py's main in this process: `python tools/test.py` and
# `python -m tools.test` (test.sh) run as subprocesses above and below.
@pytest.mark.slow
def test_test_cli_format_only_writes_train_id_pngs(trained_run, toy_data_root, tmp_path):
    from tools.test import main as test_main
    config, work_dir = trained_run
    prefix = tmp_path / 'labelTrainIds'
    assert test_main([str(config), str(work_dir / 'latest.pth'), '--format-only',
                      '--eval-options', f'imgfile_prefix={prefix}', 'to_label_id=False',
                      '--out', str(tmp_path / 'preds.pkl')]) is None
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    images = _val_images(toy_data_root)
    written = sorted(prefix.glob('*.png'))
    assert [p.name for p in written] == [p.name for p in images]
    for png, pred in zip(written, preds):
        assert np.array_equal(np.array(Image.open(png)), pred.astype(np.uint8))


@pytest.fixture(scope='module')
def test_sh_runs(trained_run, tmp_path_factory):
    """``sh test.sh RUN`` and ``bash test.sh RUN``, each on its own copy of the trained run,
    started at once (one core each): {shell: (CompletedProcess-like result, run folder)}."""
    _, work_dir = trained_run
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    started = {}
    for shell in ('sh', 'bash'):
        folder = tmp_path_factory.mktemp(f'test_sh_{shell}')
        run = folder / 'tiny'
        shutil.copytree(work_dir, run, symlinks=True)
        started[shell] = (subprocess.Popen([shell, str(REPO / 'test.sh'), str(run)], cwd=folder,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True, env=env), run)
    results = {}
    for shell, (process, run) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        results[shell] = (subprocess.CompletedProcess(process.args, process.returncode, stdout,
                                                      stderr), run)
    return results


@pytest.mark.slow
@pytest.mark.parametrize('shell', ['sh', 'bash'])
def test_test_sh_tests_the_latest_checkpoint_of_a_run(test_sh_runs, toy_data_root, shell):
    out, run = test_sh_runs[shell]
    assert out.returncode == 0, \
        f'{out.args} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}'
    assert 'mIoU' in out.stdout
    assert len(list((run / 'preds').rglob('*.png'))) == len(_val_images(toy_data_root))


@pytest.mark.slow
def test_test_cli_hrda_out_needs_an_hrda_segmentor(trained_run, tmp_path):
    from tools.test import main as test_main
    config, work_dir = trained_run
    with pytest.raises(ValueError, match='--hrda-out LR needs an HRDA segmentor, but the config '
                                         'builds a EncoderDecoder'):
        test_main([str(config), str(work_dir / 'latest.pth'), '--eval', 'mIoU',
                   '--hrda-out', 'LR'])


@pytest.mark.slow
def test_uda_run_trains_with_its_own_optimizer_step_and_tests_the_student(toy_data_root,
                                                                          tmp_path, capsys,
                                                                          monkeypatch):
    # The toy MIC(DAFormer) config reads data/toy/{gta,cityscapes} relative to the cwd.
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'toy').symlink_to(toy_data_root, target_is_directory=True)
    config = REPO / 'configs/toy/toy_gta2cs_mic_daformer.py'
    work_dir = tmp_path / 'work_dirs' / 'mic'
    # tools/train.py and tools/test.py main in this process, from that folder: the same toy
    # config runs as `python -m tools.train` in tests/tools/test_train_resume.py.
    from tools.test import main as test_main
    from tools.train import main as train_main
    monkeypatch.chdir(tmp_path)
    train_main([str(config), '--work-dir', str(work_dir),
                '--cfg-options', 'runner.max_iters=2', 'evaluation.interval=2',
                'checkpoint_config.interval=2', 'log_config.interval=1',
                'lr_config.warmup_iters=1',
                # the toy fixture's images are too small for the toy config's RCS pixel threshold
                'data.train.rare_class_sampling.min_pixels=1'])
    json_log = next(work_dir.glob('*.log.json'))
    records = [json.loads(line) for line in json_log.read_text().splitlines()[1:]]
    train = [r for r in records if r['mode'] == 'train']
    assert [r['iter'] for r in train] == [1, 2]
    for key in ('decode.loss_seg', 'mix.decode.loss_seg', 'masked.decode.loss_seg'):
        assert all(np.isfinite(r[key]) for r in train), key
    assert any(r['mode'] == 'val' and 'mIoU' in r for r in records)
    import torch
    state = torch.load(work_dir / 'latest.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert any(k.startswith('model.backbone.') for k in state)
    assert any(k.startswith('ema_model.backbone.') for k in state)
    capsys.readouterr()
    metrics = test_main([str(work_dir / 'toy_gta2cs_mic_daformer.py'), str(work_dir / 'latest.pth'),
                         '--eval', 'mIoU'])
    assert 'mIoU' in capsys.readouterr().out and 0 <= metrics['mIoU'] <= 1


def test_saved_config_records_the_seed_given_on_the_command_line(tmp_path, monkeypatch):
    """`--seed 1` over a config with seed = 0: the config saved into the work_dir says 1."""
    import tools.train as train_tool

    class Stop(Exception):
        pass

    def stop(cfg):
        raise Stop
    monkeypatch.setattr(train_tool, 'build_train_model', stop)
    # no dataset 'X' to build and check (the checks: tests/tools/test_train_checks.py)
    monkeypatch.setattr(train_tool, 'check_before_training',
                        lambda cfg, validate, option_keys: (None, []))
    (tmp_path / 'data').mkdir()
    mmcv.Config(dict(seed=0, model=dict(type='EncoderDecoder'),
                     data=dict(train=dict(type='X', data_root=str(tmp_path / 'data'))))
                ).dump(str(tmp_path / 'seeded.py'))
    with pytest.raises(Stop):
        train_tool.main([str(tmp_path / 'seeded.py'), '--work-dir', str(tmp_path / 'run'),
                         '--seed', '1'])
    assert mmcv.Config.fromfile(str(tmp_path / 'run' / 'seeded.py')).seed == 1


def test_script_entry_point_imports_custom_modules_from_the_current_folder(tmp_path):
    """`python path/to/tools/train.py` run from the user's folder finds custom_imports there
    (as `python -m` would): the module is imported before the missing-data message."""
    (tmp_path / 'my_custom_module.py').write_text(
        "open('imported.txt', 'w').write('yes')\n")
    mmcv.Config(dict(custom_imports=dict(imports=['my_custom_module'],
                                         allow_failed_imports=False),
                     model=dict(type='EncoderDecoder'),
                     data=dict(train=dict(type='X', data_root='absent_data')))
                ).dump(str(tmp_path / 'custom.py'))
    out = subprocess.run([PYTHON, str(REPO / 'tools' / 'train.py'), 'custom.py'], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert 'absent_data' in out.stderr and 'Traceback' not in out.stderr
    assert (tmp_path / 'imported.txt').read_text() == 'yes'

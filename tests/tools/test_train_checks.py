"""tools/train.py and tools/test.py on the reported repros of issue #19 (docs/CHECKS.md): each
stops with one 'Cannot train: ...' line before the work_dir is made, or trains with a warning
in the log and on the console."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import mmcv
import numpy as np
import pytest
from PIL import Image

from mmseg.utils.errors import run_cli

REPO = Path(__file__).resolve().parents[2]
SIZE = 32

CONFIG = """
norm_cfg = dict(type='BN', requires_grad=True)
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.0),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=({size}, {size}), pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=({size}, {size}), flip=False, transforms=[
        dict(type='Resize', keep_ratio=True),
        dict(type='RandomFlip'),
        dict(type='Normalize', **img_norm_cfg),
        dict(type='ImageToTensor', keys=['img']),
        dict(type='Collect', keys=['img']),
    ]),
]
classes = {classes}
train_set = dict(type='CustomDataset', data_root='{root}', img_dir='img/train',
                 ann_dir='ann/train', img_suffix='.png', seg_map_suffix='.png',
                 classes=classes, pipeline=train_pipeline)
val_set = dict(type='CustomDataset', data_root='{root}', img_dir='img/val', ann_dir='ann/val',
               img_suffix='.png', seg_map_suffix='.png', classes=classes,
               pipeline=test_pipeline)
data = dict(samples_per_gpu=2, workers_per_gpu=0, train=train_set, val=val_set, test=val_set)
model = dict(
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64],
                  num_heads=[1, 1, 2, 4], depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1]),
    decode_head=dict(
        type='DAFormerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3], channels=16,
        dropout_ratio=0.1, num_classes={num_classes}, norm_cfg=norm_cfg, align_corners=False,
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
optimizer = dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01)
optimizer_config = dict()
lr_config = dict(policy='poly', power=1.0, min_lr=0.0, by_epoch=False)
seed = 0
runner = dict(type='IterBasedRunner', max_iters=1)
checkpoint_config = dict(by_epoch=False, interval=1, max_keep_ckpts=1)
evaluation = dict(interval=1, metric='mIoU')
"""
SIX_CLASSES = ['road', 'building', 'car', 'person', 'sky', 'tree']


def write_data(root, labels_of, num_train=4, num_val=2, suffix='.png'):
    """Images (random colours) and labels ``labels_of(i)`` under root/{img,ann}/{train,val}."""
    rng = np.random.RandomState(0)
    for split, count in (('train', num_train), ('val', num_val)):
        for i in range(count):
            name = f'{split}_{i}'
            for sub in ('img', 'ann'):
                (root / sub / split).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / 'img' / split / f'{name}{suffix}'),
                        rng.randint(0, 255, (SIZE, SIZE, 3)).astype(np.uint8))
            cv2.imwrite(str(root / 'ann' / split / f'{name}.png'), labels_of(i))
    return root


def six_class_label(i):
    """Six horizontal bands of classes 0..5, shifted by i."""
    return ((np.arange(SIZE)[:, None] * 6 // SIZE + i) % 6 * np.ones((1, SIZE))).astype(np.uint8)


def write_config(tmp_path, root, classes=SIX_CLASSES, num_classes=6, extra=''):
    config = tmp_path / 'run.py'
    config.write_text(CONFIG.format(size=SIZE, root=root, classes=classes,
                                    num_classes=num_classes) + extra)
    return config


def train(config, work_dir, *options):
    from tools.train import main
    argv = [str(config), '--work-dir', str(work_dir), *options]
    return run_cli(main, 'train', argv)


def assert_stops_before_work_dir(capsys, config, work_dir, *parts, options=()):
    with pytest.raises(SystemExit) as exit_info:
        train(config, work_dir, *options)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('Cannot train: '), err[-3:]
    for part in parts:
        assert part in err[-1], (part, err[-1])
    assert not work_dir.exists()
    return err[-1]


def test_corrupt_val_image_is_named_before_training(tmp_path, capsys):
    root = write_data(tmp_path / 'data', six_class_label)
    bad = root / 'img' / 'val' / 'val_1.png'
    bad.write_bytes(bad.read_bytes()[:60])  # a truncated download
    line = assert_stops_before_work_dir(capsys, write_config(tmp_path, root), tmp_path / 'run',
                                        str(bad))
    assert 'damaged or truncated' in line or 'not a readable image' in line


def test_dataset_ignore_index_other_than_the_loss_is_an_error(tmp_path, capsys):
    root = write_data(tmp_path / 'data', six_class_label)
    config = write_config(tmp_path, root, extra="data = dict(train=dict(ignore_index=0), "
                          "val=dict(ignore_index=0), test=dict(ignore_index=0))\n")
    assert_stops_before_work_dir(capsys, config, tmp_path / 'run',
                                 'data.train.ignore_index = 0',
                                 'model.decode_head.ignore_index = 255')


def test_imnet_feature_dist_classes_of_cityscapes_on_six_classes_is_an_error(tmp_path,
                                                                             capsys):
    root = write_data(tmp_path / 'data', six_class_label)
    extra = ("data = dict(train=dict(_delete_=True, type='UDADataset', source=train_set, "
             "target=train_set))\n"
             "uda = dict(type='DACS', alpha=0.999, imnet_feature_dist_lambda=0.005, "
             "imnet_feature_dist_classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18], "
             "imnet_feature_dist_scale_min_ratio=0.75)\noptimizer_config = None\n")
    assert_stops_before_work_dir(capsys, write_config(tmp_path, root, extra=extra),
                                 tmp_path / 'run', 'uda.imnet_feature_dist_classes',
                                 '[6, 7, 11, 12, 13, 14, 15, 16, 17, 18]', 'outside [0, 6)')


def test_wrong_img_suffix_names_the_suffixes_the_folder_holds(tmp_path, capsys):
    root = write_data(tmp_path / 'data', six_class_label, suffix='.jpg')
    assert_stops_before_work_dir(capsys, write_config(tmp_path, root), tmp_path / 'run',
                                 '4 file(s) ending in .jpg', 'none in .png', 'img_suffix')


def test_misspelt_top_level_key_is_named_with_the_likely_key(tmp_path, capsys):
    root = write_data(tmp_path / 'data', six_class_label)
    config = write_config(tmp_path, root, extra='evalution = dict(interval=1)\n')
    assert_stops_before_work_dir(capsys, config, tmp_path / 'run', "'evalution'",
                                 "did you mean 'evaluation'")


def test_misspelt_uda_key_is_one_line_before_the_config_dump(tmp_path, capsys):
    root = write_data(tmp_path / 'data', six_class_label)
    extra = ("data = dict(train=dict(_delete_=True, type='UDADataset', source=train_set, "
             "target=train_set))\nuda = dict(type='DACS', pseudo_treshold=0.9)\n"
             "optimizer_config = None\n")
    capsys.readouterr()
    assert_stops_before_work_dir(capsys, write_config(tmp_path, root, extra=extra),
                                 tmp_path / 'run', "'pseudo_treshold'",
                                 "did you mean 'pseudo_threshold'")


@pytest.mark.slow
def test_binary_masks_stored_as_0_255_warn_in_log_and_console(tmp_path):
    def mask(i):
        label = np.zeros((SIZE, SIZE), np.uint8)
        label[8:24, 4 + i:20 + i] = 255
        label[:, :12] = 255  # the object covers more than 30 % of the pixels
        return label

    root = write_data(tmp_path / 'data', mask)
    config = write_config(tmp_path, root, classes=['background', 'object'], num_classes=2)
    # A process of its own: the console is that of a fresh logger (in this process the
    # 'mmseg' logger keeps the stream of the first test that set it up).
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, '-m', 'tools.train', str(config), '--work-dir',
                          str(tmp_path / 'run'), '--no-validate'], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    expected = "class(es) 'object' (1) occur in none of"
    assert expected in out.stderr
    log = next((tmp_path / 'run').glob('*.log')).read_text()
    assert f'WARNING - data.train: {expected}' in log and '0/255' in log


@pytest.fixture(scope='module')
def six_class_run(tmp_path_factory):
    """A 1-iteration run on the six-class custom data (clean: no check warns)."""
    tmp = tmp_path_factory.mktemp('six')
    root = write_data(tmp / 'data', six_class_label)
    config = write_config(tmp, root)
    work_dir = tmp / 'run'
    train(config, work_dir)
    return config, work_dir


@pytest.mark.slow
def test_clean_data_trains_without_a_check_warning(six_class_run):
    _, work_dir = six_class_run
    log = next(work_dir.glob('*.log')).read_text()
    assert ' - WARNING - ' not in log
    records = [json.loads(line) for line in next(work_dir.glob('*.log.json')).open()][1:]
    assert [r['mode'] for r in records] == ['train', 'val']


@pytest.mark.slow
def test_palette_of_the_config_is_drawn_instead_of_the_checkpoints(six_class_run, tmp_path):
    from tools.test import main as test_main
    config, work_dir = six_class_run
    palette = [[10 * i, 200 - 10 * i, 3 * i] for i in range(6)]
    show_dir = tmp_path / 'show'
    test_main([str(config), str(work_dir / 'latest.pth'), '--show-dir', str(show_dir),
               '--opacity', '1', '--out', str(tmp_path / 'preds.pkl'),
               '--cfg-options', f'data.test.palette={json.dumps(palette)}'])
    preds = mmcv.load(str(tmp_path / 'preds.pkl'))
    drawn = sorted(show_dir.rglob('*.png'))
    assert len(drawn) == len(preds) == 2
    for path, pred in zip(drawn, preds):
        rgb = np.array(Image.open(path).convert('RGB'))
        assert np.array_equal(rgb, np.array(palette, np.uint8)[pred])


@pytest.mark.slow
def test_checkpoint_and_config_naming_classes_differently_warns(six_class_run, capsys):
    from tools.test import main as test_main
    config, work_dir = six_class_run
    renamed = ['a', 'b', 'c', 'd', 'e', 'f']
    test_main([str(config), str(work_dir / 'latest.pth'), '--eval', 'mIoU',
               '--cfg-options', f'data.test.classes={json.dumps(renamed)}'])
    err = capsys.readouterr().err
    assert f'the checkpoint names its classes {SIX_CLASSES} but the config {renamed}' in err


def test_classes_and_palette_of_checkpoint_config_and_dataset():
    from types import SimpleNamespace

    from tools.test import classes_and_palette
    from mmseg.utils.errors import UserInputError
    dataset = SimpleNamespace(CLASSES=('a', 'b'), PALETTE=[[0, 0, 0], [7, 7, 7]])
    meta = dict(CLASSES=('a', 'b'), PALETTE=[[1, 1, 1], [2, 2, 2]])
    assert classes_and_palette(meta, dataset, {}) == (('a', 'b'), [[1, 1, 1], [2, 2, 2]])
    assert classes_and_palette(meta, dataset, {'palette': [[0, 0, 0], [7, 7, 7]]}) == (
        ('a', 'b'), [[0, 0, 0], [7, 7, 7]])
    assert classes_and_palette({}, dataset, {}) == (('a', 'b'), [[0, 0, 0], [7, 7, 7]])
    with pytest.raises(UserInputError, match=r"trained on 3 classes \(\['a', 'b', 'c'\]\) but "
                       r"the test set has 2 \(\['a', 'b'\]\)"):
        classes_and_palette(dict(CLASSES=('a', 'b', 'c')), dataset, {})
    with pytest.raises(UserInputError, match=r"checkpoint lists its classes as \['b', 'a'\] but "
                       r"the test set as \['a', 'b'\]: the same classes in another order"):
        classes_and_palette(dict(CLASSES=('b', 'a')), dataset, {})

"""Several evaluation datasets in one run (docs/evaluation.md), end to end on toy data: a
training whose evaluation hook scores toy Cityscapes val and toy GTA, and tools/test.py on the
same two, against the two single-dataset evaluations run separately."""
import copy
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]

CONFIG = '''
_base_ = ['{repo}/configs/toy/toy_gta2cs_source_only.py']
model = dict(pretrained=None)
runner = dict(max_iters=1)
evaluation = dict(interval=1)
checkpoint_config = dict(interval=1)
log_config = dict(interval=1)
lr_config = dict(warmup_iters=1)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=(128, 64), flip=False, transforms=[
        dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'),
        dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
             to_rgb=True),
        dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])])]
cs = dict(type='CityscapesDataset', data_root='{root}/cityscapes', img_dir='leftImg8bit/val',
          ann_dir='gtFine/val', pipeline=test_pipeline)
gta = dict(type='GTADataset', data_root='{root}/gta', img_dir='images', ann_dir='labels',
           pipeline=test_pipeline, name='toy_gta')
data = dict(train=dict(data_root='{root}/gta'), val={val}, test={val})
'''
NAMES = ('cityscapes', 'toy_gta')


def _write_config(path, root, val):
    path.write_text(CONFIG.format(repo=REPO, root=root, val=val))
    return str(path)


@pytest.fixture(scope='module')
def two_target_run(toy_data_root, tmp_path_factory):
    """One iteration of the toy source-only run evaluated on [toy Cityscapes val, toy GTA]
    (tools/train.py's main in this process, one torch thread as in the tests); the config
    files of the pair and of each alone."""
    import mmcv.runner.iter_based_runner as iter_based_runner
    import torch

    from tools.train import main as train_main
    tmp = tmp_path_factory.mktemp('two_targets')
    configs = dict(both=_write_config(tmp / 'both.py', toy_data_root, '[cs, gta]'),
                   cityscapes=_write_config(tmp / 'cs.py', toy_data_root, 'cs'),
                   toy_gta=_write_config(tmp / 'gta.py', toy_data_root, 'gta'))
    threads, sleep = torch.get_num_threads(), iter_based_runner.time.sleep
    torch.set_num_threads(1)
    iter_based_runner.time.sleep = lambda seconds: None  # mmcv waits 1 s before training
    try:
        train_main([configs['both'], '--work-dir', str(tmp / 'work')])
    finally:
        torch.set_num_threads(threads)
        iter_based_runner.time.sleep = sleep
    return tmp, configs


def _single_runs(two_target_run, tmp_path):
    """tools/test.py on each dataset alone: {name: (metrics, predictions)}."""
    from tools.test import main as test_main
    tmp, configs = two_target_run
    singles = {}
    for name in NAMES:
        metrics = test_main([configs[name], str(tmp / 'work/iter_1.pth'), '--eval', 'mIoU',
                             '--out', str(tmp_path / f'{name}.pkl')])
        with open(tmp_path / f'{name}.pkl', 'rb') as f:
            singles[name] = (metrics, pickle.load(f))
    return singles


@pytest.mark.slow
def test_two_targets_equal_the_single_evaluations(two_target_run, tmp_path, capsys,
                                                  single_torch_thread):
    from tools.test import main as test_main
    tmp, configs = two_target_run
    singles = _single_runs(two_target_run, tmp_path)
    capsys.readouterr()
    both = test_main([configs['both'], str(tmp / 'work/iter_1.pth'), '--eval', 'mIoU',
                      '--out', str(tmp_path / 'both.pkl'), '--show-dir',
                      str(tmp_path / 'show')])
    printed = capsys.readouterr().out
    # tools/test.py: each dataset's metrics as alone, the plain keys their mean
    for name, (metrics, _) in singles.items():
        np.testing.assert_equal({k[len(name) + 1:]: v for k, v in both.items()
                                 if k.startswith(f'{name}/')}, metrics)  # NaN == NaN here
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert both[key] == pytest.approx((singles['cityscapes'][0][key]
                                           + singles['toy_gta'][0][key]) / 2, abs=1e-12)
    assert printed.index('== cityscapes (3 images) ==') < printed.index('== toy_gta (6 images) ==')
    mean_row = [line for line in printed.splitlines() if line.startswith('|    mean')][0]
    assert f"{round(100 * both['mIoU'], 2)}" in mean_row
    # --out: {name: predictions}, equal to the single runs'
    with open(tmp_path / 'both.pkl', 'rb') as f:
        predictions = pickle.load(f)
    assert list(predictions) == list(NAMES)
    for name, (_, single) in singles.items():
        assert len(predictions[name]) == len(single)
        for got, expected in zip(predictions[name], single):
            np.testing.assert_array_equal(got, expected)
    # --show-dir D: D/<name>/<the image's path>
    assert len(list((tmp_path / 'show/cityscapes').rglob('*_leftImg8bit.png'))) == 3
    assert len(list((tmp_path / 'show/toy_gta').glob('*.png'))) == 6
    # The hook of the training: the same numbers (4 decimals in the JSON log) under the names
    json_log, = (tmp / 'work').glob('*.log.json')
    val, = [r for r in map(json.loads, json_log.read_text().splitlines()[1:])
            if r['mode'] == 'val']
    for name, (metrics, _) in singles.items():
        for key, value in metrics.items():
            logged = val[f'{name}/{key}']
            if np.isnan(value):
                assert logged is None or np.isnan(logged), (name, key)
            else:
                assert logged == pytest.approx(value, abs=6e-5), (name, key)
    assert val['mIoU'] == pytest.approx(both['mIoU'], abs=6e-5)
    assert 'IoU.road' not in val and val['iter'] == 3 + 6
    # the default selection keys and checkpoint names are kept
    assert (tmp / 'work/iter_1.pth').is_file()


@pytest.mark.slow
def test_two_targets_format_into_a_folder_each(two_target_run, tmp_path, single_torch_thread):
    from tools.test import main as test_main
    tmp, configs = two_target_run
    prefix = tmp_path / 'formatted'
    assert test_main([configs['both'], str(tmp / 'work/iter_1.pth'), '--format-only',
                      '--eval-options', f'imgfile_prefix={prefix}',
                      '--out', str(tmp_path / 'both.pkl')]) is None
    with open(tmp_path / 'both.pkl', 'rb') as f:
        predictions = pickle.load(f)
    # Cityscapes: label-ID PNGs for the benchmark server; GTA (CustomDataset): the train IDs
    cs_files = sorted((prefix / 'cityscapes').glob('*.png'))
    assert len(cs_files) == 3 and all(p.name.endswith('_leftImg8bit.png') for p in cs_files)
    gta_files = sorted((prefix / 'toy_gta').glob('*.png'))
    assert [p.name for p in gta_files] == [f'{i:05d}.png' for i in range(1, 7)]
    for png, pred in zip(gta_files, predictions['toy_gta']):
        assert np.array_equal(np.array(Image.open(png)), pred.astype(np.uint8))


def test_configure_test_applies_the_flags_to_every_listed_dataset():
    import mmcv

    from tools.test import configure_test, parse_args
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='MultiScaleFlipAug', img_scale=(128, 64), flip=False, transforms=[])]
    cs = dict(type='CityscapesDataset', data_root='data/cs', img_dir='leftImg8bit/val',
              ann_dir='gtFine/val', pipeline=pipeline)
    cfg = mmcv.Config(dict(model=dict(type='EncoderDecoder', test_cfg=dict(mode='whole')),
                           data=dict(test=[cs, dict(cs, type='ACDCDataset', data_root='data/a',
                                                    img_dir='rgb_anon/val', ann_dir='gt/val',
                                                    pipeline=copy.deepcopy(pipeline))])))
    args = parse_args(['c.py', 'k.pth', '--format-only', '--test-set', '--aug-test'])
    cfg = configure_test(cfg, args)
    for test, img_dir in zip(cfg.data.test, ('leftImg8bit/test', 'rgb_anon/test')):
        assert test.test_mode is True and test.img_dir == img_dir
        assert test.ann_dir is None  # no labels of the test split here: predicted only
        assert test.pipeline[1].flip is True and len(test.pipeline[1].img_ratios) == 6

"""Every UDA setting end to end through the real entry points (docs/REFERENCE.md §3, §7.3, §8).

Each case writes a config whose ``_base_`` are the real files of configs/_base_ (runtime, model,
GTA -> Cityscapes data, UDA method, schedules) with overrides for a tiny network and the toy
data, trains ONE iteration with tools/train.py, and checks the JSON log keys, the checkpoint's
state-dict layout, and that tools/test.py evaluates the checkpoint.
"""
import json
import os
import pickle
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from PIL import Image

from mmseg.core.evaluation import eval_metrics

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / 'configs' / '_base_'
PYTHON = sys.executable
# Keys of a mmcv JSON log line that are no losses or accuracies.
RUNNER_KEYS = {'mode', 'epoch', 'iter', 'lr', 'time', 'data_time', 'memory'}
SOURCE_KEYS = {'decode.loss_seg', 'decode.acc_seg'}
MIX_KEYS = {'mix.decode.loss_seg', 'mix.decode.acc_seg'}
MASKED_KEYS = {'masked.decode.loss_seg', 'masked.decode.acc_seg'}
FD_KEYS = {'src.loss_imnet_feat_dist'}
ADV_KEYS = {'G_trg.loss.main', 'D_src.loss.main', 'D_trg.loss.main'}
ENT_KEYS = {'ent.loss.main'}
# Every top-level prefix a UDA state dict may have (docs/REFERENCE.md §3.1).
ALL_PREFIXES = ('model.', 'ema_model.', 'imnet_model.', 'mic.teacher.ema_model.', 'model_D.main.',
                'model_D.aux.')


@pytest.fixture(autouse=True, scope='module')
def one_torch_thread():
    """One intra-op thread: these tiny networks run several times faster than with a thread
    pool competing for the 2 shared cores (the subprocesses get OMP_NUM_THREADS=1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- config text
CONFIG_TEMPLATE = """
_base_ = [
    '{base}/default_runtime.py',
    '{base}/models/{model_base}',
    '{base}/datasets/uda_gta_to_cityscapes_512x512.py',
    '{base}/uda/{uda_base}',
    '{base}/schedules/{optimizer_base}',
    '{base}/schedules/poly10warm.py',
]
seed = 0
{model_overrides}
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (64, 64)
# The real pipelines at toy sizes: 128x64 frames, 64x64 crops.
gta_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(128, 64)),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
cityscapes_train_pipeline = [
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
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=0,
    train=dict(
        source=dict(data_root='{root}/gta/', pipeline=gta_train_pipeline),
        target=dict(data_root='{root}/cityscapes/', pipeline=cityscapes_train_pipeline,
                    {target_data}),
        {train_data}),
    val=dict(data_root='{root}/cityscapes/', pipeline=test_pipeline),
    test=dict(data_root='{root}/cityscapes/', pipeline=test_pipeline))
uda = {uda}
optimizer_config = None
optimizer = {optimizer}
runner = dict(type='IterBasedRunner', max_iters=1)
# No warm-up: the one iteration runs at the full learning rate.
lr_config = dict(warmup=None)
checkpoint_config = dict(by_epoch=False, interval=1, max_keep_ckpts=1)
evaluation = dict(interval=100, metric='mIoU')
log_config = dict(interval=1)
cudnn_benchmark = False
"""

# The tiny MiT + DAFormer sepaspp head on the real DAFormer/MIC model base.
DAFORMER_TINY = """
model = dict(
    pretrained={pretrained!r},
    backbone=dict(_delete_=True, type='MixVisionTransformer', embed_dims=[8, 16, 32, 64],
                  num_heads=[1, 1, 2, 4], depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1]),
    decode_head=dict(in_channels=[8, 16, 32, 64], channels=16,
                     decoder_params=dict(embed_dims=16)))
"""
# DeepLabV2-red (the AdvSeg/MinEnt network of experiment 81) with a ResNet-50 V1c of 8 base
# channels: 8 x 8 x 4 = 256 output channels.
DLV2_TINY = """
model = dict(
    pretrained=None,
    backbone=dict(base_channels=8, stem_channels=8),
    decode_head=dict(in_channels=256))
"""
ADAMW_PMULT = ("dict(lr=6e-05, paramwise_cfg=dict(custom_keys=dict(head=dict(lr_mult=10.0), "
               "pos_block=dict(decay_mult=0.0), norm=dict(decay_mult=0.0))))")
SGD_EXP81 = 'dict(lr=0.0025)'  # experiment 81: SGD lr 0.0025, no param-wise multipliers


def mic_cfg(mode, block, **extra):
    return dict(mask_mode=mode, mask_alpha='same', mask_pseudo_threshold='same', mask_lambda=1,
                mask_generator=dict(_delete_=True, type='block', mask_ratio=0.7,
                                    mask_block_size=block),
                **extra)


@dataclass
class Case:
    uda_base: str  # file of configs/_base_/uda
    keys: set  # the loss/accuracy keys of the JSON log line, exactly
    prefixes: set  # the top-level state-dict prefixes, exactly
    network: str = 'daformer'  # 'daformer', 'daformer_pretrained' or 'dlv2'
    uda: dict = field(default_factory=dict)  # overrides of the uda base
    train_data: str = ''  # extra keys of data.train (RCS)
    target_data: str = ''  # extra keys of data.train.target (pseudo-label margins)


# RCS as DAFormer (T 0.01, min crop ratio 0.5); min_pixels 0 fits the 128x64 toy labels.
RCS = 'rare_class_sampling=dict(min_pixels=0, class_temp=0.01, min_crop_ratio=0.5)'
MIC_MODES = (('separate', 16), ('separateaug', 32), ('separatesrc', 16), ('separatesrcaug', 32),
             ('separatetrg', 16), ('separatetrgaug', 32))
CASES = {
    'dacs': Case('dacs.py', SOURCE_KEYS | MIX_KEYS, {'model.', 'ema_model.'}),
    # DAFormer's pseudo-label crop v1 rows, scaled from 15/120 at 512 px to 64 px crops
    'daformer': Case('dacs_a999_fdthings.py', SOURCE_KEYS | FD_KEYS | MIX_KEYS,
                     {'model.', 'ema_model.', 'imnet_model.'}, network='daformer_pretrained',
                     uda=dict(pseudo_weight_ignore_top=2, pseudo_weight_ignore_bottom=8),
                     train_data=RCS),
    'source_only': Case('dacs_srconly.py', SOURCE_KEYS, {'model.'}),
    # experiment 85: source-only with masked source images (no teacher at all)
    'source_only_mic_separatesrc': Case('dacs_srconly.py', SOURCE_KEYS | MASKED_KEYS, {'model.'},
                                        uda=mic_cfg('separatesrc', 32)),
    **{f'mic_{mode}': Case('dacs.py', SOURCE_KEYS | MIX_KEYS | MASKED_KEYS,
                           {'model.', 'ema_model.'}, uda=mic_cfg(mode, block))
       for mode, block in MIC_MODES},
    # MIC(HRDA)'s pseudo-label margins (cpl2): the target batch carries a valid_pseudo_mask
    'mic_separatetrgaug_cpl2': Case(
        'dacs_a999_fdthings.py', SOURCE_KEYS | FD_KEYS | MIX_KEYS | MASKED_KEYS,
        {'model.', 'ema_model.', 'imnet_model.'}, network='daformer_pretrained',
        uda=mic_cfg('separatetrgaug', 16),
        train_data=RCS, target_data='crop_pseudo_margins=[4, 30, 4, 4]'),
    'mic_own_teacher': Case('dacs.py', SOURCE_KEYS | MIX_KEYS | MASKED_KEYS,
                            {'model.', 'ema_model.', 'mic.teacher.ema_model.'},
                            uda=dict(mic_cfg('separatetrgaug', 16), mask_alpha=0.9,
                                     mask_pseudo_threshold=None)),
    'advseg': Case('advseg.py', SOURCE_KEYS | ADV_KEYS, {'model.', 'model_D.main.'},
                   network='dlv2'),
    # experiment 81: MinEnt with MIC, which then trains its own EMA teacher
    'minent_mic': Case('minent.py', SOURCE_KEYS | ENT_KEYS | MASKED_KEYS,
                       {'model.', 'mic.teacher.ema_model.'}, network='dlv2',
                       uda=mic_cfg('separatetrgaug', 32)),
    'minent': Case('minent.py', SOURCE_KEYS | ENT_KEYS, {'model.'}),
}


def write_config(path, toy_root, case, pretrained=None):
    case = CASES[case]
    if case.network == 'dlv2':
        model_base, model, optimizer = 'deeplabv2red_r50-d8.py', DLV2_TINY, SGD_EXP81
        optimizer_base = 'sgd.py'
    else:
        model_base, optimizer, optimizer_base = 'daformer_sepaspp_mitb5.py', ADAMW_PMULT, \
            'adamw.py'
        model = DAFORMER_TINY.format(
            pretrained=str(pretrained) if case.network == 'daformer_pretrained' else None)
    path.write_text(CONFIG_TEMPLATE.format(
        base=BASE, model_base=model_base, uda_base=case.uda_base, optimizer_base=optimizer_base,
        model_overrides=model, root=toy_root, train_data=case.train_data,
        target_data=case.target_data, uda=repr(case.uda),
        optimizer=optimizer))
    return path


# ----------------------------------------------------------------------------- helpers
def train_records(work_dir):
    json_logs = list(Path(work_dir).glob('*.log.json'))
    assert len(json_logs) == 1, json_logs
    records = [json.loads(line) for line in json_logs[0].read_text().splitlines()[1:]]
    return [r for r in records if r['mode'] == 'train']


def split_by_prefix(state_dict):
    """{prefix: set of keys without it}; a key with none of the known prefixes fails."""
    groups = {}
    for key in state_dict:
        prefix = next((p for p in ALL_PREFIXES if key.startswith(p)), None)
        assert prefix is not None, f'unexpected state-dict key {key}'
        groups.setdefault(prefix, set()).add(key[len(prefix):])
    return groups


def segmentor_keys(config_path):
    """Keys of the segmentor built on its own from the config (independent of the UDA wrapper)."""
    from mmseg.models import build_segmentor
    cfg = mmcv.Config.fromfile(str(config_path))
    cfg.model.pretrained = None
    return set(build_segmentor(cfg.model).state_dict())


def discriminator_keys():
    # AdaptSegNet's FCDiscriminator: conv1..conv4 and the classifier, each weight + bias.
    return {f'{n}.{p}' for n in ('conv1', 'conv2', 'conv3', 'conv4', 'classifier')
            for p in ('weight', 'bias')}


def run_cli(argv, cwd=REPO):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, f'{argv} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}'
    return out


# ----------------------------------------------------------------------------- UDA settings
@pytest.mark.slow
@pytest.mark.parametrize('case', sorted(CASES))
def test_one_uda_iteration_logs_saves_and_evaluates(case, toy_data_root, tiny_mit_pretrained,
                                                    tmp_path):
    from tools.test import main as test_main
    from tools.train import main as train_main
    expected_keys, expected_prefixes = CASES[case].keys, CASES[case].prefixes
    pretrained_path, _ = tiny_mit_pretrained
    config = write_config(tmp_path / f'{case}.py', toy_data_root, case, pretrained_path)
    work_dir = tmp_path / 'work_dir'
    train_main([str(config), '--work-dir', str(work_dir), '--no-validate'])

    # The JSON log: one line for the one iteration, with exactly the method's losses.
    (record, ) = train_records(work_dir)
    assert record['iter'] == 1
    assert set(record) - RUNNER_KEYS == expected_keys
    assert all(np.isfinite(record[k]) for k in expected_keys)
    assert all(0 <= record[k] <= 100 for k in expected_keys if 'acc_seg' in k)

    # The checkpoint: the original prefixes, each holding a complete network.
    checkpoint = torch.load(work_dir / 'iter_1.pth', map_location='cpu', weights_only=False)
    groups = split_by_prefix(checkpoint['state_dict'])
    assert set(groups) == expected_prefixes
    seg_keys = segmentor_keys(config)
    assert 'backbone.patch_embed1.proj.weight' in seg_keys or 'backbone.stem.0.weight' in seg_keys
    for prefix, keys in groups.items():
        assert keys == (discriminator_keys() if prefix.startswith('model_D') else seg_keys), prefix

    # tools/test.py loads the student of the UDA checkpoint and evaluates it.
    metrics = test_main([str(config), str(work_dir / 'iter_1.pth'), '--eval', 'mIoU',
                         '--out', str(tmp_path / 'preds.pkl')])
    # ... and its mIoU is eval_metrics' on the written predictions (rounded to 0.01 %).
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    labels = [np.array(Image.open(path)) for path in sorted(
        (toy_data_root / 'cityscapes/gtFine/val').rglob('*_gtFine_labelTrainIds.png'))]
    assert len(preds) == len(labels) > 0
    iou = eval_metrics(preds, labels, 19, 255, ['mIoU'])['IoU']
    assert metrics['mIoU'] == pytest.approx(round(float(np.nanmean(iou)) * 100, 2) / 100,
                                            abs=1e-9)


@pytest.mark.slow
def test_daformer_feature_distance_uses_the_pretrained_file(toy_data_root, tiny_mit_pretrained,
                                                            tmp_path):
    """DAFormer: the frozen ImageNet network holds exactly the pretrained weights after training,
    the teacher starts from them (EMA copy at iteration 0), and the student moved away."""
    from tools.train import main as train_main
    pretrained_path, pretrained = tiny_mit_pretrained
    config = write_config(tmp_path / 'daformer.py', toy_data_root, 'daformer', pretrained_path)
    work_dir = tmp_path / 'work_dir'
    train_main([str(config), '--work-dir', str(work_dir), '--no-validate',
                '--cfg-options', 'uda.debug_img_interval=1'])
    state = torch.load(work_dir / 'latest.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    backbone_keys = [k for k in pretrained if not k.startswith('head.')]
    for key in backbone_keys:
        assert torch.equal(state[f'imnet_model.backbone.{key}'], pretrained[key]), key
    # The teacher was copied from the student before the student's first optimizer step.
    weights = [k for k in backbone_keys if k.endswith('.weight')]
    assert all(torch.equal(state[f'ema_model.backbone.{k}'], pretrained[k]) for k in weights)
    assert any(not torch.equal(state[f'model.backbone.{k}'], pretrained[k]) for k in weights)
    # debug_img_interval=1: the figure of iteration 0 for each of the 2 batch images
    assert sorted(p.name for p in (work_dir / 'debug').iterdir()) == [
        '000000_0.png', '000000_1.png']


@pytest.mark.slow
def test_uda_cli_subprocess_and_student_only_test(toy_data_root, tiny_mit_pretrained, tmp_path):
    """python -m tools.train / tools.test as a user types them, on MIC with its own teacher.

    The predictions of the UDA checkpoint equal those of a plain checkpoint holding only its
    ``model.*`` weights, i.e. testing uses the student (not a teacher)."""
    config = write_config(tmp_path / 'mic_own.py', toy_data_root, 'mic_own_teacher')
    work_dir = tmp_path / 'work_dirs' / 'mic_own'
    run_cli([PYTHON, '-m', 'tools.train', str(config), '--work-dir', str(work_dir),
             '--no-validate'])
    records = train_records(work_dir)
    assert [r['iter'] for r in records] == [1]
    assert MASKED_KEYS <= set(records[0])
    uda_ckpt = work_dir / 'latest.pth'
    checkpoint = torch.load(uda_ckpt, map_location='cpu', weights_only=False)
    student = {k[len('model.'):]: v for k, v in checkpoint['state_dict'].items()
               if k.startswith('model.')}
    plain_ckpt = tmp_path / 'student.pth'
    torch.save(dict(state_dict=student, meta=checkpoint['meta']), plain_ckpt)
    preds = {}
    out = run_cli([PYTHON, '-m', 'tools.test', str(config), str(uda_ckpt), '--eval', 'mIoU',
                   '--out', str(tmp_path / 'uda.pkl')])
    assert 'mIoU' in out.stdout
    preds['uda'] = mmcv.load(str(tmp_path / 'uda.pkl'))
    # The plain checkpoint through tools/test.py's main in this process (one torch thread, as
    # the subprocess: the same sums, so equal weights give equal predictions pixel for pixel).
    from tools.test import main as test_main
    test_main([str(config), str(plain_ckpt), '--eval', 'mIoU', '--out',
               str(tmp_path / 'plain.pkl')])
    preds['plain'] = mmcv.load(str(tmp_path / 'plain.pkl'))
    assert len(preds['uda']) == 3  # the toy Cityscapes val images
    for uda_pred, plain_pred in zip(preds['uda'], preds['plain']):
        assert uda_pred.shape == (64, 128)
        assert np.array_equal(uda_pred, plain_pred)


# ----------------------------------------------------------------------------- run_experiments
@pytest.mark.slow
def test_run_experiments_trains_the_daformer_config(toy_data_root, tiny_mit_pretrained,
                                                    tmp_path, monkeypatch):
    import run_experiments
    """run_experiments.py --config on the real DAFormer config, shrunk by --cfg-options only.

    Pipelines are lists: mmcv's index keys (``pipeline.2.img_scale``) reach into them."""
    pretrained_path, _ = tiny_mit_pretrained
    cs_root = f'{toy_data_root}/cityscapes/'
    options = [
        'model.backbone.type=MixVisionTransformer', 'model.backbone.embed_dims=[8,16,32,64]',
        'model.backbone.num_heads=[1,1,2,4]', 'model.backbone.depths=[1,1,1,1]',
        'model.backbone.sr_ratios=[8,4,2,1]', f'model.pretrained={pretrained_path}',
        'model.decode_head.in_channels=[8,16,32,64]', 'model.decode_head.channels=16',
        'model.decode_head.decoder_params.embed_dims=16',
        f'data.train.source.data_root={toy_data_root}/gta/',
        f'data.train.target.data_root={cs_root}', f'data.val.data_root={cs_root}',
        f'data.test.data_root={cs_root}', 'data.workers_per_gpu=0',
        'data.train.rare_class_sampling.min_pixels=0',
        # Resize, RandomCrop and Pad are items 2, 3 and 6 of both training pipelines.
        'data.train.source.pipeline.2.img_scale=(128,64)',
        'data.train.target.pipeline.2.img_scale=(128,64)',
        'data.train.source.pipeline.3.crop_size=(64,64)',
        'data.train.target.pipeline.3.crop_size=(64,64)',
        'data.train.source.pipeline.6.size=(64,64)', 'data.train.target.pipeline.6.size=(64,64)',
        'data.val.pipeline.1.img_scale=(128,64)', 'data.test.pipeline.1.img_scale=(128,64)',
        # pseudo-label crop rows fitted to 64-pixel crops (the original's 15/120 at 512)
        'uda.pseudo_weight_ignore_top=2', 'uda.pseudo_weight_ignore_bottom=8',
        'runner.max_iters=2', 'log_config.interval=1', 'lr_config.warmup_iters=1']
    gen_dir, work_dirs = tmp_path / 'generated', tmp_path / 'work_dirs'
    config = 'configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py'
    # run_experiments.py's main in this process (it trains through tools/train.py's main);
    # its command line is run as a subprocess by tests/integration/test_mic_hrda.py.
    monkeypatch.chdir(REPO)
    run_experiments.main(['--config', config, '--gen-dir', str(gen_dir),
                          '--work-dirs', str(work_dirs), '--cfg-options'] + options)

    (generated, ) = (gen_dir / 'local-basic').glob('*.py')
    name = generated.stem
    assert re.fullmatch(r'\d{6}_\d{4}_gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0_'
                        r'[0-9a-f]{5}', name)
    child = mmcv.Config.fromfile(str(generated))
    assert child.name == name and child.work_dir == str(work_dirs / 'local-basic' / name)
    assert child.uda.imnet_feature_dist_lambda == 0.005  # the rest comes from the real config
    run_dir = work_dirs / 'local-basic' / name
    # No checkpoint interval is reached in 2 iterations; mmcv's hook saves the last one.
    checkpoint = torch.load(run_dir / 'iter_2.pth', map_location='cpu', weights_only=False)
    groups = split_by_prefix(checkpoint['state_dict'])
    assert set(groups) == {'model.', 'ema_model.', 'imnet_model.'}
    assert 'backbone.block1.0.attn.sr.weight' in groups['model.']
    records = train_records(run_dir)
    assert [r['iter'] for r in records] == [1, 2]
    for record in records:
        assert set(record) - RUNNER_KEYS == SOURCE_KEYS | FD_KEYS | MIX_KEYS
    # The config tools/train.py dumped into the run folder reproduces the overrides.
    dumped = mmcv.Config.fromfile(str(run_dir / generated.name))
    assert dumped.model.backbone.embed_dims == [8, 16, 32, 64]
    assert dumped.data.train.source.pipeline[3].crop_size == (64, 64)

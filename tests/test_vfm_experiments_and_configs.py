"""Foundation-model encoder runs: experiment 90, toy id 6 and configs/vfm (docs/config.md section
"Foundation-model encoders")."""
import copy
import os.path as osp

import pytest
from mmcv import Config

import run_experiments
from experiments import generate_experiment_cfgs

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')


def shrink_vit(cfg):
    """A 4-block 32-channel ViT of the same timm family, no weights file: cheap to build."""
    backbone = cfg.model.backbone
    backbone.update(checkpoint_path=None, embed_dim=32, depth=4, num_heads=2,
                    out_indices=[0, 1, 2, 3])
    cfg.model.neck.in_channels = [32] * 4
    return cfg


def test_experiment_90_runs_and_names():
    cfgs = generate_experiment_cfgs(90)
    assert len(cfgs) == 6
    assert sorted((c['name_encoder'], c['seed']) for c in cfgs) == [
        (e, s) for e in ('dinov2vitb14', 'dinov2vitl14') for s in (0, 1, 2)]
    for cfg in cfgs:
        assert cfg['name_encoder'] in cfg['name'] and cfg['name'].endswith(f"_s{cfg['seed']}")
        assert cfg['optimizer'] == dict(lr=5e-05, paramwise_cfg=dict(
            custom_keys=dict(backbone=dict(lr_mult=0.1))))
        assert '_base_/uda/dacs_a999.py' in cfg['_base_']
        assert cfg['uda']['mask_generator']['mask_block_size'] == 64


def test_dry_run_of_90_writes_configs_that_match_the_hand_written_ones(tmp_path):
    runs = run_experiments.main(['--exp', '90', '--dry-run', '--gen-dir', str(tmp_path)])
    assert len(runs) == 6
    for size in ('b', 'l'):
        path, = [p for name, p in runs if f'dinov2vit{size}14' in name and '_s0_' in name]
        generated = Config.fromfile(path)
        written = Config.fromfile(osp.join(CONFIGS, f'vfm/gtaHR2csHR_mic_dinov2_vit{size}14.py'))
        for key in ('model', 'uda', 'optimizer', 'lr_config', 'runner'):
            assert generated[key] == written[key], (size, key)
        assert generated.data.train == written.data.train
        assert generated.data.samples_per_gpu == written.data.samples_per_gpu


@pytest.mark.parametrize('size,channels,blocks', [('b', 768, [2, 5, 8, 11]),
                                                  ('l', 1024, [5, 11, 17, 23])])
def test_vfm_configs_build_and_run_a_mic_step(size, channels, blocks):
    from mmseg.models import build_train_model
    cfg = Config.fromfile(osp.join(CONFIGS, f'vfm/gtaHR2csHR_mic_dinov2_vit{size}14.py'))
    assert cfg.model.backbone.out_indices == blocks
    assert cfg.model.neck.in_channels == [channels] * 4
    assert cfg.model.backbone.checkpoint_path == f'pretrained/dinov2_vit{size}14.pth'
    assert cfg.uda.imnet_feature_dist_lambda == 0 and cfg.uda.alpha == 0.999
    model = build_train_model(shrink_vit(copy.deepcopy(cfg)))
    keys = model.state_dict().keys()
    assert 'model.backbone.timm_model.blocks.3.attn.qkv.weight' in keys
    assert 'ema_model.neck.convs.3.conv.weight' in keys
    assert not any(k.startswith('imnet_model.') for k in keys)


def test_missing_weights_name_the_file_and_the_readme_section(tmp_path):
    from mmseg.models import build_segmentor
    cfg = Config.fromfile(osp.join(CONFIGS, 'vfm/gtaHR2csHR_mic_dinov2_vitb14.py'))
    cfg.model.backbone.update(checkpoint_path=str(tmp_path / 'dinov2_vitb14.pth'), embed_dim=32,
                              depth=4, num_heads=2, out_indices=[0, 1, 2, 3])
    with pytest.raises(FileNotFoundError, match=r'dinov2_vitb14.pth not found.*README'):
        build_segmentor(cfg.model)


def test_toy_id_6_is_the_toy_vit_config(tmp_path):
    toy = generate_experiment_cfgs(6)
    assert len(toy) == 3 and all(c['name_encoder'] == 'vittiny14' for c in toy)
    written = Config.fromfile(osp.join(CONFIGS, 'toy/toy_gta2cs_mic_vit.py'))
    (_, path), = [run for run in run_experiments.main(
        ['--exp', '6', '--dry-run', '--gen-dir', str(tmp_path)]) if '_s0_' in run[0]]
    generated = Config.fromfile(path)
    for key in ('backbone', 'neck'):
        strip = lambda d: {k: v for k, v in d.items() if v is not None}  # noqa: E731
        assert strip(generated.model[key]) == strip(written.model[key]), key
    for key in ('in_channels', 'channels', 'decoder_params'):
        assert generated.model.decode_head[key] == written.model.decode_head[key], key
    for key in ('uda', 'optimizer', 'runner'):
        assert generated[key] == written[key], key


def test_train_preflight_lists_the_missing_vit_weights():
    from tools.train import find_missing_inputs
    cfg = Config.fromfile(osp.join(CONFIGS, 'vfm/gtaHR2csHR_mic_dinov2_vitl14.py'))
    assert 'pretrained/dinov2_vitl14.pth' in find_missing_inputs(cfg)


@pytest.mark.parametrize('size', ['b', 'l'])
def test_vfm_configs_comment_every_setting(size):
    """Every top-level setting has a comment above it (or follows the meta block's comment)."""
    lines = open(osp.join(CONFIGS, f'vfm/gtaHR2csHR_mic_dinov2_vit{size}14.py')).read().splitlines()
    meta = ('name', 'exp', 'name_', 'n_gpus', 'gpu_model')
    for i, line in enumerate(lines):
        if line and not line[0].isspace() and ' = ' in line and not line.startswith('#'):
            key = line.split(' = ')[0]
            previous = lines[i - 1].strip()
            assert previous.startswith('#') or (key.startswith(meta) and i > 0), key

"""The hand-written configs: they load, hold the values of docs/REFERENCE.md §1.3/§4/§6, and build their networks
with the parameter counts of the original (docs/REFERENCE.md §2.2)."""
import copy
import glob
import os.path as osp

import pytest
import torch
from config_helpers import unformatted_config_text
from mmcv import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')


def config_files():
    files = []
    for path in sorted(glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)):
        rel = osp.relpath(path, CONFIGS)
        if not rel.startswith('generated'):
            files.append(rel)
    return files


@pytest.mark.parametrize('rel', config_files())
def test_every_config_loads(rel):
    cfg = Config.fromfile(osp.join(CONFIGS, rel))
    assert len(cfg) > 0
    # No leftover _delete_ markers after merging.
    assert '_delete_' not in unformatted_config_text(cfg)


# docs/REFERENCE.md §1.3: (source type, source resize, target type, target resize, crop, test scale)
UDA_DATASETS = {
    'uda_gta_to_cityscapes_512x512': ('GTADataset', (1280, 720), 'CityscapesDataset',
                                      (1024, 512), 512),
    'uda_gtaHR_to_cityscapesHR_1024x1024': ('GTADataset', (2560, 1440), 'CityscapesDataset',
                                            (2048, 1024), 1024),
    'uda_synthia_to_cityscapes_512x512': ('SynthiaDataset', (1280, 760), 'CityscapesDataset',
                                          (1024, 512), 512),
    'uda_synthiaHR_to_cityscapesHR_1024x1024': ('SynthiaDataset', (2560, 1520),
                                                'CityscapesDataset', (2048, 1024), 1024),
    'uda_cityscapes_to_acdc_512x512': ('CityscapesDataset', (1024, 512), 'ACDCDataset',
                                       (960, 540), 512),
    'uda_cityscapesHR_to_acdcHR_1024x1024': ('CityscapesDataset', (2048, 1024), 'ACDCDataset',
                                             (1920, 1080), 1024),
    'uda_cityscapes_to_darkzurich_512x512': ('CityscapesDataset', (1024, 512),
                                             'DarkZurichDataset', (960, 540), 512),
    'uda_cityscapesHR_to_darkzurichHR_1024x1024': ('CityscapesDataset', (2048, 1024),
                                                   'DarkZurichDataset', (1920, 1080), 1024),
    'uda_cityscapes_to_cityscapes_512x512': ('CityscapesDataset', (1024, 512),
                                             'CityscapesDataset', (1024, 512), 512),
}


def _by_type(pipeline):
    return {step['type']: step for step in pipeline}


@pytest.mark.parametrize('name', sorted(UDA_DATASETS))
def test_uda_dataset_configs_follow_spec(name):
    src_type, src_scale, trg_type, trg_scale, crop = UDA_DATASETS[name]
    cfg = Config.fromfile(osp.join(CONFIGS, '_base_', 'datasets', f'{name}.py'))
    data = cfg.data
    assert (data.samples_per_gpu, data.workers_per_gpu) == (2, 4)
    assert data.train.type == 'UDADataset'
    assert data.train.source.type == src_type and data.train.target.type == trg_type
    src, trg = _by_type(data.train.source.pipeline), _by_type(data.train.target.pipeline)
    assert tuple(src['Resize'].img_scale) == src_scale
    assert tuple(trg['Resize'].img_scale) == trg_scale
    assert src['RandomCrop'].cat_max_ratio == 0.75
    for steps in (src, trg):
        assert tuple(steps['RandomCrop'].crop_size) == (crop, crop)
        assert steps['RandomFlip'].prob == 0.5
        assert 'PhotoMetricDistortion' not in steps  # colour augmentation is inside DACS
        assert tuple(steps['Pad'].size) == (crop, crop)
        assert (steps['Pad'].pad_val, steps['Pad'].seg_pad_val) == (0, 255)
        assert steps['Normalize'].mean == [123.675, 116.28, 103.53]
        assert steps['Normalize'].to_rgb is True
    # Source order of docs/REFERENCE.md §1.3
    assert [s['type'] for s in data.train.source.pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomCrop', 'RandomFlip',
        'Normalize', 'Pad', 'DefaultFormatBundle', 'Collect']
    for split in ('val', 'test'):
        assert data[split].type == trg_type
        tta = data[split].pipeline[1]
        assert tta.type == 'MultiScaleFlipAug' and tta.flip is False
        assert tuple(tta.img_scale) == trg_scale
        assert 'val' in data[split].img_dir  # tools/test.py --test-set swaps val for test


def test_dataset_roots_and_layouts():
    cs2dz = Config.fromfile(osp.join(
        CONFIGS, '_base_/datasets/uda_cityscapesHR_to_darkzurichHR_1024x1024.py')).data
    assert cs2dz.train.source.data_root == 'data/cityscapes/'
    assert cs2dz.train.source.img_dir == 'leftImg8bit/train'
    assert cs2dz.train.source.ann_dir == 'gtFine/train'
    assert cs2dz.train.target.data_root == 'data/dark_zurich/'
    assert cs2dz.val.img_dir == 'rgb_anon/val' and cs2dz.val.ann_dir == 'gt/val'
    syn = Config.fromfile(osp.join(
        CONFIGS, '_base_/datasets/uda_synthia_to_cityscapes_512x512.py')).data
    assert (syn.train.source.img_dir, syn.train.source.ann_dir) == ('RGB', 'GT/LABELS')
    acdc = Config.fromfile(osp.join(
        CONFIGS, '_base_/datasets/uda_cityscapes_to_acdc_512x512.py')).data
    assert (acdc.train.target.img_dir, acdc.train.target.ann_dir) == ('rgb_anon/train',
                                                                      'gt/train')


def test_mic_hrda_config_is_spec_6():
    cfg = Config.fromfile(osp.join(CONFIGS, 'mic/gtaHR2csHR_mic_hrda.py'))
    assert cfg.seed == 2
    m = cfg.model
    assert m.type == 'HRDAEncoderDecoder' and m.scales == [1, 0.5]
    assert tuple(m.hr_crop_size) == (512, 512) and m.feature_scale == 0.5
    assert m.crop_coord_divisible == 8 and m.hr_slide_inference is True
    assert m.decode_head.type == 'HRDAHead'
    assert m.decode_head.single_scale_head == 'DAFormerHead'
    assert m.decode_head.attention_classwise is True and m.decode_head.hr_loss_weight == 0.1
    assert m.decode_head.decoder_params.fusion_cfg.type == 'aspp'
    assert m.test_cfg == dict(mode='slide', batched_slide=True, stride=[512, 512],
                              crop_size=[1024, 1024])
    assert m.pretrained == 'pretrained/mit_b5.pth' and m.backbone.type == 'mit_b5'
    d = cfg.data
    assert d.train.rare_class_sampling == dict(min_pixels=3000, class_temp=0.01,
                                               min_crop_ratio=2.0)
    assert d.train.target.crop_pseudo_margins == [30, 240, 30, 30]
    assert (d.workers_per_gpu, d.samples_per_gpu) == (1, 2)
    u = cfg.uda
    assert u.type == 'DACS' and u.alpha == 0.999 and u.imnet_feature_dist_lambda == 0.005
    assert (u.mask_mode, u.mask_alpha, u.mask_pseudo_threshold, u.mask_lambda) == (
        'separatetrgaug', 'same', 'same', 1)
    assert u.mask_generator == dict(type='block', mask_ratio=0.7, mask_block_size=64)
    assert cfg.optimizer_config is None
    assert cfg.optimizer.type == 'AdamW' and cfg.optimizer.lr == 6e-5
    assert cfg.optimizer.paramwise_cfg.custom_keys == dict(
        head=dict(lr_mult=10.0), pos_block=dict(decay_mult=0.0), norm=dict(decay_mult=0.0))
    assert cfg.lr_config.warmup_iters == 1500 and cfg.lr_config.min_lr == 0.0
    assert cfg.runner == dict(type='IterBasedRunner', max_iters=40000)
    assert cfg.checkpoint_config == dict(by_epoch=False, interval=40000, max_keep_ckpts=1)
    assert cfg.evaluation == dict(interval=4000, metric='mIoU')
    assert (cfg.n_gpus, cfg.gpu_model) == (1, 'NVIDIATITANRTX')
    assert (cfg.name, cfg.exp) == ('gtaHR2csHR_mic_hrda_s2', 'basic')
    assert cfg.name_dataset == 'gtaHR2cityscapesHR_1024x1024'
    assert cfg.name_architecture == 'hrda1-512-0.1_daformer_sepaspp_sl_mitb5'
    assert cfg.name_encoder == 'mitb5'
    assert cfg.name_decoder == 'hrda1-512-0.1_daformer_sepaspp_sl'
    assert cfg.name_uda == 'dacs_a999_fdthings_rcs0.01-2.0_cpl2_m64-0.7-spta'
    assert cfg.name_opt == 'adamw_6e-05_pmTrue_poly10warm_1x2_40k'


def test_mic_hrda_config_comments_every_setting():
    """Every top-level setting of the annotated config has a comment above it or its block."""
    lines = open(osp.join(CONFIGS, 'mic/gtaHR2csHR_mic_hrda.py')).read().splitlines()
    meta = ('name', 'exp', 'name_', 'n_gpus', 'gpu_model')
    for i, line in enumerate(lines):
        if line and not line[0].isspace() and ' = ' in line and not line.startswith('#'):
            key = line.split(' = ')[0]
            previous = lines[i - 1].strip()
            follows_meta = key.startswith(meta) and not previous.startswith('#')
            assert previous.startswith('#') or follows_meta, f'no comment above {key!r}'


def test_hrda_and_daformer_configs():
    hrda = Config.fromfile(osp.join(CONFIGS, 'hrda/gtaHR2csHR_hrda.py'))
    assert hrda.model.type == 'HRDAEncoderDecoder'
    assert hrda.uda.mask_mode is None and hrda.uda.mask_generator is None
    daf = Config.fromfile(osp.join(
        CONFIGS, 'daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py'))
    assert daf.seed == 0 and daf.model.type == 'EncoderDecoder'
    assert daf.data.train.rare_class_sampling.min_crop_ratio == 0.5
    assert (daf.uda.pseudo_weight_ignore_top, daf.uda.pseudo_weight_ignore_bottom) == (15, 120)
    assert tuple(daf.data.train.source.pipeline[2].img_scale) == (1280, 720)


# The resolved types of each runnable config, written out from the paper's set-ups (docs/config.md,
# docs/train.md): segmentor, backbone, decode head (single-scale head of HRDA), UDA method, and the
# train / val datasets (UDA source and target).
RUNNABLE_CONFIG_TYPES = {
    'mic/gtaHR2csHR_mic_hrda.py': ('HRDAEncoderDecoder', 'mit_b5', 'HRDAHead', 'DAFormerHead',
                                   'DACS', ('GTADataset', 'CityscapesDataset')),
    'hrda/gtaHR2csHR_hrda.py': ('HRDAEncoderDecoder', 'mit_b5', 'HRDAHead', 'DAFormerHead',
                                'DACS', ('GTADataset', 'CityscapesDataset')),
    'daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py': (
        'EncoderDecoder', 'mit_b5', 'DAFormerHead', None, 'DACS',
        ('GTADataset', 'CityscapesDataset')),
    'toy/toy_gta2cs_mic_daformer.py': ('EncoderDecoder', 'MixVisionTransformer', 'DAFormerHead',
                                       None, 'DACS', ('GTADataset', 'CityscapesDataset')),
    'toy/toy_gta2cs_daformer.py': ('EncoderDecoder', 'MixVisionTransformer', 'DAFormerHead',
                                   None, 'DACS', ('GTADataset', 'CityscapesDataset')),
    'toy/toy_gta2cs_source_only.py': ('EncoderDecoder', 'MixVisionTransformer', 'DAFormerHead',
                                      None, None, 'GTADataset'),
    'toy/toy_cs_oracle.py': ('EncoderDecoder', 'MixVisionTransformer', 'DAFormerHead', None,
                             None, 'CityscapesDataset'),
}
TINY_MIT = dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64], num_heads=[1, 1, 2, 4],
                depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1])


def _on_toy_data(dataset_cfg, toy_root):
    """The dataset config with its data_root moved to the generated toy data (same layout)."""
    dataset_cfg = copy.deepcopy(dataset_cfg)
    if dataset_cfg.type == 'UDADataset':
        dataset_cfg.source = _on_toy_data(dataset_cfg.source, toy_root)
        dataset_cfg.target = _on_toy_data(dataset_cfg.target, toy_root)
        if 'rare_class_sampling' in dataset_cfg:  # 128×64 toy images hold few pixels a class
            dataset_cfg.rare_class_sampling.min_pixels = 0
        return dataset_cfg
    folder = 'gta' if dataset_cfg.type == 'GTADataset' else 'cityscapes'
    dataset_cfg.data_root = str(toy_root / folder)
    return dataset_cfg


@pytest.mark.parametrize('rel', sorted(RUNNABLE_CONFIG_TYPES))
def test_runnable_configs_resolve_to_the_expected_types_and_build(rel, toy_data_root):
    from mmseg.datasets import build_dataset
    from mmseg.models import build_train_model
    segmentor, backbone, head, single_head, uda, train_data = RUNNABLE_CONFIG_TYPES[rel]
    cfg = Config.fromfile(osp.join(CONFIGS, rel))
    assert (cfg.model.type, cfg.model.backbone.type, cfg.model.decode_head.type) == \
        (segmentor, backbone, head)
    assert cfg.model.decode_head.get('single_scale_head') == single_head
    assert cfg.get('uda', {}).get('type') == uda
    if isinstance(train_data, tuple):
        assert cfg.data.train.type == 'UDADataset'
        assert (cfg.data.train.source.type, cfg.data.train.target.type) == train_data
    else:
        assert cfg.data.train.type == train_data
    assert cfg.data.val.type == cfg.data.test.type == 'CityscapesDataset'
    # Build the whole training model (UDA keys included) on the tiny MiT, and the datasets.
    cfg.model.pretrained = None
    cfg.model.backbone = copy.deepcopy(TINY_MIT)
    cfg.model.decode_head.in_channels = TINY_MIT['embed_dims']
    model = build_train_model(copy.deepcopy(cfg))
    built = model.get_model() if uda else model
    assert type(model).__name__ == (uda or segmentor)
    assert (type(built).__name__, type(built.decode_head).__name__) == (segmentor, head)
    if single_head:
        assert type(built.decode_head.head).__name__ == single_head
    train = build_dataset(_on_toy_data(cfg.data.train, toy_data_root))
    assert len(train) > 0
    if uda:
        assert (type(train.source).__name__, type(train.target).__name__) == train_data
        assert train.rcs_enabled == ('rare_class_sampling' in cfg.data.train)
    else:
        assert type(train).__name__ == train_data
    val = build_dataset(_on_toy_data(cfg.data.val, toy_data_root))
    assert type(val).__name__ == 'CityscapesDataset' and len(val) == 3


def _n_params(module):
    return sum(p.numel() for p in module.parameters())


def _build_segmentor_from(rel, **model_overrides):
    from mmseg.models import build_segmentor
    cfg = Config.fromfile(osp.join(CONFIGS, rel))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pretrained = None
    for key, value in model_overrides.items():
        node = model_cfg
        *path, last = key.split('.')
        for p in path:
            node = node[p]
        node[last] = value
    return build_segmentor(model_cfg)


# docs/REFERENCE.md §2.2: whole-segmentor parameter counts of the original (and of the decode heads)
@pytest.mark.parametrize('rel,overrides,total,head', [
    ('_base_/models/daformer_sepaspp_mitb5.py', {}, 85_155_283, 3_712_275),
    ('_base_/models/daformer_conv1_mitb5.py', {}, 81_973_715, 530_707),
    ('_base_/models/segformer_mit-b5.py', {}, 84_610_406, 3_167_398),
    ('_base_/models/deeplabv2red_r50-d8.py', {'backbone.depth': 101}, 43_219_846, 700_454),
    ('mic/gtaHR2csHR_mic_hrda.py', {}, 85_685_990, None),
])
def test_model_parameter_counts(rel, overrides, total, head):
    torch.manual_seed(0)
    model = _build_segmentor_from(rel, **overrides)
    assert _n_params(model) == total
    if head is not None:
        assert _n_params(model.decode_head) == head


def test_toy_configs_build_and_run_on_a_toy_batch():
    from mmseg.models import build_train_model
    for rel in ('toy/toy_gta2cs_source_only.py', 'toy/toy_cs_oracle.py',
                'toy/toy_gta2cs_daformer.py', 'toy/toy_gta2cs_mic_daformer.py',
                'toy/toy_gta2cs_mic_hrda.py'):
        cfg = Config.fromfile(osp.join(CONFIGS, rel))
        assert tuple(cfg.crop_size) == (128, 128) and cfg.data.samples_per_gpu == 2
        assert cfg.runner.max_iters <= 1000 and cfg.log_config.interval <= 20
        # The toy warm start (tools/make_toy_pretrained.py); built here without it.
        assert cfg.model.pretrained == 'data/toy/mittiny_toygta.pth'
        assert 'data/toy/' in cfg.data.val.data_root
        cfg.model.pretrained = None
        model = build_train_model(copy.deepcopy(cfg))
        if 'uda' in cfg:
            assert cfg.optimizer_config is None
            assert cfg.uda.imnet_feature_dist_lambda == 0  # no ImageNet model for the toy MiT
            segmentor = model.get_model()
        else:
            segmentor = model
        segmentor.eval()
        with torch.no_grad():
            logits = segmentor.encode_decode(torch.zeros(1, 3, 128, 128), [dict(
                img_shape=(128, 128, 3), ori_shape=(128, 128, 3), pad_shape=(128, 128, 3),
                flip=False)])
        assert logits.shape == (1, 19, 128, 128)
    mic = Config.fromfile(osp.join(CONFIGS, 'toy/toy_gta2cs_mic_daformer.py'))
    assert mic.uda.mask_generator == dict(type='block', mask_ratio=0.7, mask_block_size=16)
    source_only = Config.fromfile(osp.join(CONFIGS, 'toy/toy_gta2cs_source_only.py'))
    assert source_only.data.train.type == 'GTADataset'
    assert source_only.data.train.data_root == 'data/toy/gta/'
    oracle = Config.fromfile(osp.join(CONFIGS, 'toy/toy_cs_oracle.py'))
    assert oracle.data.train.img_dir == 'leftImg8bit/train'

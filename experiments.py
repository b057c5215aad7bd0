"""The experiments of the MIC paper as generated configs (docs/REFERENCE.md §7), and toy experiments on data/toy.

`generate_experiment_cfgs(id)` returns one config dict per run: `_base_` (paths relative to
configs/), the overrides of the run, and the meta keys used by the result tables (name, exp,
name_dataset, name_architecture, name_encoder, name_decoder, name_uda, name_opt, gpu_model, n_gpus,
seed). run_experiments.py writes them to configs/generated/ and trains them.

Experiment IDs (3 seeds each):
  80  MIC(HRDA) on GTA/Synthia -> Cityscapes, Cityscapes -> ACDC/Dark Zurich (12 runs)
  81  MIC with other UDA methods and networks (DeepLabV2 AdvSeg/MinEnt/DACS/DAFormer, HRDA) (18)
  82  MIC(HRDA) with other masking modes (12)
  83  MIC(DAFormer) ablations: no colour aug., no masking, no EMA teacher, no confidence (12)
  84  MIC(DAFormer) mask block size x mask ratio (45)
  85  MIC for supervised learning: Cityscapes -> Cityscapes source-only with masking (3)
  86  Domain generalisation (docs/domains.md): source-only on GTA at 1024 with MIC's masking of
      colour-augmented source images and rare class sampling, no target images; evaluated on
      Cityscapes, BDD100K and Mapillary: MIC(HRDA) MiT-B5 with the feature distance, and
      DINOv2 ViT-B/14 with VFM-UDA's optimisation (6)
  87  All-synthetic -> Cityscapes: MIC(HRDA) MiT-B5 with four sources (GTA, Synthia, Synscapes,
      UrbanSyn) mixed per item, rare class sampling over their union; evaluated on
      Cityscapes, BDD100K and Mapillary (3)
  90  MIC with a foundation-model encoder: DINOv2 ViT-B/14 and ViT-L/14 (timm) + multi-level
      neck + DAFormer head, VFM-UDA's optimisation, GTA -> Cityscapes at 1024 (6)
Toy IDs, tiny DAFormer on data/toy (tools/make_toy_data.py), CPU, minutes per run; the toy MiT
starts from data/toy/mittiny_toygta.pth (tools/make_toy_pretrained.py, toy GTA only):
  1   source-only: supervised on toy GTA, evaluated on toy Cityscapes val (3)
  2   DAFormer self-training: DACS + rare class sampling, no feature distance (3)
  3   MIC(DAFormer): as 2 plus masked consistency on augmented target images, 16 px blocks (3)
  4   oracle: supervised on toy Cityscapes train (3)
  5   the toy benchmark: 1-4 together (12)
  6   toy MIC with a tiny ViT/14 encoder (timm DINOv2 architecture, 64 channels, 4 blocks) (3)
  7   MIC(HRDA): as 3 with HRDA's context and 64 px detail crops and slide inference (3)
  8   domain generalisation: as 1 (plain toy GTA, no target images) plus MIC's masking of
      colour-augmented source images, 16 px blocks (3)
  9   several sources: as 3 with two sources (toy GTA at two resolutions) mixed per item and
      rare class sampling over both; evaluated on toy Cityscapes val and toy GTA (3)
"""
import os.path as osp

from mmcv import Config

__all__ = ['generate_experiment_cfgs', 'EXPERIMENT_IDS', 'CONFIGS_DIR']

CONFIGS_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'configs')
PAPER_IDS = (80, 81, 82, 83, 84, 85, 86, 87, 90)
TOY_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
EXPERIMENT_IDS = TOY_IDS + PAPER_IDS

MASK_MODE_CODES = {
    'separate': 'sep',
    'separateaug': 'spa',
    'separatesrc': 'sps',
    'separatesrcaug': 'spsa',
    'separatetrg': 'spt',
    'separatetrgaug': 'spta',
}

# Defaults of a run; every experiment changes some of them (docs/REFERENCE.md §5, §7).
DEFAULTS = dict(
    source='gta', target='cityscapes', crop='512x512',
    architecture='daformer_sepaspp', backbone='mitb5', inference='whole',
    uda='dacs', rcs_T=None, rcs_min_crop=0.5, rcs_min_pixels=3000, plcrop=False,
    mask_mode=None, mask_alpha='same', mask_pseudo_threshold='same', mask_lambda=1,
    mask_block_size=None, mask_ratio=0, pseudo_threshold=None,
    opt='adamw', lr=0.00006, schedule='poly10warm', pmult=True,
    n_gpus=1, batch_size=2, workers_per_gpu=1, iters=40000,
    gpu_model='NVIDIAGeForceRTX2080Ti', seed=0, toy=False,
    # True: a source-only method on the plain source dataset base `<source>_to_<target>_<crop>`
    # instead of the UDA base `uda_<source>_to_<target>_<crop>` (docs/domains.md).
    plain_source=False)

# (optimizer, lr, schedule, pmult)
ADAMW = dict(opt='adamw', lr=0.00006, schedule='poly10warm', pmult=True)
SGD = dict(opt='sgd', lr=0.0025, schedule='poly10warm', pmult=False)

# Dataset pairs at 1024x1024 (HR) and 512x512; RCS min_crop_ratio scales with the crop area.
GTA2CS_HR = dict(source='gtaHR', target='cityscapesHR', crop='1024x1024', rcs_min_crop=2.0,
                 gpu_model='NVIDIATITANRTX')
SYN2CS_HR = dict(GTA2CS_HR, source='synthiaHR')
CS2ACDC_HR = dict(GTA2CS_HR, source='cityscapesHR', target='acdcHR')
CS2DZ_HR = dict(GTA2CS_HR, source='cityscapesHR', target='darkzurichHR')
GTA2CS = dict(source='gta', target='cityscapes', crop='512x512', rcs_min_crop=0.5)

# UDA methods: DAFormer's self-training (a999, feature distance, RCS) with pseudo-label
# cropping v1 at 512 (DAFormer) or v2 at 1024 (HRDA).
DAFORMER_UDA = dict(uda='dacs_a999_fdthings', rcs_T=0.01, plcrop=True, **ADAMW)
HRDA_UDA = dict(uda='dacs_a999_fdthings', rcs_T=0.01, plcrop='v2', **ADAMW)
HRDA_DAFORMER = dict(architecture='hrda1-512-0.1_daformer_sepaspp', backbone='mitb5',
                     inference='slide')
DAFORMER = dict(architecture='daformer_sepaspp', backbone='mitb5', inference='whole')

# Foundation-model encoders (TIMMBackbone + MultiLevelNeck, docs/config.md, "Foundation-model encoders"):
# timm model, local weights, blocks taken, their channels (extra keys go to timm.create_model).
VFM_BACKBONES = {
    'dinov2vitb14': dict(model_name='vit_base_patch14_dinov2', out_indices=[2, 5, 8, 11],
                         checkpoint_path='pretrained/dinov2_vitb14.pth', channels=768),
    'dinov2vitl14': dict(model_name='vit_large_patch14_dinov2', out_indices=[5, 11, 17, 23],
                         checkpoint_path='pretrained/dinov2_vitl14.pth', channels=1024),
    # Toy: DINOv2's block design at 64 channels and 4 blocks, trained from scratch.
    'vittiny14': dict(model_name='vit_small_patch14_dinov2', out_indices=[0, 1, 2, 3],
                      checkpoint_path=None, channels=64, embed_dim=64, depth=4, num_heads=2),
}
# VFM-UDA's optimisation (arXiv 2406.09896): AdamW lr 5e-5, encoder lr x 0.1 (set for the
# VFM backbones in _setup_optimisation), DACS teacher alpha 0.999 without feature distance.
VFM_UDA = dict(uda='dacs_a999', rcs_T=0.01, plcrop='v2', opt='adamw', lr=0.00005,
               schedule='poly10warm', pmult=False)
VFM_DAFORMER = dict(architecture='daformer_sepaspp_mln', inference='slide')


def _mic(mode, block, ratio, **extra):
    return dict(mask_mode=mode, mask_block_size=block, mask_ratio=ratio, **extra)


def _experiment_settings(id):
    """The list of run settings (dicts overriding DEFAULTS, without seeds) of one experiment."""
    if id == 80:
        return [
            dict(GTA2CS_HR, **HRDA_DAFORMER, **HRDA_UDA, **_mic('separatetrgaug', 64, 0.7)),
            dict(SYN2CS_HR, **HRDA_DAFORMER, **HRDA_UDA, **_mic('separatetrgaug', 64, 0.7)),
            dict(CS2ACDC_HR, **HRDA_DAFORMER, **dict(HRDA_UDA, plcrop=False),
                 **_mic('separate', 64, 0.7)),
            dict(CS2DZ_HR, **HRDA_DAFORMER, **dict(HRDA_UDA, plcrop=False),
                 **_mic('separate', 64, 0.7)),
        ]
    if id == 81:
        dlv2 = dict(architecture='dlv2red', backbone='r101v1c', inference='whole')
        mic32 = _mic('separatetrgaug', 32, 0.7)
        return [
            dict(GTA2CS, **dlv2, uda='advseg', **SGD, **mic32),
            dict(GTA2CS, **dlv2, uda='minent', **SGD, **mic32),
            dict(GTA2CS, **dlv2, uda='dacs', **ADAMW, **mic32),
            dict(GTA2CS, **dlv2, **DAFORMER_UDA, **mic32),
            dict(GTA2CS_HR, architecture='hrda1-512-0.1_dlv2red', backbone='r101v1c',
                 inference='slide', **HRDA_UDA, **_mic('separatetrgaug', 64, 0.7)),
            dict(GTA2CS, **DAFORMER, **DAFORMER_UDA, **mic32),
        ]
    if id == 82:
        return [
            dict(GTA2CS_HR, **HRDA_DAFORMER, **HRDA_UDA, **_mic('separatesrcaug', 64, 0.7)),
            dict(GTA2CS_HR, **HRDA_DAFORMER, **HRDA_UDA, **_mic('separateaug', 64, 0.7)),
            dict(CS2ACDC_HR, **HRDA_DAFORMER, **dict(HRDA_UDA, plcrop=False),
                 **_mic('separatesrc', 64, 0.7)),
            dict(CS2ACDC_HR, **HRDA_DAFORMER, **dict(HRDA_UDA, plcrop=False),
                 **_mic('separatetrg', 64, 0.7)),
        ]
    if id == 83:
        base = dict(GTA2CS, **DAFORMER, **DAFORMER_UDA)
        return [
            dict(base, **_mic('separatetrg', 32, 0.7)),  # no colour augmentation
            dict(base, **_mic('separatetrgaug', 32, 0)),  # no masking
            dict(base, **_mic('separatetrgaug', 32, 0.7, mask_alpha=0)),  # no EMA teacher
            dict(base, **_mic('separatetrgaug', 32, 0.7,
                              mask_pseudo_threshold=None)),  # no confidence weight
        ]
    if id == 84:
        base = dict(GTA2CS, **DAFORMER, **DAFORMER_UDA)
        return [
            dict(base, **_mic('separatetrgaug', block, ratio))
            for block in (16, 32, 64, 128) for ratio in (0.3, 0.5, 0.7, 0.9)
            if (block, ratio) != (32, 0.7)  # the setting of experiment 81
        ]
    if id == 85:
        return [dict(source='cityscapes', target='cityscapes', crop='512x512', **DAFORMER,
                     uda='dacs_srconly', **ADAMW, **_mic('separatesrc', 32, 0.7))]
    if id == 86:
        # Domain generalisation: 'dgHR' is no target but the evaluation on Cityscapes, BDD100K
        # and Mapillary (_base_/datasets/uda_gtaHR_to_dgHR_1024x1024.py); no pseudo-labels.
        dg = dict(GTA2CS_HR, target='dgHR', rcs_T=0.01, plcrop=False,
                  **_mic('separatesrcaug', 64, 0.7))
        return [
            dict(dg, **HRDA_DAFORMER, **ADAMW, uda='dacs_srconly_fdthings'),
            dict(dg, **VFM_DAFORMER, backbone='dinov2vitb14',
                 **dict(VFM_UDA, uda='dacs_srconly', plcrop=False), gpu_model='NVIDIAH100'),
        ]
    if id == 87:
        # 'synthHR': GTA, Synthia, Synscapes and UrbanSyn mixed per item
        # (_base_/datasets/uda_synthHR_to_cityscapesHR_1024x1024.py).
        return [dict(GTA2CS_HR, source='synthHR', **HRDA_DAFORMER, **HRDA_UDA,
                     **_mic('separatetrgaug', 64, 0.7))]
    if id == 90:
        mic64 = _mic('separatetrgaug', 64, 0.7)
        return [dict(GTA2CS_HR, **VFM_DAFORMER, backbone=backbone, **VFM_UDA, **mic64,
                     gpu_model='NVIDIAH100') for backbone in ('dinov2vitb14', 'dinov2vitl14')]
    if id in TOY_IDS:
        return _toy_settings(id)
    raise ValueError(f'unknown experiment id {id!r}; known ids: '
                     f'{", ".join(str(i) for i in EXPERIMENT_IDS)} (see experiments.py)')


# The tiny warm-started network is far less confident than an ImageNet-pretrained MiT-B5: at
# 0.968 only about a tenth of its target pixels pass, and DACS scales the whole target loss by
# that fraction (configs/toy/toy_gta2cs_daformer.py).
TOY_PSEUDO_THRESHOLD = 0.9


def _toy_settings(id):
    """Toy runs: tiny MiT warm-started from toy GTA, 128x128 crops of data/toy, 400 iterations
    on CPU; self-training with a pseudo-label threshold suited to the small network."""
    toy = dict(source='toygta', target='toycityscapes', crop='128x128',
               architecture='daformer_sepaspp', backbone='mittiny', inference='whole',
               rcs_min_pixels=100, rcs_min_crop=0.5, workers_per_gpu=0, iters=400,
               lr=0.0003, gpu_model='cpu', toy=True, pseudo_threshold=TOY_PSEUDO_THRESHOLD)
    runs = {
        1: [dict(toy, uda='source-only')],
        # No feature distance: the toy MiT has no ImageNet weights to stay close to.
        2: [dict(toy, uda='dacs', rcs_T=0.01)],
        # 16 px blocks: 8x8 blocks per 128 px crop; smaller blocks would hide less than the
        # 4x4 pixels of one cell of the decoder's stride-4 output.
        3: [dict(toy, uda='dacs', rcs_T=0.01, **_mic('separatetrgaug', 16, 0.7))],
        4: [dict(toy, uda='target-only')],
        6: [dict(toy, architecture='daformer_sepaspp_mln', backbone='vittiny14', uda='dacs',
                 rcs_T=0.01, **_mic('separatetrgaug', 16, 0.7))],
        # HRDA at toy scale: a 64 px detail crop in the 128 px crop (512 in 1024 for real).
        7: [dict(toy, uda='dacs', rcs_T=0.01, architecture='hrda1-64-0.1_daformer_sepaspp',
                 inference='slide', **_mic('separatetrgaug', 16, 0.7))],
        # Toy domain generalisation: the plain toy GTA set of id 1, no target images.
        8: [dict(toy, uda='dacs_srconly', plain_source=True,
                 **_mic('separatesrcaug', 16, 0.7))],
        # 'toysynth': toy GTA at two resolutions as two sources
        # (_base_/datasets/uda_toysynth_to_toycityscapes_128x128.py).
        9: [dict(toy, source='toysynth', uda='dacs', rcs_T=0.01,
                 **_mic('separatetrgaug', 16, 0.7))],
    }
    if id == 5:
        return runs[1] + runs[2] + runs[3] + runs[4]
    return runs[id]


def generate_experiment_cfgs(id):
    """All run configs of experiment ``id`` (seeds 0, 1, 2 for every setting) as dicts."""
    cfgs = []
    for setting in _experiment_settings(id):
        for seed in (0, 1, 2):
            cfgs.append(config_from_setting(dict(DEFAULTS, **setting, seed=seed), exp=id))
    return cfgs


def get_model_base(architecture, backbone):
    """The model base config (relative to configs/) of an architecture name without HRDA."""
    architecture = '_'.join(p for p in architecture.split('_') if not p.startswith('hrda'))
    if architecture == 'daformer_sepaspp_mln' and backbone in VFM_BACKBONES:
        return '_base_/models/daformer_sepaspp_dinov2_vitb14.py'
    if architecture.startswith('daformer_') and backbone in ('mitb5', 'mittiny'):
        return f'_base_/models/{architecture}_{backbone}.py'
    if architecture == 'segformer' and backbone == 'mitb5':
        return '_base_/models/segformer_mit-b5.py'
    bases = {
        'dlv2': '_base_/models/deeplabv2_r50-d8.py',
        'dlv2red': '_base_/models/deeplabv2red_r50-d8.py',
    }
    if architecture not in bases or backbone.startswith('mit'):
        raise ValueError(f'no model base for architecture {architecture!r} with backbone '
                         f'{backbone!r}')
    return bases[architecture]


def get_pretraining_file(backbone):
    if backbone in VFM_BACKBONES:
        return None  # TIMMBackbone loads its checkpoint_path itself
    if backbone.startswith('mitb'):
        return f'pretrained/mit_b{backbone[4:]}.pth'
    if backbone == 'mittiny':
        # Toy warm start (tools/make_toy_pretrained.py): pre-trained on toy GTA, in place of
        # ImageNet weights.
        return 'data/toy/mittiny_toygta.pth'
    return {'r50v1c': 'open-mmlab://resnet50_v1c',
            'r101v1c': 'open-mmlab://resnet101_v1c'}[backbone]


def get_backbone_cfg(backbone):
    if backbone in VFM_BACKBONES:
        return {k: v for k, v in VFM_BACKBONES[backbone].items() if k != 'channels'}
    if backbone.startswith('mitb'):
        return dict(type=f'mit_b{backbone[4:]}')
    if backbone == 'mittiny':
        return dict(type='MixVisionTransformer')
    return {'r50v1c': dict(depth=50), 'r101v1c': dict(depth=101)}[backbone]


def config_from_setting(s, exp):
    """One run config (dict) from a complete setting ``s`` (DEFAULTS keys)."""
    cfg = dict(_base_=['_base_/default_runtime.py'], gpu_model=s['gpu_model'],
               n_gpus=s['n_gpus'], seed=s['seed'])
    model_base = get_model_base(s['architecture'], s['backbone'])
    cfg['_base_'].append(model_base)
    cfg['model'] = dict(pretrained=get_pretraining_file(s['backbone']),
                        backbone=get_backbone_cfg(s['backbone']))
    if s['backbone'] in VFM_BACKBONES:
        _setup_vfm_neck(cfg, s)
    architecture_mod = s['architecture']
    if 'hrda' in architecture_mod:
        _setup_hrda(cfg, s, model_base)
    if s['inference'] == 'slide':
        crop = [int(e) for e in s['crop'].split('x')]
        cfg['model']['test_cfg'] = dict(mode='slide', batched_slide=True,
                                        stride=[e // 2 for e in crop], crop_size=crop)
        architecture_mod += '_sl'
    elif s['inference'] != 'whole':
        raise ValueError(f"inference must be 'whole' or 'slide', not {s['inference']!r}")
    _setup_data_and_uda(cfg, s)
    _setup_optimisation(cfg, s)
    _setup_names(cfg, s, architecture_mod, exp)
    return cfg


def _setup_vfm_neck(cfg, s):
    """The neck takes the ViT's channels; the toy ViT gets the toy's 64-channel decoder."""
    channels = VFM_BACKBONES[s['backbone']]['channels']
    cfg['model']['neck'] = dict(in_channels=[channels] * 4)
    if s['toy']:
        cfg['model']['neck']['out_channels'] = 64
        cfg['model']['decode_head'] = dict(in_channels=[64] * 4, channels=64,
                                           decoder_params=dict(embed_dims=64))


def _setup_hrda(cfg, s, model_base):
    """HRDA (docs/REFERENCE.md §4) around the single-scale head of the model base: `hrda1-<crop>-<hr_w>_...`."""
    hrda = [p for p in s['architecture'].split('_') if p.startswith('hrda')][0]
    _, hr_crop, hr_loss_weight = hrda.split('-')
    base_head = Config.fromfile(osp.join(CONFIGS_DIR, model_base)).model.decode_head.type
    cfg['model'].update(
        type='HRDAEncoderDecoder', scales=[1, 0.5], hr_crop_size=(int(hr_crop), int(hr_crop)),
        feature_scale=0.5, crop_coord_divisible=8, hr_slide_inference=True)
    cfg['model']['decode_head'] = dict(
        type='HRDAHead', single_scale_head=base_head, attention_classwise=True,
        hr_loss_weight=float(hr_loss_weight))
    if s['toy']:
        # The attention decoder as wide as the toy decoder (configs/toy/toy_gta2cs_mic_hrda.py).
        cfg['model']['decode_head']['attention_embed_dim'] = 64


def _setup_data_and_uda(cfg, s):
    source, target, crop, uda = s['source'], s['target'], s['crop'], s['uda']
    if uda == 'target-only':
        cfg['_base_'].append(f'_base_/datasets/{target}_{crop}.py')
    elif uda == 'source-only':
        cfg['_base_'].append(f'_base_/datasets/{source}_to_{target}_{crop}.py')
    elif s['plain_source']:  # a source-only method without a UDADataset (no RCS)
        if s['rcs_T'] is not None:
            raise ValueError('rare class sampling needs the UDA dataset base: plain_source=True '
                             'takes rcs_T=None')
        cfg['_base_'].append(f'_base_/datasets/{source}_to_{target}_{crop}.py')
        cfg['_base_'].append(f'_base_/uda/{uda}.py')
    else:
        cfg['_base_'].append(f'_base_/datasets/uda_{source}_to_{target}_{crop}.py')
        cfg['_base_'].append(f'_base_/uda/{uda}.py')
    cfg['data'] = dict(samples_per_gpu=s['batch_size'], workers_per_gpu=s['workers_per_gpu'],
                       train={})
    self_training = 'dacs' in uda or s['mask_mode'] is not None
    if self_training and s['pseudo_threshold'] is not None:
        cfg.setdefault('uda', {})['pseudo_threshold'] = s['pseudo_threshold']
    if self_training and s['plcrop'] in (True, 'v1'):
        # v1: fixed rows of the 512 px target crop (which spans the full 1024x512 frame height)
        cfg.setdefault('uda', {}).update(pseudo_weight_ignore_top=15,
                                         pseudo_weight_ignore_bottom=120)
    if self_training and s['plcrop'] == 'v2':
        # v2: margins marked on the full frame before cropping (docs/REFERENCE.md §1)
        cfg['data']['train']['target'] = dict(crop_pseudo_margins=[30, 240, 30, 30])
    if 'dacs' in uda and s['rcs_T'] is not None:
        cfg['data']['train']['rare_class_sampling'] = dict(
            min_pixels=s['rcs_min_pixels'], class_temp=s['rcs_T'],
            min_crop_ratio=s['rcs_min_crop'])
    if s['mask_mode'] is not None:
        cfg.setdefault('uda', {}).update(
            mask_mode=s['mask_mode'], mask_alpha=s['mask_alpha'],
            mask_pseudo_threshold=s['mask_pseudo_threshold'], mask_lambda=s['mask_lambda'],
            mask_generator=dict(type='block', mask_ratio=s['mask_ratio'],
                                mask_block_size=s['mask_block_size'], _delete_=True))


def _setup_optimisation(cfg, s):
    if any(m in s['uda'] for m in ('dacs', 'minent', 'advseg')):
        cfg['optimizer_config'] = None  # the UDA wrapper steps the optimiser (docs/REFERENCE.md §3.1)
    cfg['_base_'] += [f"_base_/schedules/{s['opt']}.py", f"_base_/schedules/{s['schedule']}.py"]
    custom_keys = {}
    if s['pmult']:
        custom_keys['head'] = dict(lr_mult=10.0)
    if s['backbone'].startswith('mit'):
        custom_keys['pos_block'] = dict(decay_mult=0.0)
        custom_keys['norm'] = dict(decay_mult=0.0)
    if s['backbone'] in VFM_BACKBONES and not s['toy']:
        custom_keys['backbone'] = dict(lr_mult=0.1)  # pretrained encoder (VFM-UDA)
    cfg['optimizer'] = dict(lr=s['lr'], paramwise_cfg=dict(custom_keys=custom_keys))
    iters = s['iters']
    cfg['runner'] = dict(type='IterBasedRunner', max_iters=iters)
    cfg['checkpoint_config'] = dict(by_epoch=False, interval=iters, max_keep_ckpts=1)
    cfg['evaluation'] = dict(interval=iters // 10, metric='mIoU')
    if s['toy']:
        # Short CPU runs (as configs/toy/_toy_base.py): warm up over a tenth of the run instead
        # of 1500 iterations, evaluate 4 times, log every 20 iterations.
        cfg['lr_config'] = dict(warmup_iters=iters // 10)
        cfg['evaluation']['interval'] = iters // 4
        cfg['log_config'] = dict(interval=20)


def _uda_name(s):
    """uda_mod of docs/REFERENCE.md §7.1: method + RCS + pseudo-label crop + masking."""
    uda, name = s['uda'], s['uda']
    if 'dacs' in uda and s['rcs_T'] is not None:
        name += f"_rcs{s['rcs_T']}"
        if s['rcs_min_crop'] != 0.5:
            name += f"-{s['rcs_min_crop']}"
    if ('dacs' in uda or s['mask_mode'] is not None) and s['plcrop']:
        name += '_cpl' if s['plcrop'] in (True, 'v1') else f"_cpl{s['plcrop'][1:]}"
    if s['mask_mode'] is not None:
        name += f"_m{s['mask_block_size']}-{s['mask_ratio']}-"
        if s['mask_alpha'] != 'same':
            name += f"a{s['mask_alpha']}-"
        if s['mask_pseudo_threshold'] != 'same':
            name += f"p{s['mask_pseudo_threshold']}-"
        name += MASK_MODE_CODES[s['mask_mode']]
        if s['mask_lambda'] != 1:
            name += f"-w{s['mask_lambda']}"
    return name


def _shorten(name):
    """The character rules of docs/REFERENCE.md §7.1 for run names."""
    for old, new in (('.', ''), ('True', 'T'), ('False', 'F'), ('None', 'N'), ('[', ''),
                     (']', ''), (',', 'j'), (' ', ''), ('cityscapes', 'cs'),
                     ('synthia', 'syn'), ('darkzurich', 'dzur')):
        name = name.replace(old, new)
    return name


def _setup_names(cfg, s, architecture_mod, exp):
    uda_mod = _uda_name(s)
    crop_name = f"_{s['crop']}" if s['crop'] != '512x512' else ''
    dataset = f"{s['source']}2{s['target']}{crop_name}"
    name = f"{dataset}_{uda_mod}_{architecture_mod}_{s['backbone']}_{s['schedule']}"
    if s['opt'] != 'adamw':
        name += f"_{s['opt']}"
    if s['lr'] != 0.00006:
        name += f"_{s['lr']}"
    if not s['pmult']:
        name += f"_pm{s['pmult']}"
    name += f"_s{s['seed']}"
    cfg.update(
        name=_shorten(name), exp=exp, name_dataset=dataset,
        name_architecture=f"{architecture_mod}_{s['backbone']}",
        name_encoder=s['backbone'], name_decoder=architecture_mod, name_uda=uda_mod,
        name_opt=(f"{s['opt']}_{s['lr']}_pm{s['pmult']}_{s['schedule']}_{s['n_gpus']}x"
                  f"{s['batch_size']}_{s['iters'] // 1000}k"))


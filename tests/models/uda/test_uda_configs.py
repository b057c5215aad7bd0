"""The UDA base configs hold docs/REFERENCE.md §3.2 / §3.5's keys and values and build on a tiny model."""
import pytest
import torch
from mmcv import Config

from mmseg.models import build_train_model
from uda_helpers import tiny_encoder_decoder_cfg

THINGS = [6, 7, 11, 12, 13, 14, 15, 16, 17, 18]
DACS_SPEC = dict(
    type='DACS', source_only=False, alpha=0.99, pseudo_threshold=0.968,
    pseudo_weight_ignore_top=0, pseudo_weight_ignore_bottom=0, imnet_feature_dist_lambda=0,
    imnet_feature_dist_classes=None, imnet_feature_dist_scale_min_ratio=None, mix='class',
    blur=True, color_jitter_strength=0.2, color_jitter_probability=0.2, mask_mode=None,
    mask_alpha='same', mask_pseudo_threshold='same', mask_lambda=0, mask_generator=None,
    debug_img_interval=1000, print_grad_magnitude=False)
MIC_OWN = dict(alpha=0.999, mask_alpha='same', mask_pseudo_threshold='same',
               pseudo_threshold=0.968, pseudo_weight_ignore_top=0, pseudo_weight_ignore_bottom=0,
               blur=True, color_jitter_strength=0.2, color_jitter_probability=0.2,
               mask_mode=None, mask_lambda=0, mask_generator=None)
EXPECTED = {
    'dacs.py': DACS_SPEC,
    'dacs_a999_fdthings.py': dict(DACS_SPEC, alpha=0.999, imnet_feature_dist_lambda=0.005,
                                  imnet_feature_dist_classes=THINGS,
                                  imnet_feature_dist_scale_min_ratio=0.75),
    'dacs_fd.py': dict(DACS_SPEC, imnet_feature_dist_lambda=0.005),
    'dacs_fdthings.py': dict(DACS_SPEC, imnet_feature_dist_lambda=0.005,
                             imnet_feature_dist_classes=THINGS,
                             imnet_feature_dist_scale_min_ratio=0.75),
    'dacs_srconly.py': dict(DACS_SPEC, source_only=True),
    'dacs_srconly_fdthings.py': dict(DACS_SPEC, source_only=True, imnet_feature_dist_lambda=0.005,
                                     imnet_feature_dist_classes=THINGS,
                                     imnet_feature_dist_scale_min_ratio=0.75),
    'advseg.py': dict(type='AdvSeg', discriminator_type='LS', lr_D=1e-4, lr_D_power=0.9,
                      lr_D_min=0, lambda_adv_target=dict(main=0.001, aux=0.0002),
                      debug_img_interval=1000, **MIC_OWN),
    'minent.py': dict(type='MinEnt', lambda_ent=dict(main=0.001, aux=0.0002),
                      debug_img_interval=1000, **MIC_OWN),
}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_uda_base_config(repo_root, name):
    cfg = Config.fromfile(str(repo_root / 'configs' / '_base_' / 'uda' / name))
    assert cfg.uda.to_dict() == EXPECTED[name]
    if name.startswith('dacs'):
        assert cfg.use_ddp_wrapper is True
    cfg.model = tiny_encoder_decoder_cfg()
    cfg.runner = dict(type='IterBasedRunner', max_iters=10)
    torch.manual_seed(0)
    method = build_train_model(cfg)
    assert type(method).__name__ == EXPECTED[name]['type']

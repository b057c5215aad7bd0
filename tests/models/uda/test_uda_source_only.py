"""Source-only DACS (domain generalisation, docs/domains.md): a plain source batch without
target images, with the feature distance, MIC's source masking and HRDA."""
import math

import pytest
import torch

from mmseg.models import UDA
from uda_helpers import CallRecorder, deterministic_cfg, make_uda_batch, tiny_hrda_cfg

THINGS = [6, 7, 11, 12, 13, 14, 15, 16, 17, 18]
SOURCE_KEYS = ('img', 'img_metas', 'gt_semantic_seg')


def _build(model, **uda):
    torch.manual_seed(0)
    method = UDA.build(dict(type='DACS', model=model, max_iters=10, source_only=True, **uda))
    method.train()
    return method


def _mic(mode='separatesrcaug'):
    return dict(mask_mode=mode, mask_lambda=1,
                mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=16))


def _step(method, batch, seed=5):
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1)
    torch.manual_seed(seed)  # the same colour-augmentation and mask draws for both batches
    return method.train_step(batch, optimizer)['log_vars']


def test_plain_source_batch_trains_exactly_as_a_uda_batch_whose_target_is_ignored():
    """Experiment 85's path (UDADataset, target ignored) and the plain dataset's give the same
    losses and weights: the target images play no part in a source-only step."""
    uda = dict(imnet_feature_dist_lambda=0.005, imnet_feature_dist_classes=THINGS,
               imnet_feature_dist_scale_min_ratio=0.75, **_mic())
    with_target = _build(deterministic_cfg(), **uda)
    plain = _build(deterministic_cfg(), **uda)
    uda_batch = make_uda_batch(seed=2)
    plain_batch = {k: uda_batch[k] for k in SOURCE_KEYS}
    log_vars = _step(plain, plain_batch)
    assert set(log_vars) == {'decode.loss_seg', 'decode.acc_seg', 'src.loss_imnet_feat_dist',
                             'masked.decode.loss_seg', 'masked.decode.acc_seg'}
    assert log_vars == _step(with_target, uda_batch)
    for a, b in zip(plain.state_dict().values(), with_target.state_dict().values()):
        assert torch.equal(a, b)
    assert plain.local_iter == 1 and plain.ema_model is None


def test_source_only_hrda_masks_the_source_image_with_the_source_label():
    method = _build(tiny_hrda_cfg(), **_mic('separatesrc'))
    recorder = CallRecorder(method.get_model())
    batch = {k: v for k, v in make_uda_batch(seed=1).items() if k in SOURCE_KEYS}
    log_vars = _step(method, batch)
    for prefix in ('', 'masked.'):
        for key in ('decode.loss_seg', 'decode.hr.loss_seg'):
            assert math.isfinite(log_vars[prefix + key]), prefix + key
    assert not any(k.startswith('mix.') for k in log_vars)
    source, masked = recorder.calls
    assert torch.equal(masked['gt'], batch['gt_semantic_seg']) and masked['seg_weight'] is None
    # Block masking: each pixel is the source pixel or 0 (the mean colour); about 70% are 0.
    kept = masked['img'] != 0
    assert torch.equal(masked['img'][kept], batch['img'][kept])
    assert 0.5 < 1 - kept.float().mean().item() < 0.9
    assert {k.split('.')[0] for k in method.state_dict()} == {'model'}


def test_target_mask_modes_with_source_only_are_a_config_error():
    for mode in ('separate', 'separateaug', 'separatetrg', 'separatetrgaug'):
        with pytest.raises(ValueError, match=f"uda.mask_mode='{mode}' masks target images, but "
                           "uda.source_only=True"):
            _build(deterministic_cfg(), **_mic(mode))


def test_dacs_without_source_only_names_the_missing_target():
    torch.manual_seed(0)
    method = UDA.build(dict(type='DACS', model=deterministic_cfg(), max_iters=10))
    batch = {k: v for k, v in make_uda_batch().items() if k in SOURCE_KEYS}
    with pytest.raises(ValueError, match='no target images.*uda.source_only=True'):
        _step(method, batch)


def test_source_only_with_a_dinov2_vit_encoder():
    """The foundation-model encoders (configs/vfm) train source-only too: a 4-block, 32-channel
    ViT of timm's DINOv2 family (random weights) with the multi-level neck."""
    cfg = deterministic_cfg()
    cfg['backbone'] = dict(type='TIMMBackbone', model_name='vit_small_patch14_dinov2',
                           out_indices=[0, 1, 2, 3], norm=True, embed_dim=32, depth=4,
                           num_heads=2)
    cfg['neck'] = dict(type='MultiLevelNeck', in_channels=[32] * 4, out_channels=16,
                       out_strides=[4, 8, 16, 32])
    cfg['decode_head']['in_channels'] = [16] * 4
    method = _build(cfg, **_mic())
    block = method.get_model().backbone.timm_model.blocks[1].mlp.fc1.weight
    before = block.detach().clone()
    batch = {k: v for k, v in make_uda_batch(seed=4).items() if k in SOURCE_KEYS}
    log_vars = _step(method, batch)
    assert set(log_vars) == {'decode.loss_seg', 'decode.acc_seg', 'masked.decode.loss_seg',
                             'masked.decode.acc_seg'}
    assert all(math.isfinite(v) for v in log_vars.values())
    assert not torch.equal(block, before)  # the encoder learns from both losses

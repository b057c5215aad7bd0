"""DACS + FD + MIC and AdvSeg on a tiny HRDAEncoderDecoder (docs/REFERENCE.md §4 where it meets docs/REFERENCE.md §3)."""
import copy

import pytest
import torch

from mmseg.models import UDA
from uda_helpers import CallRecorder, make_uda_batch, tiny_hrda_cfg

THINGS = [6, 7, 11, 12, 13, 14, 15, 16, 17, 18]


def test_dacs_fd_mic_step_on_hrda():
    torch.manual_seed(0)
    method = UDA.build(dict(
        type='DACS', model=tiny_hrda_cfg(), max_iters=10, alpha=0.999, pseudo_threshold=0.0,
        imnet_feature_dist_lambda=0.005, imnet_feature_dist_classes=THINGS,
        imnet_feature_dist_scale_min_ratio=0.75, mask_mode='separatetrgaug', mask_lambda=1,
        mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=16)))
    method.train()
    batch = make_uda_batch(seed=0, valid_pseudo_mask=True)
    reference = copy.deepcopy(method.get_model())
    recorder = CallRecorder(method.get_model())
    out = method.train_step(batch, torch.optim.SGD(method.get_model().parameters(), lr=0.01))
    log_vars = out['log_vars']
    for prefix in ('', 'mix.', 'masked.'):
        for key in ('decode.loss_seg', 'decode.acc_seg', 'decode.hr.loss_seg',
                    'decode.hr.acc_seg'):
            assert prefix + key in log_vars
    assert 'src.loss_imnet_feat_dist' in log_vars
    # pseudo-labels: the teacher (a copy at iteration 0) fuses context and sliding detail
    with torch.no_grad():
        pseudo_label = reference.generate_pseudo_label(batch['target_img'], None).argmax(1)
    masked = recorder.calls[2]
    assert torch.equal(masked['gt'][:, 0], pseudo_label)
    # full-size labels and weights go to the segmentor (it crops the detail part itself)
    assert masked['seg_weight'].shape == (2, 64, 64)
    assert torch.all(masked['seg_weight'][:, :4] == 0)
    assert all(p.grad is None for p in method.get_ema_model().parameters())
    assert {k.split('.')[0] for k in method.state_dict()} == {'model', 'ema_model',
                                                              'imnet_model'}


def test_advseg_on_hrda_discriminates_half_size_predictions():
    torch.manual_seed(0)
    method = UDA.build(dict(type='AdvSeg', model=tiny_hrda_cfg(), max_iters=10))
    method.train()
    seen = []
    method.model_D['main'].register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    out = method.train_step(make_uda_batch(), torch.optim.SGD(method.parameters(), lr=0.01))
    assert {'G_trg.loss.main', 'D_src.loss.main', 'D_trg.loss.main'} <= set(out['log_vars'])
    assert seen and all(shape[-2:] == (32, 32) for shape in seen)


def test_feature_distance_with_features_of_all_scales_is_refused():
    """feature_scale='all' yields two feature sets; the FD compares one (docs/REFERENCE.md §3.3 step 3)."""
    model_cfg = dict(tiny_hrda_cfg(), feature_scale='all')
    with pytest.raises(ValueError, match="feature_scale='all'"):
        UDA.build(dict(type='DACS', model=model_cfg, max_iters=10,
                       imnet_feature_dist_lambda=0.005))
    assert UDA.build(dict(type='DACS', model=model_cfg, max_iters=10)).imnet_model is None

"""MIC (MaskingConsistencyModule) inside DACS: the six modes, lambda, and its own teacher."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmseg.models import UDA
from uda_helpers import CallRecorder, deterministic_cfg, make_uda_batch

BLOCK = 16


def build_mic_dacs(mask_mode, **uda):
    torch.manual_seed(0)
    cfg = dict(type='DACS', model=deterministic_cfg(), max_iters=10, mask_mode=mask_mode,
               mask_generator=dict(type='block', mask_ratio=0.5, mask_block_size=BLOCK))
    cfg.update(uda)
    method = UDA.build(cfg)
    method.train()
    return method


def sgd(method):
    return torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1)


def masked_out(img):
    """Pixels that are 0 on every channel (B x H x W)."""
    return (img == 0).all(1)


def assert_block_aligned(zero):
    b, h, w = zero.shape
    blocks = zero.view(b, h // BLOCK, BLOCK, w // BLOCK, BLOCK).float().mean(dim=(2, 4))
    assert torch.all((blocks == 0) | (blocks == 1))
    assert 0 < zero.float().mean() < 1


@pytest.mark.parametrize('mask_mode', ['separate', 'separateaug', 'separatesrc',
                                       'separatesrcaug', 'separatetrg', 'separatetrgaug'])
def test_mic_modes_inputs_labels_weights(mask_mode):
    # pseudo_threshold 0: pseudo-weight 1 except the invalid top rows; jitter always (p = 0)
    method = build_mic_dacs(mask_mode, pseudo_threshold=0.0, color_jitter_probability=0.0,
                            mask_lambda=1)
    assert method.mic.teacher is None  # alpha and threshold 'same': the host's pseudo-labels
    reference = copy.deepcopy(method.get_model())
    batch = make_uda_batch(seed=5, valid_pseudo_mask=True)
    recorder = CallRecorder(method.get_model())
    out = method.train_step(batch, sgd(method))
    assert {'masked.decode.loss_seg', 'masked.decode.acc_seg'} <= set(out['log_vars'])
    assert len(recorder.calls) == 3  # source, mixed, masked
    masked = recorder.calls[2]
    with torch.no_grad():
        pseudo_label = reference.encode_decode(batch['target_img'], None).argmax(1)
    pseudo_weight = torch.ones(2, 64, 64)
    pseudo_weight[:, :4] = 0
    gt, img, target_img = batch['gt_semantic_seg'], batch['img'], batch['target_img']
    if mask_mode.startswith('separatesrc'):
        expected_img, expected_lbl, expected_weight = img, gt, None
    elif mask_mode.startswith('separatetrg'):
        expected_img, expected_lbl, expected_weight = target_img, pseudo_label[:, None], \
            pseudo_weight
    else:
        expected_img = torch.stack([img[0], target_img[0]])
        expected_lbl = torch.stack([gt[0], pseudo_label[0:1]])
        expected_weight = torch.stack([torch.ones(64, 64), pseudo_weight[0]])
    assert torch.equal(masked['gt'], expected_lbl)
    if expected_weight is None:
        assert masked['seg_weight'] is None
    else:
        assert torch.equal(masked['seg_weight'], expected_weight)
    zero = masked_out(masked['img'])
    assert_block_aligned(zero)
    kept = ~zero[:, None].expand_as(expected_img)
    if mask_mode.endswith('aug'):
        # colour-augmented before masking: the kept pixels differ from the input
        assert not torch.allclose(masked['img'][kept], expected_img[kept])
    else:
        assert torch.equal(masked['img'][kept], expected_img[kept])


@pytest.mark.parametrize('mask_ratio', [0.2, 0.8])
def test_mic_masks_the_configured_share_of_blocks(mask_ratio):
    # 8 px blocks on 2 images of 64 px: 128 blocks; the masked share follows mask_ratio
    # (a mask that kept the masked share instead would give 1 - mask_ratio).
    method = build_mic_dacs('separatetrg', mask_lambda=1,
                            mask_generator=dict(type='block', mask_ratio=mask_ratio,
                                                mask_block_size=8))
    batch = make_uda_batch(seed=7)
    recorder = CallRecorder(method.get_model())
    method.train_step(batch, sgd(method))
    masked_img = recorder.calls[2]['img']
    zero = masked_out(masked_img)
    blocks = zero.view(2, 8, 8, 8, 8).float().mean(dim=(2, 4))
    assert torch.all((blocks == 0) | (blocks == 1))
    assert blocks.mean().item() == pytest.approx(mask_ratio, abs=0.12)
    kept = ~zero[:, None].expand_as(masked_img)
    assert torch.equal(masked_img[kept], batch['target_img'][kept])


def test_mic_lambda_scales_the_masked_loss():
    method = build_mic_dacs('separate', pseudo_threshold=0.0, mask_lambda=0.5)
    reference = copy.deepcopy(method.get_model())
    batch = make_uda_batch(seed=6)
    recorder = CallRecorder(method.get_model())
    out = method.train_step(batch, sgd(method))
    masked = recorder.calls[2]
    with torch.no_grad():
        logits = reference.encode_decode(masked['img'], None)
    ce = F.cross_entropy(logits, masked['gt'][:, 0], ignore_index=255, reduction='none')
    expected = 0.5 * (ce * masked['seg_weight']).mean().item()  # mean over ALL pixels
    assert out['log_vars']['masked.decode.loss_seg'] == pytest.approx(expected, rel=1e-4)


def test_mic_own_teacher_ema_and_threshold():
    method = build_mic_dacs('separatetrg', mask_alpha=0.4, mask_pseudo_threshold=None,
                            mask_lambda=1)
    teacher = method.mic.teacher
    assert teacher.alpha == 0.4 and teacher.pseudo_threshold is None
    keys = method.state_dict().keys()
    assert any(k.startswith('mic.teacher.ema_model.backbone.') for k in keys)
    assert {k.split('.')[0] for k in keys} == {'model', 'ema_model', 'mic'}
    optimizer = sgd(method)
    recorder = CallRecorder(method.get_model())
    history = []
    for seed in range(3):
        history.append([p.detach().clone() for p in method.get_model().parameters()])
        method.train_step(make_uda_batch(seed=seed), optimizer)
    # mask threshold None: the masked target pixels all weigh 1 (the host uses 0.968)
    assert torch.equal(recorder.calls[2]['seg_weight'], torch.ones(2, 64, 64))
    # MIC teacher: iteration 0 copies, then a = min(1 - 1/(i+1), 0.4) = 0.4, 0.4;
    # host teacher (alpha 0.99): a = 0.5, 2/3
    for ema_model, alphas in ((teacher.ema_model, (0.4, 0.4)),
                              (method.get_ema_model(), (0.5, 2 / 3))):
        expected = [p.clone() for p in history[0]]
        for iteration, a in zip((1, 2), alphas):
            expected = [a * e + (1 - a) * s for e, s in zip(expected, history[iteration])]
        for t, e in zip(ema_model.parameters(), expected):
            assert torch.allclose(t, e, atol=1e-6)
            assert t.grad is None

"""DACS (+ DAFormer's feature distance) on a tiny EncoderDecoder: one real train_step each."""
import copy

import pytest
import torch

from mmseg.models import UDA, build_train_model
from uda_helpers import CallRecorder, deterministic_cfg, make_uda_batch, tiny_encoder_decoder_cfg

THINGS = [6, 7, 11, 12, 13, 14, 15, 16, 17, 18]


def build_dacs(model, **uda):
    torch.manual_seed(0)
    method = UDA.build(dict(type='DACS', model=model, max_iters=10, **uda))
    method.train()
    return method


def sgd(method):
    return torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1)


def test_dacs_step_logs_teacher_ema_and_prefixes():
    method = build_dacs(tiny_encoder_decoder_cfg())
    optimizer = sgd(method)
    student = method.get_model()
    before_0 = [p.detach().clone() for p in student.parameters()]
    out = method.train_step(make_uda_batch(seed=0), optimizer)
    assert set(out['log_vars']) == {'decode.loss_seg', 'decode.acc_seg', 'mix.decode.loss_seg',
                                    'mix.decode.acc_seg'}
    assert out['num_samples'] == 2
    assert all(torch.is_tensor(v) and v.dim() == 0 and not v.requires_grad
               for v in out['log_vars'].values())
    teacher = list(method.get_ema_model().parameters())
    # iteration 0 copied the student as it was before the optimizer step
    assert all(torch.equal(t, s) for t, s in zip(teacher, before_0))
    assert all(t.grad is None and not t.requires_grad for t in teacher)
    before_1 = [p.detach().clone() for p in student.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(before_0, before_1))  # student stepped
    method.train_step(make_uda_batch(seed=1), optimizer)
    # iteration 1: a = min(1 - 1/2, 0.99) = 0.5
    for t, t_old, s in zip(method.get_ema_model().parameters(), before_0, before_1):
        assert torch.allclose(t, 0.5 * t_old + 0.5 * s, atol=1e-6)
    assert method.local_iter == 2
    prefixes = {k.split('.')[0] for k in method.state_dict()}
    assert prefixes == {'model', 'ema_model'}
    assert set(method.state_dict()) == {f'model.{k}' for k in student.state_dict()} | \
        {f'ema_model.{k}' for k in student.state_dict()}


def test_dacs_teacher_follows_the_ema_over_several_steps():
    # alpha 0.6 caps the warm-up: a = min(1 - 1/(i + 1), 0.6) = 0.5, 0.6, 0.6 at i = 1, 2, 3,
    # so swapping the teacher and student weights (a <-> 1 - a) changes every update but the
    # first.
    method = build_dacs(tiny_encoder_decoder_cfg(), alpha=0.6)
    optimizer = sgd(method)
    history = []
    for seed in range(4):
        history.append([p.detach().clone() for p in method.get_model().parameters()])
        method.train_step(make_uda_batch(seed=seed), optimizer)
    expected = history[0]
    for iteration, a in ((1, 0.5), (2, 0.6), (3, 0.6)):
        expected = [a * e + (1 - a) * s for e, s in zip(expected, history[iteration])]
    teacher = list(method.get_ema_model().parameters())
    assert len(teacher) == len(expected)
    for t, e in zip(teacher, expected):
        assert torch.allclose(t, e, atol=1e-6)


def test_dacs_pseudo_labels_classmix_and_weights():
    cfg = deterministic_cfg()
    # No colour jitter (u <= p = 1 always) and no blur: the mixed image is an exact paste.
    method = build_dacs(cfg, color_jitter_probability=1.0, blur=False, pseudo_threshold=0.0)
    reference = copy.deepcopy(method.get_model())
    batch = make_uda_batch(seed=3, valid_pseudo_mask=True)
    recorder = CallRecorder(method.get_model())
    method.train_step(batch, sgd(method))
    source_call, mixed_call = recorder.calls
    assert torch.equal(source_call['img'], batch['img'])
    # The teacher is a copy of the student at iteration 0: its pseudo-labels are the student's
    # argmax (no dropout in this net; BatchNorm uses batch statistics in training mode).
    with torch.no_grad():
        pseudo_label = reference.encode_decode(batch['target_img'], None).argmax(1)
    mixed_lbl, mixed_weight = mixed_call['gt'], mixed_call['seg_weight']
    assert mixed_weight.shape == (2, 64, 64)
    gt = batch['gt_semantic_seg']
    for i in range(2):
        # where the mixed image is the source image, the source was pasted
        mask = (mixed_call['img'][i] == batch['img'][i]).all(0)
        assert torch.all(mask | (mixed_call['img'][i] == batch['target_img'][i]).all(0))
        # ClassMix: {0, 10, 13, 255} in the batch -> 2 whole classes of the source are pasted
        pasted = [c for c in (0, 10, 13, 255) if torch.all(mask[gt[i, 0] == c])]
        kept = [c for c in (0, 10, 13, 255) if not torch.any(mask[gt[i, 0] == c])]
        assert len(pasted) == 2 and len(kept) == 2
        assert torch.equal(mixed_lbl[i, 0], torch.where(mask, gt[i, 0], pseudo_label[i]))
        # threshold 0: pseudo-weight 1 except the invalid top 4 rows (valid_pseudo_mask)
        expected_weight = torch.ones(64, 64)
        expected_weight[:4] = 0
        expected_weight[mask] = 1
        assert torch.equal(mixed_weight[i], expected_weight)


def test_dacs_mixed_weight_is_confident_fraction():
    method = build_dacs(deterministic_cfg())
    reference = copy.deepcopy(method.get_model())
    batch = make_uda_batch(seed=4)
    with torch.no_grad():
        confidence = reference.encode_decode(batch['target_img'], None).softmax(1).max(1)[0]
    # a threshold between the confidences: the weight is the confident fraction of the batch
    method.pseudo_threshold = confidence.flatten().sort()[0][5000].item()
    fraction = (confidence >= method.pseudo_threshold).float().mean().item()
    assert 0.1 < fraction < 0.9
    recorder = CallRecorder(method.get_model())
    method.train_step(batch, sgd(method))
    weight = recorder.calls[1]['seg_weight']
    target_pixels = weight[weight != 1]
    assert target_pixels.numel() > 0
    assert torch.allclose(target_pixels, torch.full_like(target_pixels, fraction))


def test_dacs_feature_distance_with_pretrained_file(tmp_path):
    torch.manual_seed(0)
    donor = UDA.build(dict(type='DACS', model=deterministic_cfg(), max_iters=1))
    path = tmp_path / 'tiny_mit.pth'
    torch.save(donor.get_model().backbone.state_dict(), path)
    method = build_dacs(deterministic_cfg(pretrained=str(path)), alpha=0.999,
                        imnet_feature_dist_lambda=0.005, imnet_feature_dist_classes=THINGS,
                        imnet_feature_dist_scale_min_ratio=0.75)
    file_weights = torch.load(path)
    imnet = method.get_imnet_model()
    for key, value in imnet.backbone.state_dict().items():
        assert torch.equal(value, file_weights[key]), key
    assert all(not p.requires_grad for p in imnet.parameters())
    optimizer = sgd(method)
    out = method.train_step(make_uda_batch(seed=0), optimizer)
    # student and ImageNet network start from the same file: zero distance at iteration 0
    assert out['log_vars']['src.loss_imnet_feat_dist'] == pytest.approx(0.0, abs=1e-7)
    batch = make_uda_batch(seed=1)
    with torch.no_grad():
        student_feat = method.get_model().extract_feat(batch['img'])[-1]
        imnet_feat = imnet.extract_feat(batch['img'])[-1]
    # 64 px / stride 32 -> 2 x 2 map; only cell (1, 0) is car (28/32 rows, >= 0.75)
    diffs = [torch.sqrt(((student_feat[b, :, 1, 0] - imnet_feat[b, :, 1, 0])**2).sum())
             for b in range(2)]
    expected = 0.005 * (sum(diffs) / 2).item()
    out = method.train_step(batch, optimizer)
    assert out['log_vars']['src.loss_imnet_feat_dist'] == pytest.approx(expected, rel=1e-4)
    assert all(p.grad is None for p in imnet.parameters())
    assert {k.split('.')[0] for k in method.state_dict()} == {'model', 'ema_model', 'imnet_model'}


def test_dacs_source_only_with_separatesrc_mic():
    method = build_dacs(tiny_encoder_decoder_cfg(), source_only=True, mask_mode='separatesrc',
                        mask_lambda=1,
                        mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=16))
    assert method.ema_model is None and method.mic.teacher is None
    recorder = CallRecorder(method.get_model())
    out = method.train_step(make_uda_batch(), sgd(method))
    assert set(out['log_vars']) == {'decode.loss_seg', 'decode.acc_seg',
                                    'masked.decode.loss_seg', 'masked.decode.acc_seg'}
    assert len(recorder.calls) == 2
    assert {k.split('.')[0] for k in method.state_dict()} == {'model'}


def test_dacs_config_errors(model_cfg):
    with pytest.raises(TypeError, match=r"\['pseudo_treshold', 'typo_key'\]"):
        UDA.build(dict(type='DACS', model=model_cfg, max_iters=1, pseudo_treshold=0.9,
                       typo_key=1))
    with pytest.raises(ValueError, match='class'):
        UDA.build(dict(type='DACS', model=model_cfg, max_iters=1, mix='cutmix'))
    with pytest.raises(ValueError, match='mask_generator'):
        UDA.build(dict(type='DACS', model=model_cfg, max_iters=1, mask_mode='separate'))
    with pytest.raises(ValueError, match='mask_mode'):
        UDA.build(dict(type='DACS', model=model_cfg, max_iters=1, mask_mode='joint',
                       mask_generator=dict(type='block', mask_ratio=0.5, mask_block_size=8)))


def test_build_train_model_and_testing_uses_student(model_cfg):
    from mmcv import Config
    cfg = Config(dict(model=model_cfg, runner=dict(type='IterBasedRunner', max_iters=7),
                      uda=dict(type='DACS', alpha=0.9)))
    method = build_train_model(cfg)
    assert type(method).__name__ == 'DACS' and method.max_iters == 7 and method.alpha == 0.9
    method.eval()
    batch = make_uda_batch(batch_size=1)
    with torch.no_grad():
        result = method(img=[batch['img']], img_metas=[batch['img_metas']], return_loss=False)
        expected = method.get_model().encode_decode(batch['img'], batch['img_metas']).argmax(1)
    assert len(result) == 1 and (result[0] == expected[0].numpy()).all()


def test_dacs_debug_images(tmp_path):
    cfg = tiny_encoder_decoder_cfg()
    cfg['train_cfg'] = dict(work_dir=str(tmp_path))
    method = build_dacs(cfg, debug_img_interval=2, imnet_feature_dist_lambda=0.005,
                        imnet_feature_dist_classes=THINGS, imnet_feature_dist_scale_min_ratio=0.75,
                        mask_mode='separate', mask_lambda=1,
                        mask_generator=dict(type='block', mask_ratio=0.5, mask_block_size=16))
    optimizer = sgd(method)
    for seed in range(2):
        method.train_step(make_uda_batch(seed=seed), optimizer)
    files = sorted(p.name for p in (tmp_path / 'debug').iterdir())
    assert files == ['000000_0.png', '000000_1.png']
    from PIL import Image
    assert Image.open(tmp_path / 'debug' / '000000_0.png').size[0] > 100


def test_dacs_print_grad_magnitude(monkeypatch):
    messages = []
    monkeypatch.setattr('mmseg.models.uda.dacs.mmcv.print_log',
                        lambda msg, logger=None: messages.append(msg))
    method = build_dacs(tiny_encoder_decoder_cfg(), print_grad_magnitude=True,
                        imnet_feature_dist_lambda=0.005)
    method.train_step(make_uda_batch(), sgd(method))
    assert [m.split(':')[0] for m in messages] == ['Seg. Grad.', 'Fdist Grad.']
    assert all(float(m.split(': ')[1]) > 0 for m in messages)

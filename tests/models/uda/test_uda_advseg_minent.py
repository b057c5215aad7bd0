"""AdvSeg and MinEnt (docs/REFERENCE.md §3.5) on a tiny EncoderDecoder, with and without MIC."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

from mmseg.models import UDA
from mmseg.models.uda import FCDiscriminator, entropy_loss
from uda_helpers import deterministic_cfg, make_uda_batch

MIC = dict(mask_mode='separatetrg', mask_lambda=1,
           mask_generator=dict(type='block', mask_ratio=0.5, mask_block_size=16))


def build(method_type, **uda):
    torch.manual_seed(0)
    method = UDA.build(dict(type=method_type, model=deterministic_cfg(), max_iters=10, **uda))
    method.train()
    return method


def test_fc_discriminator_shapes():
    d = FCDiscriminator(num_classes=19)
    assert d(torch.randn(2, 19, 64, 64)).shape == (2, 1, 2, 2)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == \
        [(19, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)


def test_advseg_step_losses_and_discriminator_update():
    method = build('AdvSeg')
    assert set(method.model_D) == {'main'}  # no auxiliary head -> no 'aux' discriminator
    batch = make_uda_batch(seed=0)
    reference = copy.deepcopy(method.get_model())
    d_before = copy.deepcopy(method.model_D['main'])
    # one SGD over ALL parameters (as the runner builds it), with a large lr
    optimizer = torch.optim.SGD(method.parameters(), lr=0.5)
    out = method.train_step(batch, optimizer)
    log_vars = out['log_vars']
    assert set(log_vars) == {'decode.loss_seg', 'decode.acc_seg', 'G_trg.loss.main',
                             'D_src.loss.main', 'D_trg.loss.main'}
    with torch.no_grad():
        pred_src = reference.forward_with_aux(batch['img'], None)['main']
        pred_trg = reference.forward_with_aux(batch['target_img'], None)['main']
        d_src = d_before(pred_src.softmax(1))
        d_trg = d_before(pred_trg.softmax(1))
    # LS: mean squared distance to the domain label (source 0, target 1), D losses halved
    assert log_vars['G_trg.loss.main'] == pytest.approx(0.001 * (d_trg**2).mean().item(),
                                                         rel=1e-4)
    assert log_vars['D_src.loss.main'] == pytest.approx((d_src**2).mean().item() / 2, rel=1e-4)
    assert log_vars['D_trg.loss.main'] == pytest.approx(((d_trg - 1)**2).mean().item() / 2,
                                                        rel=1e-4)
    # D is stepped by its own Adam and then by the runner's SGD, as in the original AdvSeg.
    # Adam's first step (bias-corrected m = g, v = g^2) moves by lr_D * g / (|g| + eps); SGD
    # then by lr * g (the gradients of step (d) are still on the parameters).
    for after, before in zip(method.model_D['main'].parameters(), d_before.parameters()):
        grad = after.grad
        expected = before - 1e-4 * grad / (grad.abs() + 1e-8) - 0.5 * grad
        torch.testing.assert_close(after, expected, atol=1e-6, rtol=1e-5)
    assert any(p.grad.abs().max() > 0 for p in method.model_D['main'].parameters())
    assert {k.split('.')[0] for k in method.state_dict()} == {'model', 'model_D'}
    assert any(k.startswith('model_D.main.conv1.') for k in method.state_dict())


def test_advseg_discriminator_lr_schedule_and_vanilla_loss():
    method = build('AdvSeg', discriminator_type='Vanilla', lr_D=2e-4, lr_D_min=1e-5)
    optimizer = torch.optim.SGD(method.get_model().parameters(), lr=0.01)
    method.local_iter = 5
    method.train_step(make_uda_batch(), optimizer)
    lr = method.optimizer_D['main'].param_groups[0]['lr']
    assert lr == pytest.approx((2e-4 - 1e-5) * 0.5**0.9 + 1e-5)
    # Vanilla = BCE with logits: logit 0 against any label costs log 2
    assert method.discriminator_loss(torch.zeros(1, 1, 2, 2), 1).item() == \
        pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="'LS'"):
        build('AdvSeg', discriminator_type='WGAN')


def test_advseg_with_mic_own_teacher():
    method = build('AdvSeg', **MIC)
    assert method.mic.teacher is not None and method.mic.teacher.alpha == 0.999
    out = method.train_step(make_uda_batch(), torch.optim.SGD(method.parameters(), lr=0.01))
    assert {'masked.decode.loss_seg', 'G_trg.loss.main'} <= set(out['log_vars'])
    assert {k.split('.')[0] for k in method.state_dict()} == {'model', 'model_D', 'mic'}
    assert any(k.startswith('mic.teacher.ema_model.') for k in method.state_dict())
    assert all(t.grad is None for t in method.mic.teacher.ema_model.parameters())


def test_entropy_loss_closed_forms():
    uniform = torch.full((2, 4, 3, 3), 0.25)
    assert entropy_loss(uniform).item() == pytest.approx(1.0)
    one_hot = F.one_hot(torch.zeros(2, 3, 3, dtype=torch.long), 4).permute(0, 3, 1, 2).float()
    assert entropy_loss(one_hot).item() == pytest.approx(0.0, abs=1e-6)
    p = torch.tensor([0.5, 0.5, 0.0, 0.0]).view(1, 4, 1, 1)
    assert entropy_loss(p).item() == pytest.approx(1 / 2)  # 1 bit of log2(4) = 2 bits


def test_minent_step():
    method = build('MinEnt')
    batch = make_uda_batch(seed=2)
    reference = copy.deepcopy(method.get_model())
    out = method.train_step(batch, torch.optim.SGD(method.parameters(), lr=0.01))
    assert set(out['log_vars']) == {'decode.loss_seg', 'decode.acc_seg', 'ent.loss.main'}
    with torch.no_grad():
        p = reference.forward_with_aux(batch['target_img'], None)['main'].softmax(1)
    n, c, h, w = p.shape
    entropy = -(p * torch.log(p.clamp_min(1e-30))).sum() / math.log(2)
    expected = 0.001 * entropy.item() / (n * h * w * math.log2(c))
    assert out['log_vars']['ent.loss.main'] == pytest.approx(expected, rel=1e-4)
    assert {k.split('.')[0] for k in method.state_dict()} == {'model'}


def test_minent_with_mic():
    method = build('MinEnt', **MIC)
    out = method.train_step(make_uda_batch(), torch.optim.SGD(method.parameters(), lr=0.01))
    assert {'ent.loss.main', 'masked.decode.loss_seg', 'masked.decode.acc_seg'} <= \
        set(out['log_vars'])
    assert any(k.startswith('mic.teacher.ema_model.') for k in method.state_dict())


@pytest.mark.parametrize('method_type', ['AdvSeg', 'MinEnt'])
def test_unknown_keys(method_type):
    with pytest.raises(TypeError, match='imnet_feature_dist_lambda'):
        build(method_type, imnet_feature_dist_lambda=0.005)


def test_advseg_discriminator_sees_the_source_prediction_of_the_source_step():
    """docs/REFERENCE.md §3.5 (d): D_src gets the step-(a) prediction, detached; the source batch goes through
    the network once (BatchNorm statistics are updated once per batch)."""
    method = build('AdvSeg')
    model = method.get_model()
    images = []
    hook = model.backbone.register_forward_pre_hook(lambda m, args: images.append(args[0]))
    batch = make_uda_batch(seed=1)
    method.train_step(batch, torch.optim.SGD(model.parameters(), lr=0.0))
    hook.remove()
    assert len(images) == 2
    assert torch.equal(images[0], batch['img']) and torch.equal(images[1], batch['target_img'])


@pytest.mark.parametrize('method_type', ['AdvSeg', 'MinEnt'])
def test_output_space_methods_write_debug_figures(method_type, tmp_path):
    method = build(method_type, debug_img_interval=2)
    method.train_cfg = dict(work_dir=str(tmp_path))
    optimizer = torch.optim.SGD(method.get_model().parameters(), lr=0.0)
    for _ in range(3):
        method.train_step(make_uda_batch(), optimizer)
    written = sorted(p.name for p in (tmp_path / 'debug').iterdir())
    assert written == ['000000_0.png', '000000_1.png', '000002_0.png', '000002_1.png']


def test_advseg_training_state_round_trips_through_a_safe_checkpoint(tmp_path):
    from mmseg.core.checkpoint import load_checkpoint_file, save_checkpoint_file
    method = build('AdvSeg')
    method.train_step(make_uda_batch(), torch.optim.SGD(method.parameters(), lr=0.01))
    save_checkpoint_file(dict(uda=method.train_state_dict()), tmp_path / 'c.pth')
    restored = build('AdvSeg')
    restored.load_train_state_dict(load_checkpoint_file(tmp_path / 'c.pth')['uda'])
    assert restored.local_iter == 1
    saved = method.optimizer_D['main'].state_dict()['state']
    loaded = restored.optimizer_D['main'].state_dict()['state']
    assert saved.keys() == loaded.keys() and len(saved) > 0
    for key in saved:
        for name in ('exp_avg', 'exp_avg_sq'):
            assert torch.equal(saved[key][name], loaded[key][name])

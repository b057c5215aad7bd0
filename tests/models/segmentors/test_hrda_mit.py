"""HRDA with the real MiT and DAFormerHead: a tiny training step, and the paper's network size."""
import copy

import numpy as np
import pytest
import torch
from mmcv import Config

from mmseg.models import build_segmentor

TINY_MIT = dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64], num_heads=[1, 1, 2, 4],
                depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1])


def _tiny_hrda_cfg(hrda_cfg):
    cfg = copy.deepcopy(hrda_cfg)
    cfg['backbone'] = TINY_MIT
    cfg['decode_head'].update(in_channels=[8, 16, 32, 64])
    cfg['hr_crop_size'] = (64, 64)
    cfg['test_cfg'] = dict(mode='slide', batched_slide=True, crop_size=[128, 128],
                           stride=[64, 64])
    return cfg


def test_tiny_mit_hrda_trains_on_both_scales_and_predicts(hrda_cfg, tmp_path):
    cfg = _tiny_hrda_cfg(hrda_cfg)
    torch.manual_seed(0)
    np.random.seed(0)
    # ImageNet-style MiT weights (with a classifier) survive the runner's init_weights().
    imagenet = {k: torch.randn_like(v) * 0.02 if v.is_floating_point() else v
                for k, v in build_segmentor(cfg).backbone.state_dict().items()}
    torch.save(dict(imagenet, **{'head.weight': torch.zeros(1000, 64)}), tmp_path / 'mit.pth')
    model = build_segmentor(dict(cfg, pretrained=str(tmp_path / 'mit.pth')))
    model.init_weights()
    assert all(torch.equal(model.backbone.state_dict()[k], v) for k, v in imagenet.items())
    model.train()
    img = torch.randn(2, 3, 128, 128)
    gt = torch.randint(0, 3, (2, 1, 128, 128))
    gt[:, :, :10] = 255
    losses = model.forward_train(img, None, gt, seg_weight=torch.rand(2, 128, 128),
                                 return_feat=True)
    # Context features: the 64×64 half-resolution image at strides 4..32.
    assert [tuple(f.shape) for f in losses['features']] == [
        (2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4), (2, 64, 2, 2)]
    y1, y2, x1, x2 = model.last_train_crop_box
    assert (y2 - y1, x2 - x1) == (64, 64) and y1 % 8 == 0 and x1 % 8 == 0
    loss, log_vars = model._parse_losses(losses)
    assert loss.item() == pytest.approx(log_vars['decode.loss_seg'].item() +
                                        log_vars['decode.hr.loss_seg'].item(), rel=1e-5)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    for name in ('backbone.patch_embed1.proj.weight', 'backbone.block4.0.attn.q.weight',
                 'decode_head.head.fuse_layer.bottleneck.conv.weight',
                 'decode_head.scale_attention.fuse_layer.conv.weight'):
        assert grads[name] is not None and grads[name].abs().sum() > 0, name
    model.eval()
    meta = [dict(ori_shape=(128, 192, 3), img_shape=(128, 192, 3), flip=False)]
    with torch.no_grad():
        pseudo = model.generate_pseudo_label(torch.randn(1, 3, 128, 128), None)
        preds = model.simple_test(torch.randn(1, 3, 128, 192), meta)
    assert pseudo.shape == (1, 3, 128, 128)
    assert preds[0].shape == (128, 192) and set(np.unique(preds[0])) <= {0, 1, 2}


@pytest.mark.slow
def test_the_papers_hrda_network_has_the_original_size(repo_root):
    cfg = Config.fromfile(str(repo_root / 'configs' / 'hrda' / 'gtaHR2csHR_hrda.py'))
    cfg.model.pretrained = None
    model = build_segmentor(cfg.model)
    state = model.state_dict()
    # docs/REFERENCE.md §2.2 / §A: 85,685,990 parameters, 1,126 state-dict tensors.
    assert sum(p.numel() for p in model.parameters()) == 85_685_990
    assert len(state) == 1126
    assert state['decode_head.scale_attention.fuse_layer.conv.weight'].shape == (256, 1024, 1, 1)
    assert state['decode_head.scale_attention.conv_seg.weight'].shape == (19, 256, 1, 1)
    assert state['decode_head.head.fuse_layer.bottleneck.conv.weight'].shape == (256, 1024, 3, 3)
    assert state['backbone.block1.0.attn.kv.weight'].shape == (128, 64)

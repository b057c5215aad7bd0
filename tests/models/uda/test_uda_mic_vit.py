"""One MIC(DAFormer) training iteration with a DINOv2 ViT-S/14 encoder (random weights)."""
import math

import torch

from mmseg.models import UDA
from uda_helpers import make_uda_batch, tiny_encoder_decoder_cfg


def vit_s14_cfg():
    cfg = tiny_encoder_decoder_cfg()
    cfg['backbone'] = dict(type='TIMMBackbone', model_name='vit_small_patch14_dinov2',
                           out_indices=[2, 5, 8, 11], norm=True)
    cfg['neck'] = dict(type='MultiLevelNeck', in_channels=[384] * 4, out_channels=16,
                       out_strides=[4, 8, 16, 32])
    cfg['decode_head']['in_channels'] = [16] * 4
    return cfg


def test_one_mic_iteration_updates_student_and_teacher():
    torch.manual_seed(0)
    method = UDA.build(dict(
        type='DACS', model=vit_s14_cfg(), max_iters=10, alpha=0.99, pseudo_threshold=0.0,
        mask_mode='separatetrgaug', mask_lambda=1,
        mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=16)))
    method.train()
    student = method.get_model()
    before = student.backbone.timm_model.blocks[5].mlp.fc1.weight.detach().clone()
    teacher_before = method.get_ema_model().backbone.timm_model.blocks[5].mlp.fc1.weight.clone()
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1)
    out = method.train_step(make_uda_batch(size=64), optimizer)
    log_vars = out['log_vars']
    for key in ('decode.loss_seg', 'mix.decode.loss_seg', 'masked.decode.loss_seg'):
        assert key in log_vars and math.isfinite(log_vars[key]), key
    after = student.backbone.timm_model.blocks[5].mlp.fc1.weight
    assert not torch.equal(after, before)
    teacher_after = method.get_ema_model().backbone.timm_model.blocks[5].mlp.fc1.weight
    assert not torch.equal(teacher_after, teacher_before)

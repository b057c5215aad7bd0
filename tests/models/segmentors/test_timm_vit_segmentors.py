"""Segmentors with a DINOv2 ViT-S/14 encoder (random weights): EncoderDecoder and HRDA."""
import copy

import numpy as np
import torch

from mmseg.models import build_segmentor

VIT_S14 = dict(type='TIMMBackbone', model_name='vit_small_patch14_dinov2',
               out_indices=[2, 5, 8, 11], norm=True)
NECK = dict(type='MultiLevelNeck', in_channels=[384] * 4, out_channels=16,
            out_strides=[4, 8, 16, 32])


def daformer_head_cfg(in_channels, num_classes=3):
    norm_cfg = dict(type='BN', requires_grad=True)
    return dict(type='DAFormerHead', in_channels=list(in_channels),
                in_index=list(range(len(in_channels))), channels=16, dropout_ratio=0.1,
                num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
                decoder_params=dict(
                    embed_dims=16, embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                    embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                    fusion_cfg=dict(type='aspp', sep=True, dilations=(1, 2), pool=False,
                                    act_cfg=dict(type='ReLU'), norm_cfg=norm_cfg)),
                loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))


def vit_encoder_decoder_cfg():
    return dict(type='EncoderDecoder', backbone=VIT_S14, neck=NECK,
                decode_head=daformer_head_cfg((16, 16, 16, 16)), train_cfg=dict(),
                test_cfg=dict(mode='whole'))


def vit_hrda_cfg(test_cfg):
    head = daformer_head_cfg((16, 16, 16, 16))
    head.update(type='HRDAHead', single_scale_head='DAFormerHead', attention_classwise=True,
                hr_loss_weight=0.1, attention_embed_dim=8)
    # 64 px detail crops: not a multiple of 14 (padded to 70 inside the ViT, cropped back by
    # the neck, so the detail logits fit their box in the context logits exactly).
    return dict(type='HRDAEncoderDecoder', backbone=VIT_S14, neck=NECK, decode_head=head,
                scales=[1, 0.5], hr_crop_size=(64, 64), feature_scale=0.5,
                crop_coord_divisible=8, hr_slide_inference=True, train_cfg=dict(),
                test_cfg=test_cfg)


def build(cfg):
    torch.manual_seed(0)
    return build_segmentor(copy.deepcopy(cfg))


def test_encoder_decoder_trains_the_vit_and_predicts_at_the_input_size():
    model = build(vit_encoder_decoder_cfg()).train()
    img = torch.randn(2, 3, 100, 60)  # neither side a multiple of 14
    gt = torch.randint(0, 3, (2, 1, 100, 60))
    losses = model.forward_train(img, None, gt, return_feat=True)
    assert [tuple(f.shape[2:]) for f in losses['features']] == [(25, 15), (13, 8), (7, 4),
                                                                (4, 2)]
    losses['decode.loss_seg'].backward()
    params = dict(model.named_parameters())
    for name in ('backbone.timm_model.blocks.0.attn.qkv.weight',
                 'backbone.timm_model.patch_embed.proj.weight', 'neck.convs.0.conv.weight',
                 'decode_head.conv_seg.weight'):
        assert params[name].grad.abs().sum() > 0, name
    model.eval()
    with torch.no_grad():
        assert model.encode_decode(img, None).shape == (2, 3, 100, 60)


def test_hrda_slide_inference_with_vit_s14_matches_window_by_window():
    slide = dict(mode='slide', crop_size=(128, 128), stride=(64, 64))
    looped = build(vit_hrda_cfg(slide)).eval()
    batched = build(vit_hrda_cfg(dict(slide, batched_slide=True))).eval()
    img = torch.randn(1, 3, 128, 192)
    meta = [dict(ori_shape=(128, 192, 3), img_shape=(128, 192, 3), flip=False)]
    with torch.no_grad():
        probs = batched.inference(img, meta, rescale=True)
        expected = looped.inference(img, meta, rescale=True)
        preds = batched.simple_test(img, meta)
    assert probs.shape == (1, 3, 128, 192)
    torch.testing.assert_close(probs.sum(1), torch.ones(1, 128, 192))
    torch.testing.assert_close(probs, expected, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(preds[0], expected.argmax(1)[0].numpy())

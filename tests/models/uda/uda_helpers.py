"""Tiny segmentor configs, UDA batches and a call recorder for the UDA method tests."""
import copy

import torch

IMG_NORM_CFG = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
NORM_CFG = dict(type='BN', requires_grad=True)


def tiny_encoder_decoder_cfg(pretrained=None, fusion='aspp'):
    """EncoderDecoder: MiT with embed dims 8-16-32-64 and a 16-channel DAFormerHead."""
    fusion_cfg = dict(type='aspp', sep=True, dilations=(1, 6, 12, 18), pool=False,
                      act_cfg=dict(type='ReLU'), norm_cfg=NORM_CFG) if fusion == 'aspp' else \
        dict(type='conv', kernel_size=1, act_cfg=dict(type='ReLU'), norm_cfg=NORM_CFG)
    return dict(
        type='EncoderDecoder',
        pretrained=pretrained,
        backbone=dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64],
                      num_heads=[1, 1, 2, 4], depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1]),
        decode_head=dict(
            type='DAFormerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3],
            channels=16, dropout_ratio=0.1, num_classes=19, norm_cfg=NORM_CFG,
            align_corners=False,
            decoder_params=dict(
                embed_dims=16,
                embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
                fusion_cfg=fusion_cfg),
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def make_uda_batch(batch_size=2, size=64, seed=0, valid_pseudo_mask=False):
    """Random normalised images and labels with a few classes (thing classes included)."""
    generator = torch.Generator().manual_seed(seed)
    metas = [dict(img_norm_cfg=copy.deepcopy(IMG_NORM_CFG), img_shape=(size, size, 3),
                  ori_shape=(size, size, 3), pad_shape=(size, size, 3), flip=False)
             for _ in range(batch_size)]
    gt = torch.zeros(batch_size, 1, size, size, dtype=torch.long)
    gt[:, :, :size // 2] = 10  # sky
    gt[:, :, size // 2:, :size // 2] = 13  # car (thing)
    gt[:, :, -4:] = 255
    batch = dict(
        img=torch.randn(batch_size, 3, size, size, generator=generator),
        img_metas=metas,
        gt_semantic_seg=gt,
        target_img=torch.randn(batch_size, 3, size, size, generator=generator),
        target_img_metas=copy.deepcopy(metas))
    if valid_pseudo_mask:
        mask = torch.ones(batch_size, 1, size, size)
        mask[:, :, :4] = 0
        batch['valid_pseudo_mask'] = mask
    return batch


def deterministic_cfg(**overrides):
    """The tiny model without DropPath and Dropout, so train-mode forwards are repeatable."""
    cfg = tiny_encoder_decoder_cfg(**overrides)
    cfg['backbone']['drop_path_rate'] = 0.0
    cfg['decode_head']['dropout_ratio'] = 0.0
    return cfg


class CallRecorder:
    """Wraps a segmentor's forward_train and records the arguments of every call."""

    def __init__(self, segmentor):
        self.calls = []
        self._forward_train = segmentor.forward_train
        segmentor.forward_train = self

    def __call__(self, img, img_metas, gt_semantic_seg, seg_weight=None, return_feat=False):
        self.calls.append(dict(img=img.detach().clone(), gt=gt_semantic_seg.detach().clone(),
                               seg_weight=None if seg_weight is None else
                               seg_weight.detach().clone()))
        return self._forward_train(img, img_metas, gt_semantic_seg, seg_weight=seg_weight,
                                   return_feat=return_feat)


def tiny_hrda_cfg():
    """HRDAEncoderDecoder(HRDAHead over DAFormerHead) on the tiny MiT: 64 px inputs, 32 px
    detail crops, context features (feature_scale 0.5) for the feature distance."""
    cfg = deterministic_cfg()
    head = cfg['decode_head']
    head.update(type='HRDAHead', single_scale_head='DAFormerHead', attention_classwise=True,
                hr_loss_weight=0.1, attention_embed_dim=8)
    head.pop('input_transform', None)
    return dict(type='HRDAEncoderDecoder', backbone=cfg['backbone'], decode_head=head,
                scales=[1, 0.5], hr_crop_size=(32, 32), feature_scale=0.5,
                crop_coord_divisible=8, hr_slide_inference=True, train_cfg=dict(),
                test_cfg=dict(mode='whole'))

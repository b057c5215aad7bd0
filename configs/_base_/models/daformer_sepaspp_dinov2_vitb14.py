# DAFormer decoder (separable-ASPP fusion) on a DINOv2 ViT-B/14 from timm: the ViT's outputs of
# blocks 3, 6, 9 and 12 on its 1/14 patch grid are resampled by a multi-level neck to strides
# 4, 8, 16 and 32, the input of the DAFormer head (docs/config.md, "Foundation-model encoders").
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(
        type='TIMMBackbone',
        model_name='vit_base_patch14_dinov2',
        # DINOv2 weights in timm's, torch hub's or HuggingFace's layout (converted on load).
        checkpoint_path='pretrained/dinov2_vitb14.pth',
        # Four evenly spaced blocks of the 12, each through the final LayerNorm.
        out_indices=[2, 5, 8, 11],
        norm=True),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[768, 768, 768, 768],
        out_channels=256,
        out_strides=[4, 8, 16, 32]),
    decode_head=dict(
        type='DAFormerHead',
        in_channels=[256, 256, 256, 256],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        decoder_params=dict(
            embed_dims=256,
            embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            fusion_cfg=dict(
                type='aspp',
                sep=True,
                dilations=(1, 6, 12, 18),
                pool=False,
                act_cfg=dict(type='ReLU'),
                norm_cfg=norm_cfg)),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# Toy DAFormer (sepaspp) for CPU runs on data/toy: a 4-stage MiT with one block per stage and
# small widths, and a 64-channel DAFormer decoder. No pretrained weights exist for it, so it is
# trained from scratch (and the ImageNet feature distance is not used with it).
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(
        type='MixVisionTransformer',
        embed_dims=[16, 32, 64, 128],
        num_heads=[1, 1, 2, 4],
        depths=[1, 1, 1, 1],
        sr_ratios=[8, 4, 2, 1]),
    decode_head=dict(
        type='DAFormerHead',
        in_channels=[16, 32, 64, 128],
        in_index=[0, 1, 2, 3],
        channels=64,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        decoder_params=dict(
            embed_dims=64,
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

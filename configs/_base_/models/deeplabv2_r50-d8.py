# DeepLabV2 (docs/REFERENCE.md §2.2): dilated ResNet-V1c (output stride 8) and an ASPP classifier whose four
# dilated 3x3 convolutions (6, 12, 18, 24) each predict the classes; their outputs are summed.
# The experiments set depth 101 and 'open-mmlab://resnet101_v1c' on top of this base.
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    # Read from a local file under pretrained/ (no download), see README.
    pretrained='open-mmlab://resnet50_v1c',
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        # Only the last stage feeds the classifier (ARCHITECTURE: extract_feat -> [C5]).
        out_indices=(3, ),
        # Stages 3 and 4 keep stride 8 and dilate instead (DeepLab's output stride 8).
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='DLV2Head',
        # The last backbone stage (2048 channels).
        in_channels=2048,
        in_index=-1,
        dilations=(6, 12, 18, 24),
        num_classes=19,
        align_corners=False,
        init_cfg=dict(type='Normal', std=0.01, override=dict(name='aspp_modules')),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

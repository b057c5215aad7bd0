# UDA data cityscapesHR -> acdcHR (docs/REFERENCE.md §1.3): labelled source Cityscapes (2048x1024) and
# unlabelled target ACDC (1920x1080), 1024x1024 training crops. The pipelines have no
# PhotoMetricDistortion: colour augmentation is part of the UDA method (DACS/MIC).
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (1024, 1024)
# Source: rescale to the resolution the target is trained at (objects of similar size), then a
# random crop in which no class covers more than 75% of the labelled pixels.
cityscapes_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(2048, 1024)),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
# Target: rescaled like the test images; labels only travel along (not used for training).
acdc_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(1920, 1080)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(1920, 1080),
        flip=False,
        transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='Normalize', **img_norm_cfg),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ])
]
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=4,
    train=dict(
        type='UDADataset',
        source=dict(
            type='CityscapesDataset',
            data_root='data/cityscapes/',
            img_dir='leftImg8bit/train',
            ann_dir='gtFine/train',
            pipeline=cityscapes_train_pipeline),
        target=dict(
            type='ACDCDataset',
            data_root='data/acdc/',
            img_dir='rgb_anon/train',
            ann_dir='gt/train',
            pipeline=acdc_train_pipeline)),
    # Evaluation on the target's validation split. tools/test.py --test-set turns the 'val'
    # of these paths into 'test' for the benchmark's test split.
    val=dict(
        type='ACDCDataset',
        data_root='data/acdc/',
        img_dir='rgb_anon/val',
        ann_dir='gt/val',
        pipeline=test_pipeline),
    test=dict(
        type='ACDCDataset',
        data_root='data/acdc/',
        img_dir='rgb_anon/val',
        ann_dir='gt/val',
        pipeline=test_pipeline))

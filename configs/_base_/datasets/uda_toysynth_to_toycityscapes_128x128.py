# Toy all-synthetic UDA data (docs/domains.md; experiments.py toy id 9): two labelled sources
# mixed per item with rare-class sampling over their union, the unlabelled target toy
# Cityscapes, 128x128 crops; evaluation on toy Cityscapes val and, as a second evaluation set,
# toy GTA (data/toy from tools/make_toy_data.py has one synthetic domain: the second source is
# toy GTA rescaled by 1.25, a source of another resolution).
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (128, 128)
toygta_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(256, 128)),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
toygta_large_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(320, 160)),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
toycityscapes_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(256, 128)),
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
        img_scale=(256, 128),
        flip=False,
        transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='Normalize', **img_norm_cfg),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ])
]
toy_eval_sets = [
    dict(
        name='toycityscapes',
        type='CityscapesDataset',
        data_root='data/toy/cityscapes/',
        img_dir='leftImg8bit/val',
        ann_dir='gtFine/val',
        pipeline=test_pipeline),
    dict(
        name='toygta',
        type='GTADataset',
        data_root='data/toy/gta/',
        img_dir='images',
        ann_dir='labels',
        pipeline=test_pipeline),
]
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=0,
    train=dict(
        type='UDADataset',
        source=[
            dict(
                type='GTADataset',
                data_root='data/toy/gta/',
                img_dir='images',
                ann_dir='labels',
                pipeline=toygta_train_pipeline),
            dict(
                type='GTADataset',
                data_root='data/toy/gta/',
                img_dir='images',
                ann_dir='labels',
                pipeline=toygta_large_train_pipeline),
        ],
        target=dict(
            type='CityscapesDataset',
            data_root='data/toy/cityscapes/',
            img_dir='leftImg8bit/train',
            ann_dir='gtFine/train',
            pipeline=toycityscapes_train_pipeline)),
    val=toy_eval_sets,
    test=toy_eval_sets)

# UDA data synthHR -> cityscapesHR (docs/domains.md): four labelled synthetic sources mixed
# per item (GTA, Synthia, Synscapes, UrbanSyn; by default in proportion to their sizes, with
# rare-class sampling over their union) and the unlabelled target Cityscapes (2048x1024),
# 1024x1024 training crops; evaluation on Cityscapes, BDD100K and Mapillary (dg_eval_1024.py).
# No PhotoMetricDistortion: colour augmentation is part of the UDA method (DACS/MIC).
_base_ = ['dg_eval_1024.py']
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (1024, 1024)
# Sources: rescaled to the resolution the target is trained at (as GTA and Synthia in
# HRDA/MIC; Synscapes 1440x720 and UrbanSyn 2048x1024 to Cityscapes' 2048x1024), then a random
# crop in which no class covers more than 75% of the labelled pixels.
gta_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(2560, 1440)),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
synthia_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(2560, 1520)),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
synscapes_train_pipeline = [
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
urbansyn_train_pipeline = [
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
cityscapes_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(2048, 1024)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=4,
    train=dict(
        type='UDADataset',
        source=[
            dict(
                type='GTADataset',
                data_root='data/gta/',
                img_dir='images',
                ann_dir='labels',
                pipeline=gta_train_pipeline),
            dict(
                type='SynthiaDataset',
                data_root='data/synthia/',
                img_dir='RGB',
                ann_dir='GT/LABELS',
                pipeline=synthia_train_pipeline),
            # SynscapesDataset / UrbanSynDataset default to their converted layouts.
            dict(
                type='SynscapesDataset',
                data_root='data/synscapes/',
                pipeline=synscapes_train_pipeline),
            dict(
                type='UrbanSynDataset',
                data_root='data/urbansyn/',
                pipeline=urbansyn_train_pipeline),
        ],
        target=dict(
            type='CityscapesDataset',
            data_root='data/cityscapes/',
            img_dir='leftImg8bit/train',
            ann_dir='gtFine/train',
            pipeline=cityscapes_train_pipeline)))

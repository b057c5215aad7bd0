# Domain generalisation from GTA at high resolution (docs/domains.md): labelled GTA (2560x1440
# after resizing), 1024x1024 crops, no target images (a UDADataset without a target, so that
# rare-class sampling is on as in DAFormer/HRDA); evaluation on Cityscapes, BDD100K and
# Mapillary (dg_eval_1024.py). The pipeline is the one of the UDA runs (no
# PhotoMetricDistortion: colour augmentation is MIC's, separatesrcaug).
_base_ = ['dg_eval_1024.py']
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (1024, 1024)
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
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=4,
    train=dict(
        type='UDADataset',
        source=dict(
            type='GTADataset',
            data_root='data/gta/',
            img_dir='images',
            ann_dir='labels',
            pipeline=gta_train_pipeline)))

# Evaluation on several target domains at high resolution (docs/domains.md): Cityscapes val
# (2048x1024), BDD100K val (1280x720, 1000 images) and Mapillary Vistas validation (2000
# images of many sizes, rescaled into 2048x1024), each with the 19 Cityscapes classes. A list in
# data.val / data.test gives one <name>/mIoU log key per dataset and their mean
# (docs/evaluation.md). Roots and layouts of the datasets: docs/dataset_prepare.md.
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
cityscapes_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(2048, 1024),
        flip=False,
        transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='Normalize', **img_norm_cfg),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ])
]
bdd100k_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(1280, 720),
        flip=False,
        transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='Normalize', **img_norm_cfg),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ])
]
mapillary_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(2048, 1024),
        flip=False,
        transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='Normalize', **img_norm_cfg),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ])
]
# The defaults of BDD100KDataset and MapillaryDataset (img_dir, ann_dir) are their validation
# splits.
dg_eval_sets = [
    dict(
        name='cityscapes',
        type='CityscapesDataset',
        data_root='data/cityscapes/',
        img_dir='leftImg8bit/val',
        ann_dir='gtFine/val',
        pipeline=cityscapes_test_pipeline),
    dict(
        name='bdd100k',
        type='BDD100KDataset',
        data_root='data/bdd100k/',
        pipeline=bdd100k_test_pipeline),
    dict(
        name='mapillary',
        type='MapillaryDataset',
        data_root='data/mapillary/',
        pipeline=mapillary_test_pipeline),
]
data = dict(val=dg_eval_sets, test=dg_eval_sets)

# Domain generalisation with a DINOv2 ViT-B/14 encoder (docs/domains.md): trained on GTA alone,
# no target images, and evaluated on Cityscapes, BDD100K and Mapillary; the network and
# optimisation of configs/vfm/gtaHR2csHR_mic_dinov2_vitb14.py (VFM-UDA, arXiv 2406.09896), with
# rare class sampling and MIC's masking of colour-augmented source images (separatesrcaug).
# Seed 0 of experiment 86 (run_experiments.py --exp 86); not trained yet.
_base_ = [
    # Logging hooks, distributed backend and workflow shared by all runs.
    '../_base_/default_runtime.py',
    # DINOv2 ViT-B/14 (blocks 3, 6, 9, 12) -> multi-level neck -> DAFormer sepaspp head.
    # Weights: pretrained/dinov2_vitb14.pth.
    '../_base_/models/daformer_sepaspp_dinov2_vitb14.py',
    # GTA (2560x1440), 1024x1024 crops, no target; evaluation on Cityscapes, BDD100K and
    # Mapillary (one <name>/mIoU log key each, docs/evaluation.md).
    '../_base_/datasets/uda_gtaHR_to_dgHR_1024x1024.py',
    # DACS wrapper with source_only=True: the source step and MIC; no teacher, no feature
    # distance (as VFM-UDA's runs).
    '../_base_/uda/dacs_srconly.py',
    # AdamW, weight decay 0.01.
    '../_base_/schedules/adamw.py',
    # Linear warm-up (1500 iterations), then linear decay to 0.
    '../_base_/schedules/poly10warm.py'
]
# First of the three seeds of experiment 86.
seed = 0
# Test time: overlapping 1024x1024 windows with stride 512, as MIC(HRDA).
model = dict(
    test_cfg=dict(
        mode='slide',
        batched_slide=True,
        stride=[512, 512],
        crop_size=[1024, 1024]))
# Training data on top of the dataset base: sampling and loader.
data = dict(
    train=dict(
        # Rare class sampling of GTA: temperature 0.01, minimum crop ratio 2.0 for 1024 crops.
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=2.0)),
    # One loader worker per GPU suffices for batch 2.
    workers_per_gpu=1,
    # Two source images per iteration (no target images).
    samples_per_gpu=2,
)
# MIC on the source: masked colour-augmented source images must give their labels.
uda = dict(
    mask_mode='separatesrcaug',
    # 'same': no own MIC teacher (a source-only run needs none).
    mask_alpha='same',
    mask_pseudo_threshold='same',
    # The masked loss counts as much as the source loss.
    mask_lambda=1,
    # Random 64x64 blocks of the 1024x1024 input masked with probability 0.7.
    mask_generator=dict(
        type='block', mask_ratio=0.7, mask_block_size=64, _delete_=True))
# The DACS wrapper backpropagates and steps the optimiser itself: no optimiser hook.
optimizer_config = None
# AdamW: lr 5e-5 for the neck and decoder, 10x smaller for the pretrained encoder (VFM-UDA).
optimizer = dict(
    lr=5e-05,
    paramwise_cfg=dict(
        custom_keys=dict(
            backbone=dict(lr_mult=0.1))))
# Hardware assumed (meta information only).
n_gpus = 1
gpu_model = 'NVIDIAH100'
# 40k iterations of batch 2.
runner = dict(type='IterBasedRunner', max_iters=40000)
# Keep only the final checkpoint.
checkpoint_config = dict(by_epoch=False, interval=40000, max_keep_ckpts=1)
# mIoU on the three evaluation sets every 4000 iterations.
evaluation = dict(interval=4000, metric='mIoU')
# Meta information for result tables.
name = 'gtaHR2dgHR_srconly_mic_dinov2_vitb14_s0'
exp = 'basic'
name_dataset = 'gtaHR2dgHR_1024x1024'
name_architecture = 'daformer_sepaspp_mln_sl_dinov2vitb14'
name_encoder = 'dinov2vitb14'
name_decoder = 'daformer_sepaspp_mln_sl'
name_uda = 'dacs_srconly_rcs0.01-2.0_m64-0.7-spsa'
name_opt = 'adamw_5e-05_pmFalse_poly10warm_1x2_40k'

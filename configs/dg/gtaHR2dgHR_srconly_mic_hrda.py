# Domain generalisation with MIC(HRDA) (docs/domains.md): trained on GTA alone, no target
# images, and evaluated on Cityscapes, BDD100K and Mapillary. The source part of MIC(HRDA):
# HRDA's multi-resolution DAFormer, rare class sampling, the thing-class ImageNet feature
# distance, and MIC's masked image consistency on colour-augmented source images (the mode
# MIC calls separatesrcaug). Seed 0 of experiment 86 (run_experiments.py --exp 86); not trained
# yet.
_base_ = [
    # Logging hooks, distributed backend and workflow shared by all runs.
    '../_base_/default_runtime.py',
    # DAFormer network: MiT-B5 encoder, decoder with separable-ASPP fusion.
    '../_base_/models/daformer_sepaspp_mitb5.py',
    # GTA (2560x1440), 1024x1024 crops, no target; evaluation on Cityscapes, BDD100K and
    # Mapillary (one <name>/mIoU log key each, docs/evaluation.md).
    '../_base_/datasets/uda_gtaHR_to_dgHR_1024x1024.py',
    # DACS wrapper with source_only=True and the thing-class feature distance (no teacher).
    '../_base_/uda/dacs_srconly_fdthings.py',
    # AdamW optimiser.
    '../_base_/schedules/adamw.py',
    # Linear warm-up (1500 iterations), then linear (poly 1.0) decay to 0.
    '../_base_/schedules/poly10warm.py'
]
# First of the three seeds of experiment 86.
seed = 0
# HRDA as in configs/mic/gtaHR2csHR_mic_hrda.py (docs/REFERENCE.md §4): a context crop at half
# resolution and a 512x512 detail crop, fused by a learned class-wise scale attention.
model = dict(
    type='HRDAEncoderDecoder',
    decode_head=dict(
        type='HRDAHead',
        # Each scale is decoded by the DAFormer head of the model base.
        single_scale_head='DAFormerHead',
        # One attention value per class and pixel.
        attention_classwise=True,
        # Weight of the extra loss on the detail prediction alone.
        hr_loss_weight=0.1),
    # Full resolution for the detail crop, half resolution for the context crop.
    scales=[1, 0.5],
    # Detail crop of 512x512 inside the 1024x1024 training crop.
    hr_crop_size=(512, 512),
    # The feature distance compares the features of the half-resolution context input.
    feature_scale=0.5,
    # Crop offsets divisible by 8 = output stride 4 x downscale 2.
    crop_coord_divisible=8,
    # Sliding detail windows at test time.
    hr_slide_inference=True,
    # Test time: batched overlapping 1024x1024 windows with stride 512.
    test_cfg=dict(
        mode='slide',
        batched_slide=True,
        stride=[512, 512],
        crop_size=[1024, 1024]))
# Training data on top of the dataset base: sampling and loader.
data = dict(
    train=dict(
        # Rare class sampling of GTA (docs/REFERENCE.md §3.6), as MIC(HRDA): temperature 0.01,
        # a crop must contain more than 3000 x 2.0 pixels of the drawn class.
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=2.0)),
    # One loader worker per GPU suffices for batch 2.
    workers_per_gpu=1,
    # Two source images per iteration (no target images).
    samples_per_gpu=2,
)
# MIC on the source: the student must predict the source label from a masked,
# colour-augmented source image (docs/REFERENCE.md §3.4, mode separatesrcaug).
uda = dict(
    mask_mode='separatesrcaug',
    # 'same': no own MIC teacher (a source-only run has none to share, and needs none).
    mask_alpha='same',
    mask_pseudo_threshold='same',
    # The masked loss counts as much as the source loss.
    mask_lambda=1,
    # Random 64x64 blocks of the 1024x1024 input are masked with probability 0.7.
    mask_generator=dict(
        type='block', mask_ratio=0.7, mask_block_size=64, _delete_=True))
# The DACS wrapper backpropagates and steps the optimiser itself: no optimiser hook.
optimizer_config = None
# AdamW with DAFormer's learning rate 6e-5 and parameter-wise multipliers.
optimizer = dict(
    lr=6e-05,
    paramwise_cfg=dict(
        custom_keys=dict(
            # The randomly initialised decoder learns 10x faster than the pretrained encoder.
            head=dict(lr_mult=10.0),
            # No weight decay on MiT's position convolutions and normalisation layers.
            pos_block=dict(decay_mult=0.0),
            norm=dict(decay_mult=0.0))))
# Hardware assumed (meta information only).
n_gpus = 1
gpu_model = 'NVIDIATITANRTX'
# 40k iterations of batch 2.
runner = dict(type='IterBasedRunner', max_iters=40000)
# Keep only the final checkpoint.
checkpoint_config = dict(by_epoch=False, interval=40000, max_keep_ckpts=1)
# mIoU on the three evaluation sets every 4000 iterations.
evaluation = dict(interval=4000, metric='mIoU')
# Meta information for result tables (docs/REFERENCE.md §7.1 naming).
name = 'gtaHR2dgHR_srconly_mic_hrda_s0'
exp = 'basic'
name_dataset = 'gtaHR2dgHR_1024x1024'
name_architecture = 'hrda1-512-0.1_daformer_sepaspp_sl_mitb5'
name_encoder = 'mitb5'
name_decoder = 'hrda1-512-0.1_daformer_sepaspp_sl'
name_uda = 'dacs_srconly_fdthings_rcs0.01-2.0_m64-0.7-spsa'
name_opt = 'adamw_6e-05_pmTrue_poly10warm_1x2_40k'

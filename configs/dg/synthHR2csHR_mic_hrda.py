# MIC(HRDA) from all-synthetic sources to Cityscapes (docs/domains.md): four labelled synthetic
# sources (GTA, Synthia, Synscapes, UrbanSyn) mixed per item, in proportion to their sizes,
# with rare class sampling over their union; otherwise configs/mic/gtaHR2csHR_mic_hrda.py.
# Evaluated on Cityscapes, BDD100K and Mapillary. Seed 0 of experiment 87
# (run_experiments.py --exp 87); not trained yet.
_base_ = [
    # Logging hooks, distributed backend and workflow shared by all runs.
    '../_base_/default_runtime.py',
    # DAFormer network: MiT-B5 encoder, decoder with separable-ASPP fusion (docs/REFERENCE.md §2.2).
    '../_base_/models/daformer_sepaspp_mitb5.py',
    # GTA (2560x1440), Synthia (2560x1520), Synscapes and UrbanSyn (2048x1024) -> Cityscapes
    # (2048x1024), 1024x1024 crops; evaluation on Cityscapes, BDD100K and Mapillary (one
    # <name>/mIoU log key each, docs/evaluation.md).
    '../_base_/datasets/uda_synthHR_to_cityscapesHR_1024x1024.py',
    # DACS self-training with teacher alpha 0.999 and the thing-class feature distance.
    '../_base_/uda/dacs_a999_fdthings.py',
    # AdamW optimiser.
    '../_base_/schedules/adamw.py',
    # Linear warm-up (1500 iterations), then linear (poly 1.0) decay to 0.
    '../_base_/schedules/poly10warm.py'
]
# First of the three seeds of experiment 87.
seed = 0
# HRDA: train on a low-resolution context crop and a high-resolution detail crop and fuse the
# two predictions with a learned scale attention (docs/REFERENCE.md §4).
model = dict(
    type='HRDAEncoderDecoder',
    decode_head=dict(
        type='HRDAHead',
        # Each scale is decoded by the DAFormer head of the model base.
        single_scale_head='DAFormerHead',
        # One attention value per class and pixel, so every class can pick its best scale.
        attention_classwise=True,
        # Weight of the extra loss on the detail prediction alone; the fused output gets 0.9.
        hr_loss_weight=0.1),
    # Full resolution for the detail crop, half resolution for the context crop.
    scales=[1, 0.5],
    # Detail crop of 512x512 inside the 1024x1024 training crop (relative size 0.5).
    hr_crop_size=(512, 512),
    # The feature distance compares the features of the half-resolution context input, as
    # DAFormer did at 512x512.
    feature_scale=0.5,
    # Crop offsets divisible by 8 = output stride 4 x downscale 2, so that the detail logits land
    # exactly on the grid of the context logits when fused.
    crop_coord_divisible=8,
    # Pseudo-labels use the detail head on overlapping sliding windows over the whole image.
    hr_slide_inference=True,
    # Test time: batched overlapping 1024x1024 windows with stride 512 over the 2048x1024 image.
    test_cfg=dict(
        mode='slide',
        batched_slide=True,
        stride=[512, 512],
        crop_size=[1024, 1024]))
# Training data on top of the dataset base: sampling, pseudo-label margins, loader.
data = dict(
    train=dict(
        # Rare class sampling (docs/REFERENCE.md §3.6) over the union of the four sources: the
        # class frequencies of their statistics summed, a file drawn among all sources' files
        # with the class (docs/domains.md); temperature 0.01, a sampled crop must contain at
        # least 3000 x 2.0 pixels of the drawn class.
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=2.0),
        # Pseudo-label cropping v2: zero pseudo-label weight on the margins of the full target
        # frame (top 30, bottom 240 = ego-car hood, left/right 30), marked before cropping so
        # that only crops at the frame border lose pixels.
        target=dict(crop_pseudo_margins=[30, 240, 30, 30]),
    ),
    # One loader worker per GPU suffices for batch 2.
    workers_per_gpu=1,
    # Two source and two target images per iteration.
    samples_per_gpu=2,
)
# MIC: the student must predict the teacher's pseudo-label from a masked target image, which
# forces it to use the context of the visible parts (docs/REFERENCE.md §3.4).
uda = dict(
    # Mask colour-augmented target images (with their pseudo-labels and weights).
    mask_mode='separatetrgaug',
    # Reuse the self-training teacher (alpha 0.999) instead of a separate MIC teacher.
    mask_alpha='same',
    # Reuse the self-training pseudo-labels and confidence weights (threshold 0.968).
    mask_pseudo_threshold='same',
    # The masked loss counts as much as the other losses.
    mask_lambda=1,
    # Random 64x64 patches of the 1024x1024 input are masked with probability 0.7; the whole
    # dict replaces the base's mask_generator=None.
    mask_generator=dict(
        type='block', mask_ratio=0.7, mask_block_size=64, _delete_=True))
# The UDA wrapper backpropagates and steps the optimiser itself (docs/REFERENCE.md §3.1): no optimiser hook.
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
# Hardware of the original run (meta information only).
n_gpus = 1
gpu_model = 'NVIDIATITANRTX'
# 40k iterations of batch 2 (source) + 2 (target).
runner = dict(type='IterBasedRunner', max_iters=40000)
# Keep only the final checkpoint.
checkpoint_config = dict(by_epoch=False, interval=40000, max_keep_ckpts=1)
# mIoU on the three evaluation sets every 4000 iterations.
evaluation = dict(interval=4000, metric='mIoU')
# Meta information for result tables (docs/REFERENCE.md §7.1 naming).
name = 'synthHR2csHR_mic_hrda_s0'
exp = 'basic'
name_dataset = 'synthHR2cityscapesHR_1024x1024'
name_architecture = 'hrda1-512-0.1_daformer_sepaspp_sl_mitb5'
name_encoder = 'mitb5'
name_decoder = 'hrda1-512-0.1_daformer_sepaspp_sl'
name_uda = 'dacs_a999_fdthings_rcs0.01-2.0_cpl2_m64-0.7-spta'
name_opt = 'adamw_6e-05_pmTrue_poly10warm_1x2_40k'

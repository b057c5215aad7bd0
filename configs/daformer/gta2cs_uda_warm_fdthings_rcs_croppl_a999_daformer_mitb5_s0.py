# DAFormer on GTA -> Cityscapes at 512x512 (docs/REFERENCE.md §6): the DAFormer network trained with DACS
# self-training and DAFormer's three additions: rare class sampling (rcs), the thing-class
# ImageNet feature distance (fdthings) and learning-rate warm-up (warm); plus pseudo-label
# cropping (croppl) and teacher alpha 0.999 (a999).
_base_ = [
    # Logging hooks, distributed backend and workflow shared by all runs.
    '../_base_/default_runtime.py',
    # DAFormer network: MiT-B5 encoder, decoder with separable-ASPP fusion (docs/REFERENCE.md §2.2).
    '../_base_/models/daformer_sepaspp_mitb5.py',
    # GTA (1280x720) -> Cityscapes (1024x512), 512x512 crops (docs/REFERENCE.md §1.3).
    '../_base_/datasets/uda_gta_to_cityscapes_512x512.py',
    # DACS with teacher alpha 0.999 and the feature distance on thing classes (docs/REFERENCE.md §3.2).
    '../_base_/uda/dacs_a999_fdthings.py',
    # AdamW optimiser.
    '../_base_/schedules/adamw.py',
    # Linear warm-up (1500 iterations), then linear decay to 0.
    '../_base_/schedules/poly10warm.py'
]
seed = 0
data = dict(
    train=dict(
        # Rare class sampling (docs/REFERENCE.md §3.6): temperature 0.01; a crop must hold more than
        # 3000 x 0.5 pixels of the sampled class.
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
# Pseudo-label cropping v1: the 512x512 crop spans the full height of the 1024x512 target, so
# its top 15 rows (rectification border) and bottom 120 rows (ego-car hood) get weight 0.
uda = dict(pseudo_weight_ignore_top=15, pseudo_weight_ignore_bottom=120)
# The UDA wrapper backpropagates and steps the optimiser itself (docs/REFERENCE.md §3.1): no optimiser hook.
optimizer_config = None
# AdamW with DAFormer's learning rate 6e-5 and parameter-wise multipliers.
optimizer = dict(
    lr=6e-05,
    paramwise_cfg=dict(
        custom_keys=dict(
            # The randomly initialised decoder learns 10x faster than the pretrained encoder.
            head=dict(lr_mult=10.0),
            # No weight decay on position convolutions and normalisation layers.
            pos_block=dict(decay_mult=0.0),
            norm=dict(decay_mult=0.0))))
n_gpus = 1
gpu_model = 'NVIDIAGeForceRTX2080Ti'
runner = dict(type='IterBasedRunner', max_iters=40000)
checkpoint_config = dict(by_epoch=False, interval=40000, max_keep_ckpts=1)
evaluation = dict(interval=4000, metric='mIoU')
# Meta information for result tables.
name = 'gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0'
exp = 'basic'
name_dataset = 'gta2cityscapes'
name_architecture = 'daformer_sepaspp_mitb5'
name_encoder = 'mitb5'
name_decoder = 'daformer_sepaspp'
name_uda = 'dacs_a999_fdthings_rcs0.01_cpl'
name_opt = 'adamw_6e-05_pmTrue_poly10warm_1x2_40k'

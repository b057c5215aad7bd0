# Toy MIC(DAFormer): the toy DAFormer self-training plus masked image consistency: the student
# predicts the teacher's pseudo-labels from colour-augmented target images with 70% of their
# 16x16 blocks blacked out (docs/REFERENCE.md §3.4). Same as experiments.py toy id 3.
_base_ = ['toy_gta2cs_daformer.py']
uda = dict(
    mask_mode='separatetrgaug',
    # Reuse the self-training teacher and its pseudo-labels/confidence weights.
    mask_alpha='same',
    mask_pseudo_threshold='same',
    mask_lambda=1,
    # 16 px blocks, an 8x8 grid on a 128x128 crop (MIC uses 32 px blocks at 512 px and 64 px at
    # 1024 px).
    mask_generator=dict(
        type='block', mask_ratio=0.7, mask_block_size=16, _delete_=True))
name = 'toy_gta2cs_mic_daformer'
name_uda = 'dacs_rcs0.01_m16-0.7-spta'

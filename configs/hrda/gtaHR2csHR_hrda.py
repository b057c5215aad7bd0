# HRDA on GTA -> Cityscapes at high resolution: the annotated MIC(HRDA) configuration
# (configs/mic/gtaHR2csHR_mic_hrda.py, read it for every setting) without the masked image
# consistency, i.e. HRDA's multi-resolution DAFormer trained with DAFormer's self-training (DACS +
# rare class sampling + ImageNet feature distance + pseudo-label margins).
_base_ = ['../mic/gtaHR2csHR_mic_hrda.py']
# No masking: the base values of configs/_base_/uda/dacs.py.
uda = dict(
    mask_mode=None,
    mask_alpha='same',
    mask_pseudo_threshold='same',
    mask_lambda=0,
    mask_generator=None)
name = 'gtaHR2csHR_hrda_s2'
name_uda = 'dacs_a999_fdthings_rcs0.01-2.0_cpl2'

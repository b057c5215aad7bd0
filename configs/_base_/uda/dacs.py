# DACS self-training with DAFormer's additions and the MIC options (docs/REFERENCE.md §3.2).
# Each key is read by mmseg/models/uda/dacs.py; unknown keys are rejected.
uda = dict(
    type='DACS',
    # Train on the source only (no teacher, no mixing); MIC may still mask source images.
    source_only=False,
    # EMA factor of the teacher; warm-up a = min(1 - 1/(iter + 1), alpha).
    alpha=0.99,
    # Pseudo-weight = fraction of target pixels whose teacher confidence >= this threshold.
    pseudo_threshold=0.968,
    # Rows at the top/bottom of the target image whose pseudo-weight is zeroed (DAFormer's
    # pseudo-label crop for rectification artefacts); exclusive with crop_pseudo_margins.
    pseudo_weight_ignore_top=0,
    pseudo_weight_ignore_bottom=0,
    # ImageNet feature distance (off at 0); classes: restrict it to these train IDs;
    # scale_min_ratio: minimum majority fraction of a downscaled label cell.
    imnet_feature_dist_lambda=0,
    imnet_feature_dist_classes=None,
    imnet_feature_dist_scale_min_ratio=None,
    # ClassMix of source classes into the target image.
    mix='class',
    # Strong augmentation of the mixed image: Gaussian blur (if a draw > 0.5) and colour
    # jitter of this strength (if a draw > the probability).
    blur=True,
    color_jitter_strength=0.2,
    color_jitter_probability=0.2,
    # MIC (masked image consistency), off with mask_mode None; see docs/REFERENCE.md §3.4.
    mask_mode=None,
    mask_alpha='same',
    mask_pseudo_threshold='same',
    mask_lambda=0,
    mask_generator=None,
    # Debug image grids into <work_dir>/debug every this many iterations.
    debug_img_interval=1000,
    # Log the gradient norm of the backbone after the source and feature-distance losses.
    print_grad_magnitude=False,
)
use_ddp_wrapper = True

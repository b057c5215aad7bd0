# MinEnt: entropy minimisation of the target predictions (ADVENT), docs/REFERENCE.md §3.5.
uda = dict(
    type='MinEnt',
    # Weight of the normalised target entropy per output ('aux' only with an auxiliary head).
    lambda_ent=dict(main=0.001, aux=0.0002),
    debug_img_interval=1000,
    # MIC options (inactive while mask_mode is None); MIC then trains with its own EMA
    # teacher whose 'same' values are alpha and pseudo_threshold below.
    alpha=0.999,
    mask_alpha='same',
    mask_pseudo_threshold='same',
    pseudo_threshold=0.968,
    pseudo_weight_ignore_top=0,
    pseudo_weight_ignore_bottom=0,
    blur=True,
    color_jitter_strength=0.2,
    color_jitter_probability=0.2,
    mask_mode=None,
    mask_lambda=0,
    mask_generator=None,
)

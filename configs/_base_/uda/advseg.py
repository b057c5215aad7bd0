# AdvSeg: output-space adversarial training (AdaptSegNet), docs/REFERENCE.md §3.5.
uda = dict(
    type='AdvSeg',
    # 'LS': least-squares (MSE) discriminator loss; 'Vanilla': BCE with logits.
    discriminator_type='LS',
    # Adam of the discriminators, lr = (lr_D - lr_D_min)(1 - iter/max_iters)^power + lr_D_min.
    lr_D=1e-4,
    lr_D_power=0.9,
    lr_D_min=0,
    # Weight of the adversarial loss per output ('aux' only with an auxiliary head).
    lambda_adv_target=dict(main=0.001, aux=0.0002),
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

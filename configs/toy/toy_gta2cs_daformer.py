# Toy DAFormer self-training: DACS (EMA teacher pseudo-labels on the target, ClassMix of source
# and target, colour jitter and blur) with rare class sampling, on toy GTA -> toy Cityscapes.
# No ImageNet feature distance: the toy warm start is no ImageNet model to stay close to.
# Same as experiments.py toy id 2.
_base_ = [
    # Tiny DAFormer warm-started on toy GTA, AdamW lr 3e-4, 400 iterations (see _toy_base.py).
    '_toy_base.py',
    # UDA data: toy GTA (source, labelled) + toy Cityscapes train (target, unlabelled).
    '../_base_/datasets/uda_toygta_to_toycityscapes_128x128.py',
    # DACS, teacher alpha 0.99 (threshold below).
    '../_base_/uda/dacs.py',
]
# A pseudo-label threshold for the small network (experiments.py TOY_PSEUDO_THRESHOLD): the
# warm-started tiny MiT is far less confident on toy Cityscapes than an ImageNet-pretrained
# MiT-B5; at 0.968 only about a tenth of the target pixels pass and DACS scales the whole target
# loss by that fraction.
uda = dict(pseudo_threshold=0.9)
data = dict(
    train=dict(
        # Rare class sampling with temperature 0.01. min_pixels is scaled to the toy images
        # (256x128, 3.6% of a 1280x720 GTA image): 100 instead of 3000 pixels.
        rare_class_sampling=dict(min_pixels=100, class_temp=0.01, min_crop_ratio=0.5)))
# The UDA wrapper backpropagates and steps the optimiser itself (docs/REFERENCE.md §3.1).
optimizer_config = None
name = 'toy_gta2cs_daformer'
name_dataset = 'toygta2toycityscapes_128x128'
name_uda = 'dacs_rcs0.01'

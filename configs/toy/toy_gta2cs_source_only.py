# Toy source-only baseline (`make demo` trains it beside MIC): a tiny DAFormer, its MiT
# warm-started on toy GTA (_toy_base.py), trained on toy GTA only and evaluated on toy Cityscapes
# val, on CPU in a few minutes. Make the data with
# `python tools/make_toy_data.py` (data/toy) and the warm start with
# `python tools/make_toy_pretrained.py`. Same settings as experiments.py toy id 1.
_base_ = [
    # Tiny DAFormer warm-started on toy GTA, AdamW lr 3e-4, 400 iterations (_toy_base.py).
    '_toy_base.py',
    # Supervised on toy GTA (256x128 -> 128x128 crops), validation on toy Cityscapes val.
    '../_base_/datasets/toygta_to_toycityscapes_128x128.py',
]
name = 'toy_gta2cs_source_only'
name_dataset = 'toygta2toycityscapes_128x128'
name_uda = 'source-only'

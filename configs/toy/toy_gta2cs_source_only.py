# Toy source-only baseline (what `make demo` trains): a tiny DAFormer trained from scratch on
# toy GTA only and evaluated on toy Cityscapes val, on CPU in a few minutes. Make the data with
# `python tools/make_toy_data.py` (data/toy). Same settings as experiments.py toy id 1.
_base_ = [
    # Tiny DAFormer, AdamW lr 3e-4, 400 iterations (see _toy_base.py).
    '_toy_base.py',
    # Supervised on toy GTA (256x128 -> 128x128 crops), validation on toy Cityscapes val.
    '../_base_/datasets/toygta_to_toycityscapes_128x128.py',
]
name = 'toy_gta2cs_source_only'
name_dataset = 'toygta2toycityscapes_128x128'
name_uda = 'source-only'

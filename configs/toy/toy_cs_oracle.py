# Toy target-supervised oracle: the toy source-only setting trained on toy Cityscapes train
# instead of toy GTA, i.e. the upper bound the UDA methods approach. Same as experiments.py
# toy id 4.
_base_ = [
    '_toy_base.py',
    # Supervised on toy Cityscapes train, validation on toy Cityscapes val.
    '../_base_/datasets/toycityscapes_128x128.py',
]
name = 'toy_cs_oracle'
name_dataset = 'toycityscapes_128x128'
name_uda = 'target-only'

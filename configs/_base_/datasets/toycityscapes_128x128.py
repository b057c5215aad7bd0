# Toy target-supervised oracle on CPU: the toy source-only data config with toy Cityscapes train
# (labelled) in place of toy GTA; same pipelines, same evaluation on toy Cityscapes val.
_base_ = ['toygta_to_toycityscapes_128x128.py']
data = dict(
    train=dict(
        type='CityscapesDataset',
        data_root='data/toy/cityscapes/',
        img_dir='leftImg8bit/train',
        ann_dir='gtFine/train'))

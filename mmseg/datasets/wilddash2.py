"""WildDash2 (docs/dataset_prepare.md, WildDash2): images ``images/*.jpg``, panoptic labels
``panoptic/*.png`` + ``panoptic.json`` converted to ``labelTrainIds/*_labelTrainIds.png``."""
from .builder import DATASETS
from .cityscapes import CityscapesDataset

__all__ = ['WildDash2Dataset']


@DATASETS.register_module()
class WildDash2Dataset(CityscapesDataset):
    """WildDash2's public set (4256 images) with the 19 Cityscapes classes, labels made from
    the panoptic annotations by tools/convert_datasets/wilddash2.py."""

    DATASET_NAME = 'WildDash2 (wd_public_v2p0)'
    CONVERTER = 'tools/convert_datasets/wilddash2.py'

    def __init__(self, img_dir='images', ann_dir='labelTrainIds', img_suffix='.jpg',
                 seg_map_suffix='_labelTrainIds.png', **kwargs):
        super().__init__(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

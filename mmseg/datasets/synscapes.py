"""Synscapes (docs/dataset_prepare.md, Synscapes): images ``img/rgb/<n>.png``, Cityscapes label
IDs ``img/class/<n>.png`` converted to ``img/class/<n>_labelTrainIds.png``."""
from .builder import DATASETS
from .cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from .custom import CustomDataset

__all__ = ['SynscapesDataset']


@DATASETS.register_module()
class SynscapesDataset(CustomDataset):
    """Synscapes (25000 synthetic images, a source) with the Cityscapes classes; defaults: the
    whole labelled set."""

    CLASSES = CITYSCAPES_CLASSES
    PALETTE = CITYSCAPES_PALETTE
    DATASET_NAME = 'Synscapes'
    CONVERTER = 'tools/convert_datasets/synscapes.py'

    def __init__(self, img_dir='img/rgb', ann_dir='img/class', img_suffix='.png',
                 seg_map_suffix='_labelTrainIds.png', **kwargs):
        super().__init__(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

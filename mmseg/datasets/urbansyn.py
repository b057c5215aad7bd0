"""UrbanSyn (docs/dataset_prepare.md, UrbanSyn): images ``rgb/rgb_<n>.png``, train-ID labels
``ss/ss_<n>.png`` rewritten by the converter as ``labelTrainIds/rgb_<n>_labelTrainIds.png``."""
from .builder import DATASETS
from .cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from .custom import CustomDataset

__all__ = ['UrbanSynDataset']


@DATASETS.register_module()
class UrbanSynDataset(CustomDataset):
    """UrbanSyn (7539 synthetic images, a source) with the Cityscapes classes; defaults: the
    whole labelled set, labels named after their image by tools/convert_datasets/urbansyn.py."""

    CLASSES = CITYSCAPES_CLASSES
    PALETTE = CITYSCAPES_PALETTE
    DATASET_NAME = 'UrbanSyn'
    CONVERTER = 'tools/convert_datasets/urbansyn.py'

    def __init__(self, img_dir='rgb', ann_dir='labelTrainIds', img_suffix='.png',
                 seg_map_suffix='_labelTrainIds.png', **kwargs):
        super().__init__(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

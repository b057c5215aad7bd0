"""GTA5 (docs/REFERENCE.md §1): ``images/*.png`` and converted ``labels/*_labelTrainIds.png``."""
from .builder import DATASETS
from .cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from .custom import CustomDataset

__all__ = ['GTADataset']


@DATASETS.register_module()
class GTADataset(CustomDataset):
    """GTA5 with the Cityscapes classes (labels converted to train IDs)."""

    CLASSES = CITYSCAPES_CLASSES
    PALETTE = CITYSCAPES_PALETTE
    DATASET_NAME = 'GTA5'
    CONVERTER = 'tools/convert_datasets/gta.py'

    def __init__(self, img_suffix='.png', seg_map_suffix='_labelTrainIds.png', **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

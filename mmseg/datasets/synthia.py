"""Synthia (docs/REFERENCE.md §1): ``RGB/*.png`` and converted ``GT/LABELS/*_labelTrainIds.png``."""
from .builder import DATASETS
from .cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from .custom import CustomDataset

__all__ = ['SynthiaDataset', 'SYNTHIA_VALID_CLASSES']

# Synthia has no terrain, truck, train (train IDs 9, 14, 16): papers report the mean over the
# other 16 (mIoU16) next to mIoU over all 19 (docs/REFERENCE.md §1).
SYNTHIA_VALID_CLASSES = tuple(c for c in range(19) if c not in (9, 14, 16))


@DATASETS.register_module()
class SynthiaDataset(CustomDataset):
    """Synthia with the Cityscapes classes; evaluate also reports mIoU16."""

    CLASSES = CITYSCAPES_CLASSES
    PALETTE = CITYSCAPES_PALETTE
    DATASET_NAME = 'Synthia (RAND_CITYSCAPES)'
    CONVERTER = 'tools/convert_datasets/synthia.py'

    def __init__(self, img_suffix='.png', seg_map_suffix='_labelTrainIds.png', class_subsets=None,
                 **kwargs):
        subsets = dict(mIoU16=SYNTHIA_VALID_CLASSES)
        subsets.update(class_subsets or {})
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         class_subsets=subsets, **kwargs)

"""ACDC (docs/REFERENCE.md §1): images ``rgb_anon/<split>/**/*_rgb_anon.png``, labels
``gt/<split>/**/*_gt_labelTrainIds.png``."""
from .builder import DATASETS
from .cityscapes import CityscapesDataset

__all__ = ['ACDCDataset']


@DATASETS.register_module()
class ACDCDataset(CityscapesDataset):
    """ACDC with the Cityscapes classes; labels are train IDs already (no converter)."""

    DATASET_NAME = 'ACDC'
    CONVERTER = None

    def __init__(self, img_suffix='_rgb_anon.png', seg_map_suffix='_gt_labelTrainIds.png',
                 **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

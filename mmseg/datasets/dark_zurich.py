"""Dark Zurich (docs/REFERENCE.md §1): ``rgb_anon/<split>/**/*_rgb_anon.png``; labels only for ``gt/val``."""
from .builder import DATASETS
from .cityscapes import CityscapesDataset

__all__ = ['DarkZurichDataset']


@DATASETS.register_module()
class DarkZurichDataset(CityscapesDataset):
    """Dark Zurich with the Cityscapes classes; labels are train IDs already (no converter)."""

    DATASET_NAME = 'Dark Zurich'
    CONVERTER = None

    def __init__(self, img_suffix='_rgb_anon.png', seg_map_suffix='_gt_labelTrainIds.png',
                 **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

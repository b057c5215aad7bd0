"""Nighttime Driving test (docs/dataset_prepare.md, Nighttime Driving):
``leftImg8bit/test/night/*_leftImg8bit.png`` and coarse train-ID labels
``gtCoarse_daytime_trainvaltest/test/night/*_gtCoarse_labelTrainIds.png`` (50 images)."""
from .builder import DATASETS
from .cityscapes import CityscapesDataset

__all__ = ['NighttimeDrivingDataset']


@DATASETS.register_module()
class NighttimeDrivingDataset(CityscapesDataset):
    """Nighttime Driving (evaluation only) with the Cityscapes classes; labels are train IDs
    already (no converter)."""

    DATASET_NAME = 'Nighttime Driving (NighttimeDrivingTest)'
    CONVERTER = None

    def __init__(self, img_dir='leftImg8bit/test/night',
                 ann_dir='gtCoarse_daytime_trainvaltest/test/night',
                 img_suffix='_leftImg8bit.png', seg_map_suffix='_gtCoarse_labelTrainIds.png',
                 **kwargs):
        super().__init__(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

"""Foggy Driving (docs/dataset_prepare.md, Foggy Driving): Cityscapes-style
``leftImg8bit/test/<record>/*_leftImg8bit.png`` with fine labels ``gtFine/test`` (33 images) and
``leftImg8bit/test_extra`` with coarse labels ``gtCoarse/test_extra`` (68 images)."""
from .builder import DATASETS
from .cityscapes import CityscapesDataset

__all__ = ['FoggyDrivingDataset']


@DATASETS.register_module()
class FoggyDrivingDataset(CityscapesDataset):
    """Foggy Driving (evaluation only) with the Cityscapes classes. Defaults: the 33 finely
    labelled ``test`` images; the 68 coarse ones are ``img_dir='leftImg8bit/test_extra',
    ann_dir='gtCoarse/test_extra', seg_map_suffix='_gtCoarse_labelTrainIds.png'``."""

    DATASET_NAME = 'Foggy Driving'
    CONVERTER = 'tools/convert_datasets/foggy_driving.py'

    def __init__(self, img_dir='leftImg8bit/test', ann_dir='gtFine/test',
                 img_suffix='_leftImg8bit.png', seg_map_suffix='_gtFine_labelTrainIds.png',
                 **kwargs):
        super().__init__(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

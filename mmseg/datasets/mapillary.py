"""Mapillary Vistas (docs/dataset_prepare.md, Mapillary Vistas): images
``<split>/images/*.jpg``, v1.2 labels (66 classes, palette PNGs) ``<split>/v1.2/labels/*.png``
converted to ``<split>/v1.2/labels/*_labelTrainIds.png``."""
from .builder import DATASETS
from .cityscapes import CityscapesDataset

__all__ = ['MapillaryDataset']


@DATASETS.register_module()
class MapillaryDataset(CityscapesDataset):
    """Mapillary Vistas with its v1.2 classes mapped to the 19 Cityscapes classes by
    tools/convert_datasets/mapillary.py. Defaults: the validation split (2000 images)."""

    DATASET_NAME = 'Mapillary Vistas'
    CONVERTER = 'tools/convert_datasets/mapillary.py'

    def __init__(self, img_dir='validation/images', ann_dir='validation/v1.2/labels',
                 img_suffix='.jpg', seg_map_suffix='_labelTrainIds.png', **kwargs):
        super().__init__(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

"""BDD100K semantic segmentation (docs/dataset_prepare.md, BDD100K): images
``images/10k/<split>/*.jpg``, masks ``labels/sem_seg/masks/<split>/*.png`` (train IDs already)."""
from .builder import DATASETS
from .cityscapes import CityscapesDataset

__all__ = ['BDD100KDataset']


@DATASETS.register_module()
class BDD100KDataset(CityscapesDataset):
    """BDD100K (10k images with semantic masks) with the 19 Cityscapes classes.

    The released masks already hold Cityscapes train IDs (0-18, 255 ignored), so no converter
    is needed; ``tools/convert_datasets/bdd100k.py`` only writes the rare-class statistics for
    its use as a source. Defaults: the val split (1000 images), labels H×W uint8.
    """

    DATASET_NAME = 'BDD100K (10k semantic segmentation: images/10k and labels/sem_seg/masks)'
    CONVERTER = None

    def __init__(self, img_dir='images/10k/val', ann_dir='labels/sem_seg/masks/val',
                 img_suffix='.jpg', seg_map_suffix='.png', **kwargs):
        super().__init__(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

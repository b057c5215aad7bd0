"""The Cityscapes classes and palette (docs/REFERENCE.md §0), shared by the datasets and the debug drawings."""

__all__ = ['CITYSCAPES_CLASSES', 'CITYSCAPES_PALETTE', 'get_classes', 'get_palette']

CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
                      'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car',
                      'truck', 'bus', 'train', 'motorcycle', 'bicycle')
# RGB colour of train IDs 0..18.
CITYSCAPES_PALETTE = [[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156],
                      [190, 153, 153], [153, 153, 153], [250, 170, 30], [220, 220, 0],
                      [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
                      [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100],
                      [0, 0, 230], [119, 11, 32]]

# Dataset names accepted by get_classes / get_palette (mmseg 0.x spelling): every dataset of
# mic-seg uses the Cityscapes classes.
_DATASET_ALIASES = {
    'cityscapes': ('cityscapes', 'gta', 'gta5', 'synthia', 'acdc', 'darkzurich', 'dark_zurich'),
}


def _canonical(dataset):
    name = str(dataset).lower().replace('dataset', '')
    for canonical, aliases in _DATASET_ALIASES.items():
        if name in aliases:
            return canonical
    known = sorted(a for aliases in _DATASET_ALIASES.values() for a in aliases)
    raise ValueError(f'unknown dataset {dataset!r}; known: {", ".join(known)}')


def get_classes(dataset):
    """Class names of a dataset, as mmseg 0.x's ``get_classes('cityscapes')``: a list of str.

    Raises ValueError for an unknown name."""
    _canonical(dataset)
    return list(CITYSCAPES_CLASSES)


def get_palette(dataset):
    """RGB colours (a list of [r, g, b]) of the dataset's classes, in class order."""
    _canonical(dataset)
    return [list(color) for color in CITYSCAPES_PALETTE]

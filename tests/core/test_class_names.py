"""mmseg 0.x's get_classes / get_palette against the Cityscapes tables of cityscapesscripts."""
import pytest
from cityscapesscripts.helpers.labels import trainId2label

from mmseg.core.evaluation import get_classes, get_palette


@pytest.mark.parametrize('name', ['cityscapes', 'CityscapesDataset', 'gta', 'synthia', 'acdc',
                                  'dark_zurich'])
def test_classes_and_palette_are_cityscapes_train_ids(name):
    classes, palette = get_classes(name), get_palette(name)
    assert len(classes) == len(palette) == 19
    for train_id in range(19):
        label = trainId2label[train_id]
        assert classes[train_id] == label.name
        assert palette[train_id] == list(label.color)


def test_unknown_dataset_is_named():
    with pytest.raises(ValueError, match="unknown dataset 'ade20k'"):
        get_classes('ade20k')
    with pytest.raises(ValueError, match="unknown dataset 'voc'"):
        get_palette('voc')

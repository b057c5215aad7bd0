"""Fixtures of the dataset tests: tiny datasets in the real layouts (see dataset_test_utils)."""
from types import SimpleNamespace

import pytest
from dataset_test_utils import (CS_BLOCKS, GTA_BLOCKS, SYNTHIA_BLOCKS, block_label, write_pair,
                                write_rcs_stats)


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """Namespace(root, gta, cityscapes, synthia, labels={(dataset, name): label})."""
    root = tmp_path_factory.mktemp('tiny_data')
    labels = {}
    gta = root / 'gta'
    gta_labels = {}
    for i, blocks in enumerate(GTA_BLOCKS):
        label = block_label(blocks)
        name = f'{i:05d}'
        write_pair(gta / 'images' / f'{name}.png', gta / 'labels' / f'{name}_labelTrainIds.png',
                   label)
        gta_labels[f'{gta}/labels/{name}_labelTrainIds.png'] = label
        labels[('gta', name)] = label
    write_rcs_stats(gta, gta_labels)
    cityscapes = root / 'cityscapes'
    for stem, blocks in CS_BLOCKS.items():
        label = block_label(blocks)
        write_pair(cityscapes / 'leftImg8bit' / f'{stem}_leftImg8bit.png',
                   cityscapes / 'gtFine' / f'{stem}_gtFine_labelTrainIds.png', label)
        labels[('cityscapes', stem)] = label
    synthia = root / 'synthia'
    for i, blocks in enumerate(SYNTHIA_BLOCKS):
        label = block_label(blocks)
        name = f'{i:07d}'
        write_pair(synthia / 'RGB' / f'{name}.png',
                   synthia / 'GT' / 'LABELS' / f'{name}_labelTrainIds.png', label)
        labels[('synthia', name)] = label
    return SimpleNamespace(root=root, gta=gta, cityscapes=cityscapes, synthia=synthia,
                           labels=labels)

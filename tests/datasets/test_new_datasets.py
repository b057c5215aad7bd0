"""The datasets of docs/dataset_prepare.md on their converted toy layouts (tools/toy_datasets.py):
defaults that find the files, a sample through the test pipeline, evaluation, the build-time
checks of docs/CHECKS.md, and the one-line error for a missing folder."""
import math

import numpy as np
import pytest
import torch
from dataset_test_utils import eval_pipeline
from mmcv import Config
from PIL import Image

from mmseg.datasets import CITYSCAPES_CLASSES, build_dataset
from mmseg.utils.errors import UserFileNotFoundError, UserInputError

# registry type: (toy folder, default image folder, what the missing-folder error advises)
NEW_DATASETS = {
    'BDD100KDataset': ('bdd100k', 'images/10k/val', 'download BDD100K'),
    'MapillaryDataset': ('mapillary', 'validation/images', 'tools/convert_datasets/mapillary.py'),
    'WildDash2Dataset': ('wilddash2', 'images', 'tools/convert_datasets/wilddash2.py'),
    'SynscapesDataset': ('synscapes', 'img/rgb', 'tools/convert_datasets/synscapes.py'),
    'UrbanSynDataset': ('urbansyn', 'rgb', 'tools/convert_datasets/urbansyn.py'),
    'FoggyZurichDataset': ('foggy_zurich', 'RGB', 'download Foggy Zurich'),
    'FoggyDrivingDataset': ('foggy_driving', 'leftImg8bit/test',
                            'tools/convert_datasets/foggy_driving.py'),
    'NighttimeDrivingDataset': ('nighttime_driving', 'leftImg8bit/test/night',
                                'download Nighttime Driving'),
}
REPO_TOY_CONFIG = 'configs/toy/toy_gta2cs_daformer.py'


def _build(dataset_type, toy_new_datasets, **kwargs):
    root = toy_new_datasets['converted'] / NEW_DATASETS[dataset_type][0]
    return build_dataset(dict(type=dataset_type, data_root=str(root),
                              pipeline=eval_pipeline(scale=(128, 64)), test_mode=True, **kwargs))


@pytest.mark.parametrize('dataset_type', list(NEW_DATASETS))
def test_defaults_load_the_converted_layout_and_evaluate(dataset_type, toy_new_datasets):
    dataset = _build(dataset_type, toy_new_datasets)
    assert len(dataset) == 2 and tuple(dataset.CLASSES) == tuple(CITYSCAPES_CLASSES)
    sample = dataset[0]
    img = sample['img'][0]
    assert isinstance(img, torch.Tensor) and tuple(img.shape) == (3, 64, 128)
    # The labels as stored (read with PIL here), predicted perfectly: 255 becomes road, which
    # is ignored; every class present scores IoU 1, absent ones NaN.
    labels = [np.asarray(Image.open(dataset.label_path(i))) for i in range(len(dataset))]
    present = sorted(set(np.unique(np.concatenate([l.ravel() for l in labels]))) - {255})
    assert len(present) >= 8 and max(present) <= 18
    results = dataset.evaluate([np.where(l == 255, 0, l) for l in labels])
    assert results['mIoU'] == 1.0
    for c, name in enumerate(CITYSCAPES_CLASSES):
        iou = results[f'IoU.{name}']
        assert (iou == 1.0) if c in present else math.isnan(iou)
    assert set(dataset.label_value_counts) <= set(range(19)) | {255}


def test_foggy_zurich_unlabelled_list_and_foggy_driving_coarse_split(toy_new_datasets):
    unlabelled = _build('FoggyZurichDataset', toy_new_datasets, ann_dir=None,
                        split='lists_file_names/RGB_medium_filenames.txt')
    assert len(unlabelled) == 2 and all('ann' not in info for info in unlabelled.img_infos)
    assert unlabelled.img_infos[0]['filename'].startswith('GOPR')
    # A list of names relative to RGB/ without suffix (mmseg's own split format) works too.
    root = toy_new_datasets['converted'] / 'foggy_zurich'
    names = (root / 'lists_file_names' / 'RGB_testv2_filenames.txt').read_text().split()
    own_list = root / 'my_split.txt'
    own_list.write_text(''.join(n[len('RGB/'):-len('.png')] + '\n' for n in names))
    own = _build('FoggyZurichDataset', toy_new_datasets, split='my_split.txt')
    default = _build('FoggyZurichDataset', toy_new_datasets)
    assert own.img_infos == default.img_infos and len(own) == 2
    assert default.img_infos[0]['ann']['seg_map'] == default.img_infos[0]['filename']
    coarse = _build('FoggyDrivingDataset', toy_new_datasets, img_dir='leftImg8bit/test_extra',
                    ann_dir='gtCoarse/test_extra',
                    seg_map_suffix='_gtCoarse_labelTrainIds.png')
    assert len(coarse) == 2 and coarse.label_path(0).endswith('_gtCoarse_labelTrainIds.png')


@pytest.mark.parametrize('dataset_type', list(NEW_DATASETS))
def test_missing_folder_names_it_and_the_converter(dataset_type, tmp_path):
    _, img_dir, advice = NEW_DATASETS[dataset_type]
    with pytest.raises(UserFileNotFoundError) as error:
        build_dataset(dict(type=dataset_type, data_root=str(tmp_path), pipeline=[]))
    message = str(error.value)
    assert '\n' not in message and message.startswith(f'{dataset_type}: ')
    assert f'{tmp_path / img_dir} not found: ' in message
    assert advice in message


# (source type, its overrides) of the UDA runs the checks see: the sources with statistics.
SOURCES = [('SynscapesDataset', {}), ('UrbanSynDataset', {}),
           ('BDD100KDataset', dict(img_dir='images/10k/train',
                                   ann_dir='labels/sem_seg/masks/train')),
           ('MapillaryDataset', dict(img_dir='training/images', ann_dir='training/v1.2/labels'))]


def test_checks_before_training_accept_every_new_dataset(toy_new_datasets, repo_root):
    """check_before_training (files, labels, RCS statistics, consistency) raises nothing and
    warns about nothing for a toy UDA config with each new dataset as source or val set."""
    from mmseg.apis.checks import check_before_training
    base = Config.fromfile(str(repo_root / REPO_TOY_CONFIG))
    for i, val_type in enumerate(NEW_DATASETS):
        cfg = Config(base._cfg_dict.to_dict())
        source_type, overrides = SOURCES[i % len(SOURCES)]
        converted = toy_new_datasets['converted']
        cfg.data.train.source = dict(type=source_type, pipeline=base.data.train.source.pipeline,
                                     data_root=str(converted / NEW_DATASETS[source_type][0]),
                                     **overrides)
        cfg.data.train.target = dict(type='WildDash2Dataset', ann_dir=None,
                                     pipeline=base.data.train.target.pipeline,
                                     data_root=str(converted / 'wilddash2'))
        cfg.data.val = dict(type=val_type, pipeline=base.data.val.pipeline,
                            data_root=str(converted / NEW_DATASETS[val_type][0]))
        cfg.data.train.rare_class_sampling.min_pixels = 1
        train_dataset, warnings = check_before_training(cfg)
        assert warnings == [], (source_type, val_type)
        assert train_dataset.rcs_enabled and len(train_dataset) == 2 * 2  # source × target


@pytest.mark.parametrize('name, dataset_type', [('mapillary', 'MapillaryDataset'),
                                                ('synscapes', 'SynscapesDataset'),
                                                ('wilddash2', 'WildDash2Dataset')])
def test_labels_not_converted_yet_name_the_converter_to_run(toy_new_datasets, name,
                                                            dataset_type):
    raw = toy_new_datasets['raw'] / name
    with pytest.raises(UserInputError) as info:
        build_dataset(dict(type=dataset_type, data_root=str(raw), pipeline=[], test_mode=True))
    message = str(info.value)
    assert f'tools/convert_datasets/{name}.py' in message and 'seg_map_suffix' not in message

"""mmseg.apis.checks and mmseg.apis.config_keys: one test per rule, and no false alarm on any
shipped or generated config."""
import glob
import os.path as osp

import cv2
import mmcv
import numpy as np
import pytest
from mmcv import Config

from mmseg.apis.checks import (check_class_ids, check_consistency, check_ignore_index,
                               check_label_values, check_num_classes, check_rcs_classes,
                               data_sides)
from mmseg.apis.config_keys import (check_section_keys, check_top_level_keys,
                                     check_uda_keys_early)
from mmseg.datasets import CustomDataset
from mmseg.utils.errors import UserInputError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _cfg(num_classes=3, classes=('a', 'b', 'c'), **extra):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Pad', size=(8, 8))]
    data_set = dict(type='CustomDataset', img_dir='x', classes=list(classes), pipeline=pipeline)
    cfg = dict(model=dict(type='EncoderDecoder',
                          decode_head=dict(type='DAFormerHead', num_classes=num_classes,
                                           loss_decode=dict(type='CrossEntropyLoss'))),
               data=dict(train=data_set, val=dict(data_set, pipeline=[])))
    return Config(mmcv.utils.config.Config._merge_a_into_b(extra, cfg))


def _sides(cfg):
    return data_sides('data.train', cfg.data.train) + data_sides('data.val', cfg.data.val)


# ----------------------------------------------------------------------------- num_classes
def test_num_classes_of_every_head_must_match_the_classes():
    check_num_classes(_cfg(), _sides(_cfg()))
    cfg = _cfg(num_classes=19)
    with pytest.raises(UserInputError, match=r'model.decode_head.num_classes = 19 but '
                       r'data.train has 3 classes \(data.train.classes'):
        check_num_classes(cfg, _sides(cfg))
    cfg = _cfg(model=dict(auxiliary_head=[dict(type='FCNHead', num_classes=3),
                                          dict(type='FCNHead', num_classes=4)]))
    with pytest.raises(UserInputError, match=r'model.auxiliary_head\[1\].num_classes = 4'):
        check_num_classes(cfg, _sides(cfg))


def test_num_classes_default_is_the_heads_and_the_dataset_types_classes():
    cfg = _cfg()
    del cfg.model.decode_head['num_classes']  # BaseDecodeHead's default: 19
    with pytest.raises(UserInputError, match='num_classes = 19 but data.train has 3'):
        check_num_classes(cfg, _sides(cfg))
    cfg = _cfg(num_classes=18, data=dict(train=dict(type='CityscapesDataset', classes=None)))
    with pytest.raises(UserInputError, match='has 19 classes .the classes of CityscapesDataset'):
        check_num_classes(cfg, _sides(cfg))


def test_train_and_val_naming_classes_differently_warns():
    cfg = _cfg(data=dict(val=dict(classes=['a', 'b', 'z'])))
    [warning] = check_num_classes(cfg, _sides(cfg))
    assert "['a', 'b', 'c'] vs ['a', 'b', 'z']" in warning


def test_train_and_val_listing_the_same_classes_in_another_order_is_an_error():
    """Reported: data.val.classes=[road, sky, car] against the training's [road, car, sky]
    scored car predictions as sky (mIoU 16.1 instead of 19.8) with a naming warning only."""
    cfg = _cfg(data=dict(val=dict(classes=['a', 'c', 'b'])))
    with pytest.raises(UserInputError, match=r"list the same classes in another order: "
                       r"\['a', 'b', 'c'\] vs \['a', 'c', 'b'\]"):
        check_num_classes(cfg, _sides(cfg))


# ----------------------------------------------------------------------------- ignore index
def test_dataset_ignore_index_must_be_the_heads():
    check_ignore_index(_cfg(), _sides(_cfg()))
    cfg = _cfg(data=dict(train=dict(ignore_index=0)))
    with pytest.raises(UserInputError, match=r'data.train.ignore_index = 0 but '
                       r'model.decode_head.ignore_index = 255'):
        check_ignore_index(cfg, _sides(cfg))
    cfg = _cfg(model=dict(decode_head=dict(ignore_index=7)))
    with pytest.raises(UserInputError, match='data.train.ignore_index = 255 but '
                       'model.decode_head.ignore_index = 7'):
        check_ignore_index(cfg, _sides(cfg))


def test_pad_value_of_labels_must_be_the_ignore_index():
    cfg = _cfg(data=dict(train=dict(ignore_index=0), val=dict(ignore_index=0)),
               model=dict(decode_head=dict(ignore_index=0)))
    with pytest.raises(UserInputError, match=r'data.train.pipeline Pad.seg_pad_val = 255 but '
                       r'data.train.ignore_index = 0'):
        check_ignore_index(cfg, _sides(cfg))
    cfg.data.train.pipeline[1]['seg_pad_val'] = 0
    check_ignore_index(cfg, _sides(cfg))


# ----------------------------------------------------------------------------- class ids
def test_feature_distance_classes_must_be_classes():
    cfg = _cfg(uda=dict(type='DACS', imnet_feature_dist_classes=[1, 2]))
    check_class_ids(cfg, _sides(cfg), 3)
    cfg.uda.imnet_feature_dist_classes = [2, 6, 7]
    with pytest.raises(UserInputError, match=r'imnet_feature_dist_classes = \[2, 6, 7\] holds '
                       r'class ids \[6, 7\] outside \[0, 3\)'):
        check_class_ids(cfg, _sides(cfg), 3)


def test_class_weight_needs_one_weight_per_class(tmp_path):
    cfg = _cfg(model=dict(decode_head=dict(loss_decode=dict(class_weight=[1.0, 2.0]))))
    with pytest.raises(UserInputError, match='class_weight has 2 weights but '
                       'model.decode_head.num_classes = 3'):
        check_class_ids(cfg, _sides(cfg), 3)
    np.save(tmp_path / 'w.npy', np.ones(3))
    cfg.model.decode_head.loss_decode = [dict(type='CrossEntropyLoss',
                                              class_weight=str(tmp_path / 'w.npy'))]
    check_class_ids(cfg, _sides(cfg), 3)


def test_class_subsets_must_be_classes():
    cfg = _cfg(data=dict(val=dict(class_subsets=dict(mIoU2=[0, 3]))))
    with pytest.raises(UserInputError, match=r"data.val.class_subsets\['mIoU2'\] holds class "
                       r'ids \[3\]'):
        check_class_ids(cfg, _sides(cfg), 3)


def test_rare_class_statistics_must_count_classes():
    class Built:
        rcs_enabled = True
        rcs_classes = [0, 2, 5]
    cfg = _cfg(data=dict(train=dict(_delete_=True, type='UDADataset',
                                    source=dict(type='CustomDataset', data_root='d'))))
    with pytest.raises(UserInputError, match=r'd/sample_class_stats.json .* class ids \[5\] '
                       r'outside \[0, 3\)'):
        check_rcs_classes(cfg, Built(), 3)
    Built.rcs_classes = [0, 2]
    check_rcs_classes(cfg, Built(), 3)


# ----------------------------------------------------------------------------- label values
def _labelled(tmp_path, labels, test_mode=False, classes=('a', 'b', 'c')):
    for i, label in enumerate(labels):
        for sub in ('img', 'ann'):
            (tmp_path / sub).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / 'img' / f'{i}.png'), np.zeros(label.shape + (3,), np.uint8))
        cv2.imwrite(str(tmp_path / 'ann' / f'{i}.png'), label.astype(np.uint8))
    dataset = CustomDataset(pipeline=[], img_dir=str(tmp_path / 'img'), img_suffix='.png',
                            ann_dir=str(tmp_path / 'ann'), classes=classes, test_mode=test_mode)
    return data_sides('data.train', dict(type='CustomDataset'), dataset)[0]


def test_training_label_values_beyond_the_classes_are_an_error(tmp_path):
    side = _labelled(tmp_path, [np.zeros((8, 8)), np.full((8, 8), 4)])
    with pytest.raises(UserInputError, match=r'label file .*1.png \(data.train\) holds values '
                       r'\[4\] outside \[0, 3\)'):
        check_label_values(side, training=True)


def test_binary_masks_0_255_warn(tmp_path):
    mask = np.zeros((10, 10))
    mask[:4] = 255  # 40 % ignored, class 1 and 2 nowhere
    side = _labelled(tmp_path, [mask, mask], classes=('background', 'object'))
    [warning] = check_label_values(side, training=True)
    assert "'object' (1) occur in none of 2 sampled label(s)" in warning
    assert 'covers 40% of their pixels' in warning and 'label // 255' in warning


def test_absent_class_with_little_ignore_does_not_warn(tmp_path):
    label = np.zeros((10, 10))
    label[:2] = 255  # 20 % ignored, class 2 nowhere, two classes present: fine
    label[5:] = 1
    side = _labelled(tmp_path, [label])
    assert check_label_values(side, training=True) == []


def test_one_class_and_the_ignore_value_warn_whatever_the_share(tmp_path):
    label = np.zeros((10, 10))
    label[:1] = 255  # 10 % ignored, the other class nowhere: 0/255 masks of a small object
    side = _labelled(tmp_path, [label], classes=('background', 'object'))
    assert 'covers 10% of their pixels' in check_label_values(side, training=True)[0]
    side = _labelled(tmp_path / 'v', [np.zeros((10, 10)), np.full((10, 10), 255)],
                     test_mode=True, classes=('background', 'object'))
    assert side.dataset.label_value_counts == {0: 100, 255: 100}
    assert 'occur in none of the labels' in check_label_values(side, training=False)[0]


# ----------------------------------------------------------------------------- config keys
def test_misspelt_top_level_key_is_an_error_with_did_you_mean():
    cfg = _cfg(evaluation=dict(interval=4000, metric='mIoU'))
    assert check_top_level_keys(cfg) == []
    # the same value as evaluation's does not make it a helper variable
    cfg = _cfg(evaluation=dict(interval=4000, metric='mIoU'),
               evalution=dict(interval=4000, metric='mIoU'))
    with pytest.raises(UserInputError, match="'evalution' .did you mean 'evaluation'"):
        check_top_level_keys(cfg)
    with pytest.raises(UserInputError, match="'sed' .did you mean 'seed'"):
        check_top_level_keys(_cfg(sed=0))


def test_unused_pipeline_helper_of_a_base_passes():
    # a config that replaces the base's source pipeline leaves gta_train_pipeline unused; it
    # is no misspelt train_pipeline
    assert check_top_level_keys(_cfg(gta_train_pipeline=[dict(type='LoadImageFromFile')])) == []
    with pytest.raises(UserInputError, match="'optimizer_cfg' .did you mean 'optimizer_config'"):
        check_top_level_keys(_cfg(optimizer_cfg=dict(type='SGD')))


def test_helper_variables_pass_and_unused_keys_warn():
    crop = (8, 8)
    cfg = _cfg(crop_size_hr=crop, my_pipeline=[dict(type='LoadImageFromFile'),
                                                dict(type='Pad', size=(8, 8))],
               num_labels=3, leftover=dict(a=1))
    cfg.model.decode_head.crop = crop
    assert check_top_level_keys(cfg) == [
        "config key 'leftover' is read by nothing (not a setting of mmseg/mmcv, nor used "
        'inside one): a misspelling, or left over?']


def test_misspelt_uda_key_is_named():
    check_uda_keys_early(_cfg(uda=dict(type='DACS', pseudo_threshold=0.9)))
    with pytest.raises(UserInputError, match="'pseudo_treshold' .did you mean "
                       "'pseudo_threshold'.* not read by DACS"):
        check_uda_keys_early(_cfg(uda=dict(type='DACS', pseudo_treshold=0.9)))
    check_uda_keys_early(_cfg(uda=dict(type='MyOwnMethod', anything=1)))  # keys unknown here


def _sections(**changes):
    """A config with every checked section as the shipped configs write them, then changes
    given as --cfg-options would be (dotted keys)."""
    cfg = _cfg(optimizer=dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01,
                              paramwise_cfg=dict(custom_keys=dict(head=dict(lr_mult=10.0)))),
               optimizer_config=dict(),
               lr_config=dict(policy='poly', warmup='linear', warmup_iters=1500,
                              warmup_ratio=1e-6, power=1.0, min_lr=0.0, by_epoch=False),
               runner=dict(type='IterBasedRunner', max_iters=40000),
               checkpoint_config=dict(by_epoch=False, interval=40000, max_keep_ckpts=1),
               evaluation=dict(interval=4000, metric='mIoU'),
               log_config=dict(interval=50, img_interval=1000, hooks=[]))
    cfg.data.update(samples_per_gpu=2, workers_per_gpu=4)
    cfg.merge_from_dict(changes)
    return cfg


@pytest.mark.parametrize('key,suggestion', [
    ('checkpoint_config.intervall', 'interval'),  # once a TypeError at the first save
    ('evaluation.intreval', 'interval'),  # once passed to dataset.evaluate and ignored
    ('data.samples_per_gpus', 'samples_per_gpu'),
    ('data.trian', 'train'),
    ('optimizer.lrr', 'lr'),  # AdamW's own parameters
    ('optimizer.weight_decya', 'weight_decay'),
    ('runner.max_iter', 'max_iters'),
    ('lr_config.warmup_iter', 'warmup_iters'),  # PolyLrUpdaterHook + LrUpdaterHook
    ('optimizer_config.grad_cliip', 'grad_clip'),  # OptimizerHook
    ('log_config.intervall', 'interval'),
])
def test_misspelt_section_key_is_an_error_naming_it(key, suggestion):
    check_section_keys(_sections())
    with pytest.raises(UserInputError, match=rf"^{key} \(from --cfg-options\) \(did you mean "
                       rf"'{suggestion}'\?\) not accepted by what reads {key.split('.')[0]}"):
        check_section_keys(_sections(**{key: 2}), option_keys={key: 2})


def test_section_keys_of_other_types_and_policies_are_theirs():
    cfg = _sections()
    cfg.optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
    cfg.lr_config = dict(policy='step', step=[2], by_epoch=False)
    check_section_keys(cfg)
    with pytest.raises(UserInputError, match='optimizer.momentum not accepted by what reads'):
        check_section_keys(_sections(**{'optimizer.momentum': 0.9}))  # AdamW has none
    with pytest.raises(UserInputError, match='lr_config.step not accepted'):
        check_section_keys(_sections(**{'lr_config.step': [2]}))  # poly has none


@pytest.mark.parametrize('metric,message', [
    ('mIOU', "evaluation.metric 'mIOU' .did you mean 'mIoU'.. not supported"),
    ('cityscapes', "evaluation.metric 'cityscapes' not supported"),  # not a CityscapesDataset
])
def test_unsupported_evaluation_metric_is_an_error(metric, message):
    check_section_keys(_sections(**{'evaluation.metric': ['mIoU', 'mFscore']}))
    with pytest.raises(UserInputError, match=message):
        check_section_keys(_sections(**{'evaluation.metric': metric}))
    cfg = _sections(**{'evaluation.metric': 'cityscapes'})
    cfg.data.val.type = 'CityscapesDataset'
    check_section_keys(cfg)


@pytest.mark.parametrize('key,value', [('runner.max_iters', 0), ('runner.max_iters', 2.5),
                                       ('data.samples_per_gpu', 0), ('optimizer.lr', '6e-5'),
                                       ('data.workers_per_gpu', -1)])
def test_obviously_wrong_numbers_are_an_error(key, value):
    with pytest.raises(UserInputError, match=rf'^{key} = {value!r}: must be'):
        check_section_keys(_sections(**{key: value}))


def test_top_level_typo_from_cfg_options_is_blamed_on_them():
    cfg = _sections(optimiser=dict(lr=1e-4), sed=0)
    with pytest.raises(UserInputError, match="^--cfg-options: top-level key.s. 'optimiser' .did "
                       "you mean 'optimizer'.., 'sed' .did you mean 'seed'"):
        check_top_level_keys(cfg, option_keys={'optimiser.lr': 1e-4, 'sed': 0})
    with pytest.raises(UserInputError, match="^the config: top-level key.s. 'optimiser' .from "
                       "--cfg-options. .did you mean 'optimizer'.., 'sed' .did you mean 'seed'"):
        check_top_level_keys(cfg, option_keys={'optimiser.lr': 1e-4})  # sed: the file's
    with pytest.raises(UserInputError, match="^the config: top-level key.s. 'optimiser' .did"):
        check_top_level_keys(cfg)


# ----------------------------------------------------------------------------- shipped configs
def _shipped_configs():
    return [p for p in sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True))
            if '/_base_/' not in p and '/generated/' not in p]


@pytest.fixture(scope='module')
def generated_configs(tmp_path_factory):
    import run_experiments
    from experiments import EXPERIMENT_IDS
    gen_dir = tmp_path_factory.mktemp('generated')
    paths = []
    for exp_id in EXPERIMENT_IDS:
        runs = run_experiments.main(['--exp', str(exp_id), '--dry-run', '--gen-dir',
                                     str(gen_dir)])
        seen = set()
        for name, path in runs:  # seeds differ in `seed` only
            setting = name[12:].rsplit('_s', 1)[0]
            if setting not in seen:
                seen.add(setting)
                paths.append(path)
    for flag in ('--debug', '--startup-test'):
        paths += [p for _, p in run_experiments.main(['--exp', '2', '--dry-run', flag,
                                                      '--gen-dir', str(gen_dir / flag[2:])])]
    return paths


def _assert_passes(path):
    cfg = Config.fromfile(path)
    if 'data' not in cfg:
        return  # a base of other configs (configs/toy/_toy_base.py)
    assert check_top_level_keys(cfg) == []
    check_uda_keys_early(cfg)
    check_section_keys(cfg)
    assert check_consistency(cfg) == []


@pytest.mark.parametrize('path', _shipped_configs(), ids=lambda p: osp.relpath(p, REPO))
def test_shipped_configs_pass_every_config_check(path):
    _assert_passes(path)


def test_generated_configs_pass_every_config_check(generated_configs):
    assert len(generated_configs) > 40
    for path in generated_configs:
        _assert_passes(path)


def test_run_of_a_toy_config_with_its_data_passes_the_data_checks(toy_data_root):
    """configs/toy with the toy data: the data part of the checks (files, labels, RCS
    statistics) raises nothing and warns about nothing."""
    from mmseg.apis.checks import check_before_training
    cfg = Config.fromfile(osp.join(REPO, 'configs/toy/toy_gta2cs_daformer.py'))
    for side in (cfg.data.train.source, cfg.data.train.target, cfg.data.val):
        side.data_root = side.data_root.replace('data/toy', str(toy_data_root))
    cfg.data.train.rare_class_sampling.min_pixels = 1
    train_dataset, warnings = check_before_training(cfg)
    assert warnings == [] and len(train_dataset) > 0


def test_val_set_without_class_names_is_an_error_before_training(tmp_path):
    """Reported: a plain CustomDataset without `classes` passed every check, then every
    evaluation failed with `TypeError: object of type 'NoneType' has no len()`."""
    for sub in ('img', 'ann'):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / 'img' / '0.png'), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'ann' / '0.png'), np.zeros((8, 8), np.uint8))
    val = CustomDataset(pipeline=[], img_dir=str(tmp_path / 'img'), img_suffix='.png',
                        ann_dir=str(tmp_path / 'ann'), test_mode=True)
    assert val.CLASSES is None
    cfg = _cfg()
    cfg.data.val.pop('classes')
    with pytest.raises(UserInputError, match=r'data.val \(CustomDataset\) has no class names.*'
                       r'set data.val.classes to the list of the 3 class names'):
        check_consistency(cfg, val_dataset=val)


# ----------------------------------------------------------------------------- several val sets
def _folders(root, labels):
    for sub in ('img', 'ann'):
        (root / sub).mkdir(parents=True)
    for i, label in enumerate(labels):
        cv2.imwrite(str(root / 'img' / f'{i}.png'), np.zeros(label.shape + (3,), np.uint8))
        cv2.imwrite(str(root / 'ann' / f'{i}.png'), label.astype(np.uint8))
    return dict(type='CustomDataset', img_dir=str(root / 'img'), ann_dir=str(root / 'ann'),
                img_suffix='.png', seg_map_suffix='.png', classes=['a', 'b', 'c'], pipeline=[])


def test_every_dataset_of_a_val_list_is_checked_and_named(tmp_path):
    """data.val as a list (docs/evaluation.md): each dataset's files and labels are checked
    before training, and an error names the dataset."""
    from mmseg.apis.checks import check_before_training
    from mmseg.utils.errors import UserFileNotFoundError
    good = _folders(tmp_path / 'good', [np.zeros((8, 8)), np.full((8, 8), 2)])
    bad = _folders(tmp_path / 'bad', [np.full((8, 8), 4)])
    cfg = _cfg()
    cfg.data.train = good
    cfg.data.val = [good, dict(good, name='again')]
    train_dataset, warnings = check_before_training(cfg)
    assert len(train_dataset) == 2 and warnings == []
    cfg.data.val = [good, dict(bad, name='night')]
    with pytest.raises(UserInputError, match=r'^data.val\[1\] \(night\): CustomDataset: 1 bad '
                       r'file\(s\) .*/bad/ann/0.png holds values \[4\]'):
        check_before_training(cfg)
    cfg.data.val = [good, dict(good, name='night', classes=['a', 'b'])]
    with pytest.raises(UserInputError, match=r'model.decode_head.num_classes = 3 but '
                       r'data.val\[1\] has 2 classes \(data.val\[1\].classes'):
        check_before_training(cfg)
    cfg.data.val = [good, dict(good, name='night', img_dir=str(tmp_path / 'absent'))]
    with pytest.raises(UserFileNotFoundError, match=r"^data.val\[1\] \(night\): .*absent"):
        check_before_training(cfg)
    cfg.data.val = [good, good]
    with pytest.raises(UserInputError, match=r"data.val\[0\] and data.val\[1\] are both named "
                       r"'custom': set data.val\[1\].name"):
        check_before_training(cfg)
    cfg.data.val = [good, dict(good, name='again')]
    cfg.workflow = [('train', 1), ('val', 1)]
    with pytest.raises(UserInputError, match='workflow has a val phase'):
        check_before_training(cfg)


def test_evaluation_keys_and_metric_of_a_val_list():
    """data.val as a list: evaluation's keys are checked against its datasets' evaluate, and
    metric 'cityscapes' needs every one of them to be a CityscapesDataset."""
    cfg = _sections(**{'evaluation.intreval': 2})
    cfg.data.val = [dict(cfg.data.val), dict(cfg.data.val, name='other')]
    with pytest.raises(UserInputError, match=r"evaluation.intreval \(did you mean 'interval'"):
        check_section_keys(cfg)
    cfg = _sections(**{'evaluation.metric': 'cityscapes'})
    cs = dict(cfg.data.val, type='CityscapesDataset')
    cfg.data.val = [cs, dict(cs, type='ACDCDataset')]  # ACDCDataset is a CityscapesDataset
    check_section_keys(cfg)
    cfg.data.val = [cs, dict(cs, type='GTADataset')]
    with pytest.raises(UserInputError, match="evaluation.metric 'cityscapes' not supported"):
        check_section_keys(cfg)

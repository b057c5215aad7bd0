"""Config values refused before training (mmseg/apis/config_values.py, docs/CHECKS.md): each
bad value gives one UserInputError naming the key and the value; good values pass."""
import pytest
import torch
from mmcv import Config

from mmseg.apis.checks import DataSide, check_consistency
from mmseg.apis.config_values import (check_bool_values, check_mask_mode, check_save_best,
                                      check_val_labels, eval_result_keys)
from mmseg.models.builder import check_model_options
from mmseg.utils.errors import UserInputError, UserTypeError

MODEL = dict(type='EncoderDecoder', backbone=dict(type='mit_b0', with_cp=False),
             decode_head=dict(type='DAFormerHead', num_classes=2))


def _cfg(**kwargs):
    return Config(dict(dict(model=MODEL, uda=dict(type='DACS')), **kwargs))


@pytest.mark.parametrize('uda_type, key, value', [
    ('DACS', 'source_only', 'no'), ('DACS', 'blur', 1), ('DACS', 'print_grad_magnitude', 'False'),
    ('MinEnt', 'blur', 0), ('AdvSeg', 'blur', None)])
def test_uda_boolean_keys_must_be_true_or_false(uda_type, key, value):
    cfg = _cfg(uda=dict(type=uda_type, **{key: value}))
    with pytest.raises(UserTypeError, match=rf'^uda\.{key} = {value!r}: must be True or False'):
        check_bool_values(cfg)
    cfg.uda[key] = False
    check_bool_values(cfg)
    cfg.uda[key] = True
    check_bool_values(cfg)


@pytest.mark.parametrize('path, value', [
    (('backbone', 'with_cp'), 'yes'), (('backbone', 'with_cp'), 2),
    (('hr_with_cp', ), 1), (('blur_hr_crop', ), 'true')])
def test_model_boolean_arguments_must_be_true_or_false(path, value):
    model = dict(MODEL, type='HRDAEncoderDecoder') if len(path) == 1 else dict(MODEL)
    model['backbone'] = dict(MODEL['backbone'])
    target = model if len(path) == 1 else model['backbone']
    target[path[-1]] = value
    key = 'model.' + '.'.join(path)
    with pytest.raises(UserTypeError, match=rf'^{key} = {value!r}: must be True or False'):
        check_bool_values(Config(dict(model=model)))
    target[path[-1]] = True
    check_bool_values(Config(dict(model=model)))
    # a key with a non-bool default takes other values (drop_path_rate of the backbone)
    model['backbone']['drop_path_rate'] = 0.1
    check_bool_values(Config(dict(model=model)))


def test_an_unknown_mask_mode_is_named_as_such_source_only_or_not():
    for source_only in (True, False):
        cfg = _cfg(uda=dict(type='DACS', mask_mode='bogus', source_only=source_only),
                   data=dict(train=dict(type='GTADataset', img_dir='x', pipeline=[])))
        with pytest.raises(UserInputError, match=r"^uda.mask_mode = 'bogus' is unknown: use "
                           r"None \(no masking\) or one of \['separate', 'separateaug'"):
            check_consistency(cfg)
    with pytest.raises(UserInputError, match="did you mean 'separatesrc'"):
        check_mask_mode(dict(mask_mode='seperatesrc'))
    for mode in (None, 'separate', 'separatetrgaug'):
        check_mask_mode(dict(mask_mode=mode))


class _Built:
    def __init__(self, ann_dir):
        self.ann_dir = ann_dir


def test_a_val_set_without_labels_is_refused_naming_it():
    sides = [DataSide('data.val[0]', dict(type='CityscapesDataset'), None, 255, _Built('gt')),
             DataSide('data.val[1]', dict(type='FoggyZurichDataset'), None, 255, _Built(None))]
    with pytest.raises(UserInputError, match=r'^data.val\[1\] \(foggy_zurich, '
                       r'FoggyZurichDataset\) has no labels \(ann_dir=None\).*give '
                       r'data.val\[1\].ann_dir, or train with --no-validate'):
        check_val_labels(sides)
    check_val_labels(sides[:1])
    check_val_labels([sides[1]._replace(dataset=None)])  # not built: --no-validate


def test_eval_result_keys_are_those_evaluate_returns():
    assert eval_result_keys('mIoU', ('a', 'b')) == ['aAcc', 'mIoU', 'IoU.a', 'IoU.b', 'mAcc',
                                                    'Acc.a', 'Acc.b']
    assert eval_result_keys(['mDice', 'mIoU']) == ['aAcc', 'mDice', 'mAcc', 'mIoU']
    assert eval_result_keys('mFscore') == ['aAcc', 'mFscore', 'mPrecision', 'mRecall']
    assert eval_result_keys(['mIoU', 'cityscapes'], class_subsets=dict(mIoU16=[0])) == [
        'aAcc', 'mIoU', 'mAcc', 'mIoU16', 'cityscapes/mIoU', 'cityscapes/iIoU']


def test_eval_result_keys_match_what_custom_dataset_evaluate_returns(tmp_path):
    import numpy as np
    from PIL import Image

    from mmseg.datasets import CustomDataset
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / 'img' / 'a.png')
    Image.fromarray(np.array([[0, 1] * 2] * 4, np.uint8)).save(tmp_path / 'ann' / 'a.png')
    dataset = CustomDataset(pipeline=[], img_dir=str(tmp_path / 'img'), classes=('x', 'y'),
                            img_suffix='.png', seg_map_suffix='.png',
                            ann_dir=str(tmp_path / 'ann'), test_mode=True)
    for metric in ('mIoU', 'mDice', 'mFscore'):
        result = dataset.evaluate([np.zeros((4, 4), np.int64)], metric=metric)
        assert sorted(result) == sorted(eval_result_keys(metric, ('x', 'y')))


def _val(name, classes=('a', 'b')):
    return DataSide(name, dict(type='CustomDataset'), classes, 255, None)


@pytest.mark.parametrize('metric, best, message', [
    ('mIoU', 'mDice', r"'mDice' is not a key the evaluation \(metric='mIoU'\) logs: use one of "
     r"\['aAcc', 'mIoU', 'mAcc'\]"),
    ('mIoU', 'miou', r"'miou' is not .*\(did you mean 'mIoU'\?\)"),
    ('mFscore', 'foo', r"'foo' is not .*use one of \['aAcc', 'mFscore', 'mPrecision', 'mRecall'\]"),
    ('mIoU', 'IoU.c', "'IoU.c' is not a key")])
def test_save_best_must_be_a_logged_key(metric, best, message):
    cfg = Config(dict(evaluation=dict(metric=metric, save_best=best)))
    with pytest.raises(UserInputError, match=rf'^evaluation.save_best = {message}'):
        check_save_best(cfg, [_val('data.val')])


def test_save_best_accepts_logged_keys_auto_and_none_and_means_of_several():
    for best in ('mIoU', 'aAcc', 'mAcc', 'IoU.b', 'auto', None):
        check_save_best(Config(dict(evaluation=dict(save_best=best))), [_val('data.val')])
    check_save_best(Config(dict(evaluation=dict(metric='mDice', save_best='mDice'))),
                    [_val('data.val')])
    several = [_val('data.val[0]'), _val('data.val[1]')]
    check_save_best(Config(dict(evaluation=dict(save_best='mIoU'))), several)
    with pytest.raises(UserInputError, match=r"'IoU.a' is not .*the means over the 2"):
        check_save_best(Config(dict(evaluation=dict(save_best='IoU.a'))), several)
    with pytest.raises(UserTypeError, match=r'^evaluation.save_best = 1: must be'):
        check_save_best(Config(dict(evaluation=dict(save_best=1))), several)


def test_float16_is_refused_before_training_on_the_cpu_only():
    cfg = Config(dict(mixed_precision=dict(dtype='float16')))
    with pytest.raises(UserInputError, match=r"^mixed_precision.dtype = 'float16' needs a CUDA "
                       r"device, but this run is on the CPU: use dtype='bfloat16'"):
        check_model_options(cfg, 'cpu')
    check_model_options(cfg, 'cuda')
    check_model_options(Config(dict(mixed_precision=dict(dtype='bfloat16'))), 'cpu')
    if not torch.cuda.is_available():  # the default device is the one train/test use
        with pytest.raises(UserInputError, match='needs a CUDA device'):
            check_model_options(cfg)

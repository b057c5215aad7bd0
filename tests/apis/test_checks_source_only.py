"""The checks of a source-only / several-source training config before training
(docs/domains.md): a plain training set under a UDA method, mask modes of a source-only run."""
import pytest
from mmcv import Config

from mmseg.apis.checks import check_consistency, check_source_only
from mmseg.utils.errors import UserInputError


def _cfg(train, **uda):
    data_set = dict(type='GTADataset', img_dir='x', pipeline=[])
    train = {'plain': dict(data_set), 'list': [data_set, data_set],
             'source': dict(type='UDADataset', source=data_set),
             'uda': dict(type='UDADataset', source=data_set, target=data_set)}[train]
    return Config(dict(model=dict(type='EncoderDecoder', decode_head=dict(
        type='DAFormerHead', num_classes=19)), data=dict(train=train),
        uda=dict(dict(type='DACS', source_only=False, mask_mode=None), **uda)))


def test_plain_training_set_under_a_uda_method_needs_source_only():
    with pytest.raises(UserInputError, match=r'^data.train \(a plain GTADataset\) has no '
                       r'target images, but uda \(DACS\) .*set uda.source_only=True'):
        check_consistency(_cfg('plain'))
    with pytest.raises(UserInputError, match=r'^data.train \(a list of datasets\) has no target'):
        check_source_only(_cfg('list'))
    with pytest.raises(UserInputError, match=r'^data.train \(a UDADataset without a target\)'):
        check_source_only(_cfg('source'))
    cfg = _cfg('plain')
    cfg.uda = dict(type='MinEnt')
    with pytest.raises(UserInputError, match=r'uda \(MinEnt\) trains on them .*ClassMix\): make '
                       'data.train a UDADataset with a target'):
        check_source_only(cfg)
    for train in ('plain', 'list', 'source', 'uda'):
        assert check_consistency(_cfg(train, source_only=True)) == []
    check_source_only(_cfg('uda'))  # today's UDA runs


@pytest.mark.parametrize('mode', ['separate', 'separateaug', 'separatetrg', 'separatetrgaug'])
def test_source_only_with_a_target_mask_mode_names_the_key(mode):
    with pytest.raises(UserInputError, match=rf"^uda.mask_mode = '{mode}' masks target images, "
                       r"but uda.source_only = True.*\['separatesrc', 'separatesrcaug'\]"):
        check_source_only(_cfg('plain', source_only=True, mask_mode=mode))


def test_source_only_with_a_source_mask_mode_passes():
    for mode in ('separatesrc', 'separatesrcaug'):
        check_source_only(_cfg('plain', source_only=True, mask_mode=mode))

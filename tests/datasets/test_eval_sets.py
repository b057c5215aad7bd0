"""data.val / data.test as a list of named datasets (docs/evaluation.md): names, their errors,
and building every dataset with errors that name it."""
import pytest

from mmseg.datasets.eval_sets import (build_eval_datasets, dataset_name, eval_dataset_configs,
                                      is_several)
from mmseg.utils.errors import UserFileNotFoundError, UserInputError, UserTypeError


@pytest.mark.parametrize('type_name,name', [
    ('CityscapesDataset', 'cityscapes'), ('ACDCDataset', 'acdc'),
    ('DarkZurichDataset', 'dark_zurich'), ('BDD100KDataset', 'bdd100k'),
    ('MapillaryDataset', 'mapillary'), ('WildDash2Dataset', 'wilddash2'),
    ('GTADataset', 'gta'), ('SynthiaDataset', 'synthia'),
    # the generic rule: without 'Dataset', snake_case, acronyms kept whole
    ('MyRoadsDataset', 'my_roads'), ('NightACDCDataset', 'night_acdc'),
    ('ACDCNightDataset', 'acdc_night'), ('Roads2Dataset', 'roads2'), ('IDDDataset', 'idd'),
    ('CustomDataset', 'custom'),
])
def test_name_derived_from_the_type(type_name, name):
    assert dataset_name(dict(type=type_name)) == name


def test_a_given_name_wins_and_is_taken_out_of_the_config():
    configs = [dict(type='CityscapesDataset', data_root='a'),
               dict(type='CityscapesDataset', data_root='b', name='cs_night')]
    assert eval_dataset_configs(configs, 'data.val') == [
        ('cityscapes', dict(type='CityscapesDataset', data_root='a')),
        ('cs_night', dict(type='CityscapesDataset', data_root='b'))]
    assert configs[1]['name'] == 'cs_night'  # the config itself is left as it was
    assert eval_dataset_configs(configs[1], 'data.test') == [
        ('cs_night', dict(type='CityscapesDataset', data_root='b'))]
    assert is_several(configs) and not is_several(configs[:1]) and not is_several(configs[0])


def test_two_datasets_of_one_name_are_an_error_naming_the_key_to_set():
    configs = [dict(type='ACDCDataset', data_root='a'), dict(type='GTADataset'),
               dict(type='ACDCDataset', data_root='b')]
    with pytest.raises(UserInputError) as error:
        eval_dataset_configs(configs, 'data.val')
    assert str(error.value) == (
        "data.val[0] and data.val[2] are both named 'acdc': set data.val[2].name (e.g. "
        "name='acdc_2') so that their metrics get distinct log keys")
    configs[2]['name'] = 'acdc_2'
    assert [n for n, _ in eval_dataset_configs(configs, 'data.val')] == ['acdc', 'gta', 'acdc_2']


@pytest.mark.parametrize('value,message', [
    ([], 'data.test must be a dataset dict or a non-empty list of them, got []'),
    ([dict(type='GTADataset'), 'cityscapes'],
     "data.test[1] must be a dataset dict (type=..., data_root=...), got str 'cityscapes'"),
    ([dict(type='GTADataset', name='a/b')], "data.test[0].name = 'a/b': a dataset name labels "
                                            "log keys and folders"),
])
def test_bad_lists_are_one_clear_error(value, message):
    with pytest.raises(UserInputError) as error:
        eval_dataset_configs(value, 'data.test')
    assert str(error.value).startswith(message)
    if value == [] or not isinstance(value[-1], dict):
        assert isinstance(error.value, UserTypeError)


def test_building_several_names_the_dataset_whose_files_are_wrong(tiny_data, tmp_path):
    cs = dict(type='CityscapesDataset', data_root=str(tiny_data.cityscapes), pipeline=[],
              img_dir='leftImg8bit', ann_dir='gtFine')
    missing = dict(type='GTADataset', data_root=str(tmp_path / 'no_gta'), pipeline=[],
                   img_dir='images', ann_dir='labels')
    built = build_eval_datasets([cs, dict(cs, name='cs_again')], 'data.val',
                                dict(test_mode=True))
    assert [n for n, _ in built] == ['cityscapes', 'cs_again']
    assert len(built[0][1]) == len(built[1][1]) == 4 and built[1][1].test_mode
    with pytest.raises(UserFileNotFoundError) as error:
        build_eval_datasets([cs, missing], 'data.val')
    assert str(error.value).startswith('data.val[1] (gta): ')
    assert str(tmp_path / 'no_gta') in str(error.value)
    # one dataset: the error exactly as without a list
    with pytest.raises(UserFileNotFoundError) as single:
        build_eval_datasets(missing, 'data.val')
    assert str(error.value) == f'data.val[1] (gta): {single.value}'

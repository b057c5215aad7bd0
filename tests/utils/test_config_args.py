"""--cfg-options parsing: mmcv's DictAction values where mmcv parses, dict(...) beyond it."""
import argparse

import pytest
from mmcv import Config
from mmcv.utils import DictAction as MmcvDictAction

from mmseg.utils import UserInputError
from mmseg.utils.config_args import DictAction, parse_cfg_options, parse_value

# Values mmcv 1.7's DictAction reads without error: ours must give the same, type included.
MMCV_CASES = ['1', '-3', '0.5', '1e-4', 'inf', 'true', 'False', 'TRUE', 'None', 'none', 'abc',
              'work_dirs/x_y', 'open-mmlab://resnet50_v1c', '1,2,3', '[1,2,3]', '(1,2)',
              '[(1,2),(3,4)]', '[a, b, c]', '[(1, 2, 3), [a, b], c]', '[]', '()', '1,', '[1,]',
              "'abc'", '"abc"', "['a','b']", '[[1,2],[3]]', '', '1_000', '(512, 512)',
              '[0.5, 0.75, 1.0]', 'mIoU']


def _parser(action):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', '--options', nargs='+', action=action, dest='options')
    return parser


def _same(a, b):
    """Equal, with the same types all the way down (1 != True != 1.0 here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize('text', MMCV_CASES)
def test_values_as_mmcv_reads_them(text):
    ours = _parser(DictAction).parse_args(['--cfg-options', f'k={text}']).options
    theirs = _parser(MmcvDictAction).parse_args(['--cfg-options', f'k={text}']).options
    assert _same(ours['k'], theirs['k']), (ours, theirs)


def test_readme_logger_hooks_example_parses_and_merges():
    # mmcv's DictAction recursed until RecursionError on this value (README example).
    args = _parser(DictAction).parse_args(
        ['--cfg-options', "log_config.hooks=[dict(type='TextLoggerHook', by_epoch=False)]"])
    assert args.options == {'log_config.hooks': [{'type': 'TextLoggerHook', 'by_epoch': False}]}
    cfg = Config(dict(log_config=dict(interval=5, hooks=[dict(type='TensorboardLoggerHook')])))
    cfg.merge_from_dict(args.options)
    assert cfg.log_config.interval == 5
    assert [dict(h) for h in cfg.log_config.hooks] == [dict(type='TextLoggerHook',
                                                            by_epoch=False)]


@pytest.mark.parametrize('text,expected', [
    ("dict(a=1, b=[1, 2], c=dict(d=None, e='x y'))",
     {'a': 1, 'b': [1, 2], 'c': {'d': None, 'e': 'x y'}}),
    ("[dict(type='A'), dict(type='B', x=(1, 2))]", [{'type': 'A'}, {'type': 'B', 'x': (1, 2)}]),
    ("{'a': 1.5, 2: 'b'}", {'a': 1.5, 2: 'b'}),
    ('dict()', {}),
    # Quoted values are strings, as in a Python config (mmcv gave 1 and 'ab').
    ("'001'", '001'),
    ("'a b'", 'a b'),
    ("bob's", "bob's"),
])
def test_dict_calls_and_quoted_strings(text, expected):
    assert _same(parse_value(text), expected)


@pytest.mark.parametrize('text,message', [
    ('[1,2', 'unbalanced brackets'), ('1]', 'unbalanced brackets'), ('(1]', 'unbalanced'),
    ('foo(1, 2)', r'foo\(\.\.\.\) is not understood; only dict'),
    ('dict(1)', 'expected name=value'), ("'abc", 'unbalanced quote'),
    ('{1}', 'expected key: value'),
])
def test_unreadable_values_name_the_item(text, message):
    with pytest.raises(UserInputError, match=rf'^--cfg-options k=.*: {message}'):
        _parser(DictAction).parse_args(['--cfg-options', f'k={text}'])


def test_item_without_equals_is_one_clear_error():
    with pytest.raises(UserInputError) as info:
        _parser(DictAction).parse_args(['--cfg-options', 'uda.mask_lambda'])
    assert str(info.value) == '--cfg-options uda.mask_lambda: expected KEY=VALUE'
    with pytest.raises(UserInputError, match='^--options =1: expected KEY=VALUE$'):
        _parser(DictAction).parse_args(['--options', '=1'])


def test_repeated_flag_adds_and_a_key_given_twice_differently_is_refused():
    args = _parser(DictAction).parse_args(['--cfg-options', 'a=1', '--cfg-options', 'b=2'])
    assert args.options == {'a': 1, 'b': 2}  # mmcv kept only {'b': 2}
    assert parse_cfg_options(['a=1', 'a=1']) == {'a': 1}
    with pytest.raises(UserInputError, match='a given twice'):
        parse_cfg_options(['a=1', 'a=2'])
    with pytest.raises(UserInputError, match='a given twice'):
        _parser(DictAction).parse_args(['--cfg-options', 'a=1', '--cfg-options', 'a=[1]'])


def test_load_config_names_a_missing_file_and_a_syntax_error(tmp_path):
    from mmseg.utils.config_args import load_config
    with pytest.raises(FileNotFoundError) as info:
        load_config(str(tmp_path / 'absent.py'))
    assert isinstance(info.value, UserInputError)
    assert str(info.value) == f'config file {tmp_path / "absent.py"} not found'
    broken = tmp_path / 'broken.py'
    broken.write_text("crop_size = (512, 512)\nmodel = dict(type='EncoderDecoder'\n")
    with pytest.raises(UserInputError) as info:
        load_config(str(broken))
    assert str(info.value).startswith(f'{broken}, line 2: the config is not valid Python (')
    good = tmp_path / 'good.py'
    good.write_text('crop_size = (512, 512)\n')
    assert load_config(str(good)).crop_size == (512, 512)


def test_misspelt_types_and_keys_in_configs_are_user_errors():
    import mmcv

    from mmseg.datasets import build_dataset
    from mmseg.models import build_train_model
    with pytest.raises(KeyError) as info:
        build_dataset(dict(type='CityscapesDatset', img_dir='x', pipeline=[]))
    assert isinstance(info.value, UserInputError)
    assert str(info.value).startswith('dataset config: CityscapesDatset is not in the dataset '
                                      'registry (a misspelt type')
    with pytest.raises(TypeError) as info:
        build_dataset(dict(type='CityscapesDataset', img_dirr='x', pipeline=[]))
    assert isinstance(info.value, UserInputError)
    # Python 3.13 adds "Did you mean 'img_dir'?" to the TypeError's text
    assert "unexpected keyword argument 'img_dirr'" in str(info.value)
    assert str(info.value).endswith(' (a misspelt config key?)')
    cfg = mmcv.Config(dict(model=dict(type='EncoderDecoder', backbone=dict(type='MiTB5'),
                                      decode_head=dict(type='SegFormerHead'))))
    with pytest.raises(UserInputError) as info:
        build_train_model(cfg)
    assert str(info.value).startswith('model: EncoderDecoder: MiTB5 is not in the models '
                                      'registry')
    with pytest.raises(TypeError) as info:  # a val set given without its pipeline
        build_dataset(dict(type='CityscapesDataset', img_dir='x'))
    assert isinstance(info.value, UserInputError)
    assert "missing 1 required positional argument: 'pipeline'" in str(info.value)
    assert str(info.value).endswith(' (give it in the config)')
    with pytest.raises(UserInputError, match='Nope is not in the pipeline registry'):
        build_dataset(dict(type='CityscapesDataset', img_dir='x', pipeline=[dict(type='Nope')]))
    from mmseg.utils.config_args import config_build_error
    assert config_build_error(TypeError("f() got an unexpected keyword argument 'x'"), 'm') is None
    assert config_build_error(KeyError('state_dict'), 'model') is None  # bugs keep their type


def test_custom_imports_given_as_cfg_options_are_imported(tmp_path, monkeypatch):
    """mmcv imports the custom_imports of the config file only: those given with --cfg-options
    were silently ignored, and the run then failed on an unknown type (or trained without a
    user's hook)."""
    from mmcv.runner import HOOKS

    from mmseg.utils.config_args import load_config
    (tmp_path / 'my_hooks_for_options.py').write_text(
        'from mmcv.runner import HOOKS, Hook\n\n\n'
        '@HOOKS.register_module()\nclass HookFromCfgOptions(Hook):\n    pass\n')
    (tmp_path / 'cfg.py').write_text('model = dict(type="X")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert HOOKS.get('HookFromCfgOptions') is None
    options = parse_cfg_options(
        ["custom_imports=dict(imports=['my_hooks_for_options'],allow_failed_imports=False)"])
    cfg = load_config(str(tmp_path / 'cfg.py'), options)
    assert cfg.custom_imports.imports == ['my_hooks_for_options']
    assert HOOKS.get('HookFromCfgOptions') is not None
    assert load_config(str(tmp_path / 'cfg.py')).get('custom_imports') is None

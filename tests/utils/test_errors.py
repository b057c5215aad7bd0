"""UserInputError and its typed variants; run_cli's one line and exit status 2."""
import pickle

import pytest

from mmseg.utils.errors import (EXIT_USER_ERROR, UserFileNotFoundError, UserInputError,
                                UserKeyError, UserRuntimeError, UserTypeError, as_user_error,
                                run_cli)


@pytest.mark.parametrize('user_type,builtin', [
    (UserFileNotFoundError, FileNotFoundError), (UserKeyError, KeyError),
    (UserTypeError, TypeError), (UserRuntimeError, RuntimeError)])
def test_typed_user_errors_are_both_kinds_and_keep_the_message(user_type, builtin):
    error = user_type('data/x not found: run the converter')
    assert isinstance(error, UserInputError) and isinstance(error, ValueError)
    assert isinstance(error, builtin)
    assert str(error) == 'data/x not found: run the converter'  # KeyError would quote it
    # Picklable (errors cross data-loader worker processes).
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_as_user_error_keeps_the_builtin_type_and_message():
    converted = as_user_error(KeyError('no key foo'))
    assert type(converted) is UserKeyError and str(converted) == 'no key foo'
    assert type(as_user_error(ValueError('bad'))) is UserInputError
    assert type(as_user_error(RuntimeError('no compiler'))) is UserRuntimeError
    assert type(as_user_error(OSError('disk'))) is UserInputError
    original = UserTypeError('x')
    assert as_user_error(original) is original


def _fails(argv):
    raise UserKeyError(f'config {argv[0]} has no key name')


def test_run_cli_prints_one_line_and_exits_2(capsys, monkeypatch):
    monkeypatch.delenv('MICSEG_TRACEBACK', raising=False)
    with pytest.raises(SystemExit) as info:
        run_cli(_fails, 'train', ['a.py'])
    assert info.value.code == EXIT_USER_ERROR == 2
    assert capsys.readouterr().err == 'Cannot train: config a.py has no key name\n'
    monkeypatch.setenv('MICSEG_TRACEBACK', '1')
    with pytest.raises(UserKeyError):
        run_cli(_fails, 'train', ['a.py'])
    assert run_cli(lambda argv: argv, 'train', ['x']) == ['x']


def _dataset_item_raises(index):
    raise UserFileNotFoundError(f'image file not found: data/x/{index}.png')


class _BrokenDataset:
    def __len__(self):
        return 2

    def __getitem__(self, index):
        _dataset_item_raises(index)


def test_error_from_a_data_loader_worker_is_reported_by_its_own_message(capsys, monkeypatch):
    """torch wraps a worker's exception in 'Caught ... Original Traceback ...' (many lines)."""
    from torch.utils.data import DataLoader

    def load(argv):
        next(iter(DataLoader(_BrokenDataset(), num_workers=1)))

    monkeypatch.delenv('MICSEG_TRACEBACK', raising=False)
    with pytest.raises(UserFileNotFoundError) as info:
        load(None)
    assert 'Original Traceback' in str(info.value)  # what torch re-raises
    with pytest.raises(SystemExit):
        run_cli(load, 'train', None)
    assert capsys.readouterr().err == 'Cannot train: image file not found: data/x/0.png\n'

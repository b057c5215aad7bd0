"""Checkpoint files users get wrong: each is one UserInputError naming the file, of the type the
Python API raised before (FileNotFoundError, ValueError, RuntimeError, KeyError)."""
import logging
import zipfile

import pytest
import torch

from mmseg.core.checkpoint import (UntrustedCheckpointError, check_checkpoint_file,
                                   load_checkpoint_file)
from mmseg.utils import UserInputError


def _one_line(error):
    message = str(error)
    assert '\n' not in message, message
    return message


def test_text_file_truncated_checkpoint_and_other_zip_are_named(tmp_path):
    text = tmp_path / 'config.py'
    text.write_text('model = dict()\n')
    good = tmp_path / 'iter_2.pth'
    torch.save(dict(state_dict={'w': torch.zeros(1000)}), good)
    truncated = tmp_path / 'iter_4.pth'
    truncated.write_bytes(good.read_bytes()[:good.stat().st_size // 2])
    other_zip = tmp_path / 'images.zip'
    with zipfile.ZipFile(other_zip, 'w') as archive:
        archive.writestr('a.txt', 'not a checkpoint')
    cases = [(text, 'is not a PyTorch checkpoint'),
             (truncated, 'is a damaged zip file (truncated'),
             (other_zip, 'cannot be read as a PyTorch checkpoint')]
    for path, message in cases:
        with pytest.raises(UserInputError) as info:
            load_checkpoint_file(path)
        assert _one_line(info.value).startswith(f'{path} {message}')
    assert check_checkpoint_file(good) == str(good)
    with pytest.raises(UserInputError, match='damaged zip'):
        check_checkpoint_file(truncated)  # checked without loading
    with pytest.raises(FileNotFoundError) as info:
        check_checkpoint_file(tmp_path / 'absent.pth')
    assert isinstance(info.value, UserInputError)


def test_untrusted_checkpoint_is_a_user_error(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=dict(thing=logging.Formatter())), path)
    with pytest.raises(UntrustedCheckpointError) as info:
        load_checkpoint_file(path)
    assert isinstance(info.value, UserInputError) and '--trust-checkpoint' in str(info.value)


def test_checkpoint_that_does_not_fit_is_one_line_naming_the_keys(tmp_path):
    from mmseg.apis import load_segmentor_checkpoint
    model = torch.nn.Sequential(torch.nn.Linear(2, 3))
    torch.save(dict(state_dict={'0.weight': torch.zeros(4, 2), 'extra': torch.zeros(1)}),
               tmp_path / 'other.pth')
    with pytest.raises(RuntimeError) as info:
        load_segmentor_checkpoint(model, tmp_path / 'other.pth')
    message = _one_line(info.value)
    assert isinstance(info.value, UserInputError)
    assert message.startswith(f'checkpoint {tmp_path / "other.pth"} does not fit the Sequential')
    assert 'missing keys: 0.bias;' in message and 'unexpected keys: extra;' in message
    assert 'shape mismatches: 0.weight: checkpoint (4, 2) vs model (3, 2);' in message


def test_resume_from_weights_without_meta_iter_is_a_user_error(tmp_path):
    from mmcv.utils import get_logger

    from mmseg.core.runner import ResumableIterBasedRunner
    class Model(torch.nn.Linear):
        def train_step(self, data_batch, optimizer, **kwargs):
            raise AssertionError('not trained here')

    model = Model(2, 2)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'weights.pth')
    runner = ResumableIterBasedRunner(model, work_dir=str(tmp_path),
                                      logger=get_logger('test_checkpoint_errors'), max_iters=1)
    with pytest.raises(KeyError) as info:
        runner.resume(str(tmp_path / 'weights.pth'))
    assert isinstance(info.value, UserInputError)
    assert _one_line(info.value).startswith(f'{tmp_path / "weights.pth"} has no meta.iter')


def test_a_run_folder_given_as_checkpoint_names_its_latest_checkpoint(tmp_path):
    run = tmp_path / 'run'
    run.mkdir()
    with pytest.raises(FileNotFoundError, match='is a folder, not a .pth file: it holds no'):
        check_checkpoint_file(run)
    for n in (2, 10):
        torch.save({'meta': {'iter': n}}, run / f'iter_{n}.pth')
    with pytest.raises(UserInputError) as info:
        check_checkpoint_file(run)
    assert f'the latest checkpoint there is {run / "iter_10.pth"}' in str(info.value)

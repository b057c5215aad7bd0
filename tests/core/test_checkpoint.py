"""Checkpoint files: safe loading with an allow-list, atomic saving, latest.pth, RNG states."""
import os
import pickle
import random
import zipfile

import numpy as np
import pytest
import torch

from mmseg.core.checkpoint import (UntrustedCheckpointError, find_latest_checkpoint,
                                   get_rng_state, load_checkpoint_file, save_checkpoint_file,
                                   set_rng_state, update_latest_link)


class Arbitrary:
    """A class a checkpoint should never instantiate without --trust-checkpoint."""

    def __init__(self, value):
        self.value = value


def test_mmcv_style_metadata_loads_safely(tmp_path):
    # What released mmcv 1.x / mmseg 0.x checkpoints carry in meta, numpy values included.
    meta = dict(mmcv_version='1.3.7', time='Mon Jun 21 10:00:00 2021', config='model = dict()',
                CLASSES=('road', 'sidewalk'), PALETTE=[[128, 64, 128], [244, 35, 232]],
                epoch=1, iter=40000, seed=np.int64(0), best_score=np.float64(0.75),
                hist=np.arange(4, dtype=np.float32), hook_msgs=dict(last_ckpt='x.pth'))
    path = tmp_path / 'released.pth'
    torch.save(dict(meta=meta, state_dict={'w': torch.ones(2)}), path)
    loaded = load_checkpoint_file(path)
    assert loaded['meta']['CLASSES'] == ('road', 'sidewalk')
    assert loaded['meta']['best_score'] == 0.75 and loaded['meta']['seed'] == 0
    np.testing.assert_array_equal(loaded['meta']['hist'], np.arange(4, dtype=np.float32))
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


def test_arbitrary_pickled_object_is_refused_without_trust(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=dict(thing=Arbitrary(3)), state_dict={}), path)
    with pytest.raises(UntrustedCheckpointError, match='--trust-checkpoint') as info:
        load_checkpoint_file(path)
    assert str(path) in str(info.value)
    assert load_checkpoint_file(path, trust=True)['meta']['thing'].value == 3


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('model = dict(type="EncoderDecoder")\n')
    with pytest.raises(ValueError, match='is not a PyTorch checkpoint') as info:
        load_checkpoint_file(path)
    assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError, match='absent.pth.*work_dir'):
        load_checkpoint_file(tmp_path / 'absent.pth')


def test_atomic_save_leaves_no_temporary_file_and_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / 'iter_2.pth'
    save_checkpoint_file(dict(state_dict={'w': torch.zeros(3)}), path)
    assert os.listdir(tmp_path) == ['iter_2.pth']
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a local lambda cannot be pickled
        save_checkpoint_file(dict(state_dict={'w': torch.ones(3)}, bad=lambda: 0), path)
    assert os.listdir(tmp_path) == ['iter_2.pth']
    assert torch.equal(load_checkpoint_file(path)['state_dict']['w'], torch.zeros(3))


def test_latest_link_and_newest_complete_checkpoint(tmp_path):
    for n in (2, 4):
        save_checkpoint_file(dict(meta=dict(iter=n)), tmp_path / f'iter_{n}.pth')
        update_latest_link(str(tmp_path), f'iter_{n}.pth')
        assert (tmp_path / 'latest.pth').resolve() == (tmp_path / f'iter_{n}.pth').resolve()
    # a torn iter_6.pth (e.g. written by another tool, cut short) is no candidate
    (tmp_path / 'iter_6.pth').write_bytes((tmp_path / 'iter_4.pth').read_bytes()[:100])
    (tmp_path / '.iter_8.pth.abc.tmp').write_bytes(b'')
    assert not zipfile.is_zipfile(tmp_path / 'iter_6.pth')
    assert find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    assert find_latest_checkpoint(str(tmp_path / 'none')) is None


def test_rng_state_round_trip_through_a_safe_load(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    path = tmp_path / 'rng.pth'
    save_checkpoint_file(dict(rng=get_rng_state()), path)
    expected = (random.random(), np.random.randn(), np.random.rand(), torch.rand(2))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    set_rng_state(load_checkpoint_file(path)['rng'])
    actual = (random.random(), np.random.randn(), np.random.rand(), torch.rand(2))
    assert actual[:3] == expected[:3]
    assert torch.equal(actual[3], expected[3])


def test_segmentor_loading_and_resume_refuse_arbitrary_objects_without_the_flag(tmp_path):
    import logging

    from mmseg.apis.inference import load_segmentor_checkpoint
    from mmseg.core.runner import ResumableIterBasedRunner
    model = torch.nn.Linear(2, 1)
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=dict(thing=Arbitrary(1), iter=1), state_dict=model.state_dict()), path)
    with pytest.raises(UntrustedCheckpointError, match='--trust-checkpoint'):
        load_segmentor_checkpoint(model, str(path))
    assert load_segmentor_checkpoint(model, str(path), trust=True)['meta']['thing'].value == 1
    model.train_step = None  # the runner only checks that there is one
    runner = ResumableIterBasedRunner(model=model, work_dir=str(tmp_path), max_iters=2,
                                      logger=logging.getLogger('t'))
    with pytest.raises(UntrustedCheckpointError):
        runner.resume(str(path))
    runner.trust_checkpoint = True
    runner.resume(str(path))
    assert runner.iter == 1


@pytest.mark.parametrize('umask', [0o022, 0o002])
def test_checkpoint_gets_the_mode_of_the_logs(tmp_path, umask):
    """Lab-mates who can read a run's logs can read its checkpoints (the temporary file of the
    atomic write used to leave them 0600)."""
    old = os.umask(umask)
    try:
        save_checkpoint_file({'w': torch.ones(1)}, tmp_path / 'iter_1.pth')
        with open(tmp_path / 'run.log', 'w') as f:  # a log, as the logging module opens it
            f.write('x')
    finally:
        os.umask(old)
    mode = os.stat(tmp_path / 'iter_1.pth').st_mode & 0o777
    assert mode == 0o666 & ~umask
    assert mode == os.stat(tmp_path / 'run.log').st_mode & 0o777

"""tools/train.py when a run is interrupted or goes wrong (docs/RUNS.md): SIGTERM mid-run writes
a checkpoint and exits 75, --auto-resume then ends with the weights of an uninterrupted run; a
failing evaluation keeps the checkpoint and exits 3; a work_dir with checkpoints is
never trained over without --auto-resume."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mmseg.utils.errors import run_cli

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/toy/toy_gta2cs_source_only.py'
# 6 iterations, evaluations after 3 and 6, one checkpoint at the end.
OPTIONS = ['--cfg-options', 'runner.max_iters=6', 'checkpoint_config.interval=6',
           'evaluation.interval=3', 'log_config.interval=1', 'lr_config.warmup_iters=1']


def _args(work_dir, *extra):
    return [str(CONFIG), '--work-dir', str(work_dir), '--seed', '0', '--deterministic',
            *extra, *OPTIONS]


def _command(work_dir, *extra):
    return [sys.executable, '-m', 'tools.train', *_args(work_dir, *extra)]


def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))


def _records(work_dir):
    return [json.loads(line) for log in sorted(work_dir.glob('*.log.json'))
            for line in log.read_text().splitlines()[1:]]


def _sigterm_after_first_log_line(process, work_dir):
    """SIGTERM ``process`` as soon as its JSON log holds the line of iteration 1."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if any(r.get('mode') == 'train' for r in _records(work_dir) if r):
            process.send_signal(signal.SIGTERM)
            return
        time.sleep(0.01)
    raise AssertionError('the run ended or stalled before its first log line')


@pytest.fixture
def toy_cwd(toy_data_root, tmp_path, monkeypatch):
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'toy').symlink_to(toy_data_root, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_sigterm_saves_exits_75_and_auto_resume_ends_as_an_uninterrupted_run(
        toy_cwd, single_torch_thread, capsys):
    cut = toy_cwd / 'cut'
    process = subprocess.Popen(_command(cut), cwd=toy_cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_env())
    _sigterm_after_first_log_line(process, cut)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 75, err[-3000:]
    saved = sorted(cut.glob('iter_*.pth'))
    assert len(saved) == 1, saved
    stopped_at = torch.load(saved[0], weights_only=True)['meta']['iter']
    assert 1 <= stopped_at < 6 and saved[0].name == f'iter_{stopped_at}.pth'
    assert err.strip().splitlines()[-1] == (
        f'Training stopped by SIGTERM after iteration {stopped_at}: checkpoint {saved[0]} '
        f'written; to continue, run tools/train.py with --auto-resume or the same '
        f'run_experiments.py command again')
    assert os.readlink(cut / 'latest.pth') == saved[0].name

    # The uninterrupted run, in this process (one torch thread as the subprocesses).
    from tools.train import main as train_main
    train_main(_args(toy_cwd / 'full'))
    resumed = subprocess.run(_command(cut, '--auto-resume'), cwd=toy_cwd, capture_output=True,
                             text=True, env=_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f'continuing with iteration {stopped_at + 1}' in resumed.stderr + resumed.stdout
    full = torch.load(toy_cwd / 'full' / 'iter_6.pth', weights_only=True)
    ends = torch.load(cut / 'iter_6.pth', weights_only=True)
    assert full['state_dict'].keys() == ends['state_dict'].keys()
    for key, value in full['state_dict'].items():
        torch.testing.assert_close(ends['state_dict'][key], value, rtol=0, atol=1e-6)
    # the evaluations after 3 and 6 gave the same numbers in both runs
    val = lambda records: [r['mIoU'] for r in records if r.get('mode') == 'val']  # noqa: E731
    assert val(_records(cut)) == val(_records(toy_cwd / 'full')) and len(val(_records(cut))) == 2

    # The same command again into the finished work_dir: refused, nothing written.
    before = {p: p.stat().st_mtime_ns for p in cut.iterdir()}
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train_main, 'train', _args(cut))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == (f'Cannot train: the work_dir {cut} holds the checkpoints of an earlier run '
                   f'({cut}/iter_6.pth); training anew would overwrite them: continue that run '
                   f'with --auto-resume, or start a new one with a fresh --work-dir\n')
    assert {p: p.stat().st_mtime_ns for p in cut.iterdir()} == before


# A val transform that fails as an out-of-memory error would, in the middle of an evaluation
# (an unreadable image is caught when the datasets are built: docs/CHECKS.md).
FAILING_TRANSFORM = '''
from mmseg.datasets.builder import PIPELINES


@PIPELINES.register_module()
class FailsLikeOOM:
    def __call__(self, results):
        raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 GiB (simulated)')
'''


@pytest.mark.slow
def test_failing_evaluation_keeps_the_checkpoint_and_exits_3(toy_data_root, tmp_path):
    """The repro of issue #19: an evaluation that failed (out of memory, an unreadable image)
    in the final evaluation left no checkpoint at all."""
    from mmcv import Config
    shutil.copytree(toy_data_root, tmp_path / 'data' / 'toy')
    (tmp_path / 'fails_like_oom.py').write_text(FAILING_TRANSFORM)
    cfg = Config.fromfile(str(CONFIG))
    cfg.data.val.pipeline = [dict(type='FailsLikeOOM')] + list(cfg.data.val.pipeline)
    cfg.custom_imports = dict(imports=['fails_like_oom'], allow_failed_imports=False)
    config_path = tmp_path / CONFIG.name
    cfg.dump(str(config_path))
    work = tmp_path / 'work'
    out = subprocess.run(
        [sys.executable, '-m', 'tools.train', str(config_path), '--work-dir', str(work),
         '--cfg-options', 'runner.max_iters=2', 'checkpoint_config.interval=2',
         'evaluation.interval=1', 'log_config.interval=1'],
        cwd=tmp_path, capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 3, out.stderr[-3000:]
    assert (work / 'iter_2.pth').is_file()  # trained on after the failure at iteration 1
    assert torch.load(work / 'iter_2.pth', weights_only=True)['meta']['iter'] == 2
    config = work / CONFIG.name
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith('Training finished, but 2 evaluation(s) failed: after iteration 1 '
                           '(RuntimeError: CUDA out of memory')
    # the repository's tools/test.py by its absolute path: the user runs from tmp_path
    assert last.endswith(f'Kept: {work}/iter_2.pth; evaluate it with: python '
                         f'{REPO}/tools/test.py {config} {work}/iter_2.pth --eval mIoU')
    assert config.is_file()
    failed = [r for r in _records(work) if r.get('mode') == 'val']
    assert [r['iter'] for r in failed] == [1, 2]
    assert all(r['eval_failed'].startswith('RuntimeError: CUDA out of memory') and 'mIoU' not in r
               for r in failed)
    text_log = next(work.glob('*.log')).read_text()
    assert 'evaluation after iteration 2 failed: RuntimeError: CUDA out of memory' in text_log
    assert f'checkpoint {work}/iter_2.pth is kept' in text_log


def test_work_dir_guard_lets_resuming_runs_through(tmp_path):
    from mmcv import Config

    from tools.train import refuse_to_overwrite_run
    from mmseg.utils.errors import UserInputError
    torch.save({}, tmp_path / 'iter_4.pth')
    for settings in (dict(auto_resume=True), dict(resume_from=str(tmp_path / 'iter_4.pth'))):
        refuse_to_overwrite_run(Config(dict(work_dir=str(tmp_path), **settings)))
    refuse_to_overwrite_run(Config(dict(work_dir=str(tmp_path / 'new'))))
    with pytest.raises(UserInputError, match='--auto-resume, or start a new one with a fresh '
                                             '--work-dir'):
        refuse_to_overwrite_run(Config(dict(work_dir=str(tmp_path), load_from='x.pth')))

"""tools/train.py killed with SIGKILL after its first checkpoint and restarted with --auto-resume
ends with the same weights as an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
# 3 iterations, a checkpoint after 2 and one after the last. Evaluations coincide with the
# checkpoints (the evaluation draws random numbers).
OPTIONS = ['--cfg-options', 'runner.max_iters=3', 'checkpoint_config.interval=2',
           'evaluation.interval=2', 'log_config.interval=1', 'lr_config.warmup_iters=1',
           # the toy fixture's images are too small for the toy config's RCS pixel threshold
           'data.train.rare_class_sampling.min_pixels=1']


def _train_args(work_dir, *extra):
    config = REPO / 'configs/toy/toy_gta2cs_mic_daformer.py'
    return [str(config), '--work-dir', str(work_dir), '--seed', '0', '--deterministic', *extra,
            *OPTIONS]


def _train_command(work_dir, *extra):
    return [sys.executable, '-m', 'tools.train', *_train_args(work_dir, *extra)]


def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))


def _run(argv, cwd):
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0, f'{argv} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}'
    return out


# Registered by the killed run only (custom_imports): SIGKILL right after the checkpoint of
# iteration 2 is on disk and before that iteration's evaluation (priority 60: after the
# checkpoint hook, NORMAL = 50, before the evaluation hook, LOW = 70), as a node failure could.
KILL_HOOK = '''
import os
import signal

from mmcv.runner import HOOKS, Hook


@HOOKS.register_module()
class SigkillAfterIteration(Hook):
    def __init__(self, iteration):
        self.iteration = iteration

    def after_train_iter(self, runner):
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)
'''
KILL_OPTIONS = ["custom_imports=dict(imports=['sigkill_hook'],allow_failed_imports=False)",
                "custom_hooks=[dict(type='SigkillAfterIteration',iteration=2,priority=60)]"]


def _train_losses(work_dir):
    """{iteration: {loss key: value}} from every JSON log of the work_dir."""
    losses = {}
    for log in sorted(work_dir.glob('*.log.json')):
        for line in log.read_text().splitlines()[1:]:
            record = json.loads(line)
            if record.get('mode') == 'train':
                losses[record['iter']] = {k: v for k, v in record.items() if 'loss' in k}
    return losses


@pytest.mark.slow
def test_sigkill_then_auto_resume_equals_an_uninterrupted_run(toy_data_root, tmp_path,
                                                              monkeypatch, single_torch_thread):
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'toy').symlink_to(toy_data_root, target_is_directory=True)
    # The run to be killed, as a user starts it; it kills itself after its checkpoint of
    # iteration 2 (KILL_HOOK), while this process trains the reference run on the other core.
    (tmp_path / 'sigkill_hook.py').write_text(KILL_HOOK)
    cut = tmp_path / 'cut'
    log = tmp_path / 'killed.log'
    with open(log, 'w') as log_file:
        process = subprocess.Popen(_train_command(cut) + KILL_OPTIONS, cwd=tmp_path,
                                   stdout=log_file, stderr=subprocess.STDOUT, env=_env())
        try:
            # The uninterrupted reference run: tools/train.py's main in this process, with one
            # torch thread as the subprocesses (OMP_NUM_THREADS=1): the same sums.
            from tools.train import main as train_main
            monkeypatch.chdir(tmp_path)
            train_main(_train_args(tmp_path / 'full'))
        finally:
            returncode = process.wait(timeout=300)
    assert returncode == -signal.SIGKILL, log.read_text()[-3000:]
    assert (cut / 'iter_2.pth').exists(), log.read_text()[-3000:]
    assert not (cut / 'iter_3.pth').exists(), 'killed too late: the run had finished'
    out = _run(_train_command(cut, '--auto-resume'), tmp_path)
    assert 'continuing with iteration 3' in out.stderr + out.stdout

    full = torch.load(tmp_path / 'full' / 'iter_3.pth', weights_only=True)
    resumed = torch.load(cut / 'iter_3.pth', weights_only=True)
    assert resumed['meta']['iter'] == full['meta']['iter'] == 3
    assert resumed['meta']['resume']['uda']['local_iter'] == 3
    assert full['state_dict'].keys() == resumed['state_dict'].keys()
    prefixes = {k.split('.')[0] for k in full['state_dict']}
    assert {'model', 'ema_model'} <= prefixes  # student and teacher
    for key, value in full['state_dict'].items():
        diff = (value.double() - resumed['state_dict'][key].double()).abs().max().item()
        assert diff <= 1e-6, key
    # the EMA teacher has moved away from the student (its warm-up did not restart)
    assert any((full['state_dict'][k] - full['state_dict']['ema_' + k]).abs().max() > 0
               for k in full['state_dict'] if k.startswith('model.'))
    # --seed 0 --deterministic: the same losses in every run, in the killed run (iteration 1;
    # iteration 2 was killed between its checkpoint and its log line) and in the resumed one
    # (3) as in the uninterrupted one
    full_losses = _train_losses(tmp_path / 'full')
    cut_losses = _train_losses(cut)
    assert sorted(full_losses) == [1, 2, 3] and {1, 3} <= set(cut_losses)
    assert all(cut_losses[i] == full_losses[i] for i in cut_losses)
    for key in full['optimizer']['state']:
        for name, value in full['optimizer']['state'][key].items():
            torch.testing.assert_close(resumed['optimizer']['state'][key][name], value,
                                       rtol=0, atol=1e-6)

"""tools/dist_train.sh and tools/dist_test.sh: 2 torchrun processes on CPU (gloo), toy MIC."""
import json
import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]

# Saves every rank's full UDA state dict at the end of the run (checkpoints come from rank 0
# only), so that the test can compare the ranks.
DUMP_HOOK = '''
import os.path as osp
import torch
from mmcv.runner import HOOKS, Hook, get_dist_info


@HOOKS.register_module()
class DumpRankStateHook(Hook):
    def after_run(self, runner):
        state = runner.model.module.state_dict()
        torch.save({k: v.detach().cpu().clone() for k, v in state.items()},
                   osp.join(runner.work_dir, f'rank{get_dist_info()[0]}_state.pth'))
'''

CONFIG = '''
_base_ = ['{repo}/configs/toy/toy_gta2cs_mic_daformer.py']
custom_imports = dict(imports=['dump_rank_state_hook'], allow_failed_imports=False)
custom_hooks = [dict(type='DumpRankStateHook')]
runner = dict(max_iters=2)
evaluation = dict(interval=2)
checkpoint_config = dict(interval=2)
log_config = dict(interval=1)
lr_config = dict(warmup_iters=1)
# the toy fixture's images are too small for the toy config's RCS pixel threshold
data = dict(train=dict(rare_class_sampling=dict(min_pixels=1)))
'''


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _run(cmd, cwd, env=None):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600,
                         env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    return out


@pytest.fixture(scope='module')
def dist_run(toy_data_root, tmp_path_factory):
    """A 2-iteration toy MIC(DAFormer) run of 2 processes with evaluation at the end."""
    root = tmp_path_factory.mktemp('dist')
    (root / 'data').mkdir()
    (root / 'data' / 'toy').symlink_to(toy_data_root, target_is_directory=True)
    (root / 'dump_rank_state_hook.py').write_text(DUMP_HOOK)
    (root / 'toy_mic_ddp.py').write_text(CONFIG.format(repo=REPO))
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(_free_port()),
               PYTHONPATH=os.pathsep.join([str(REPO), str(root)]))
    _run(['bash', str(REPO / 'tools/dist_train.sh'), 'toy_mic_ddp.py', '2',
          '--work-dir', 'work', '--seed', '0'], cwd=root, env=env)
    return root, env


@pytest.mark.slow
def test_dist_train_keeps_the_ranks_identical(dist_run):
    work = dist_run[0] / 'work'
    states = [torch.load(work / f'rank{r}_state.pth', weights_only=True) for r in (0, 1)]
    assert any(k.startswith('ema_model.') for k in states[0])
    assert any(k.startswith('model.') for k in states[0])
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), key
    checkpoint = torch.load(work / 'latest.pth', map_location='cpu', weights_only=True)
    assert set(checkpoint['state_dict']) == set(states[0])
    for key, value in checkpoint['state_dict'].items():
        assert torch.equal(value, states[0][key]), key
    # Rank 0 alone writes logs and debug images: one log, one figure per batch image.
    assert len(list(work.glob('*.log.json'))) == 1
    assert len(list((work / 'debug').glob('*.png'))) == 2


@pytest.mark.slow
def test_dist_train_evaluation_equals_single_process_test(dist_run, monkeypatch,
                                                        single_torch_thread):
    from tools.test import main as test_main
    root, env = dist_run
    work = root / 'work'
    json_log = next(work.glob('*.log.json'))
    records = [json.loads(line) for line in json_log.read_text().splitlines()[1:]]
    val = [r for r in records if r['mode'] == 'val']
    assert len(val) == 1  # evaluated once, after iteration 2
    # Single process, the plain tools/test.py main on the run's checkpoint (in this process:
    # the config reads data/toy relative to the run folder and imports the hook module there).
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    single = test_main([str(work / 'toy_mic_ddp.py'), str(work / 'latest.pth'), '--eval', 'mIoU',
                        '--out', 'single.pkl'])
    metrics = [k for k in single if k in ('aAcc', 'mIoU', 'mAcc') or k.startswith('IoU.')]
    assert len(metrics) == 3 + 19
    for key in metrics:
        # the JSON log keeps 4 decimals
        if np.isnan(single[key]):
            assert val[0][key] is None or np.isnan(val[0][key]), key
        else:
            assert val[0][key] == pytest.approx(single[key], abs=6e-5), key
    # tools/dist_test.sh with 2 processes: the same predictions, image for image.
    _run(['bash', str(REPO / 'tools/dist_test.sh'), str(work / 'toy_mic_ddp.py'),
          str(work / 'latest.pth'), '2', '--eval', 'mIoU', '--out', 'dist.pkl'],
         cwd=root, env=dict(env, PORT=str(_free_port())))
    with open(root / 'single.pkl', 'rb') as f:
        single_preds = pickle.load(f)
    with open(root / 'dist.pkl', 'rb') as f:
        dist_preds = pickle.load(f)
    assert len(dist_preds) == len(single_preds) == 3
    for got, expected in zip(dist_preds, single_preds):
        np.testing.assert_array_equal(got, expected)


# Rank 1 alone gets SIGUSR1 during iteration 1 (as when a scheduler signals one process).
SIGNAL_HOOK = '''
import os
import signal
from mmcv.runner import HOOKS, Hook, get_dist_info


@HOOKS.register_module()
class SignalRankOneHook(Hook):
    def after_train_iter(self, runner):
        if get_dist_info()[0] == 1 and runner.iter == 0:
            os.kill(os.getpid(), signal.SIGUSR1)
'''

STOP_CONFIG = '''
_base_ = ['{repo}/configs/toy/toy_gta2cs_source_only.py']
custom_imports = dict(imports=['signal_rank_one_hook'], allow_failed_imports=False)
custom_hooks = [dict(type='SignalRankOneHook')]
runner = dict(max_iters=4)
evaluation = dict(interval=100)
checkpoint_config = dict(interval=4)
log_config = dict(interval=1)
'''


@pytest.mark.slow
def test_signal_to_one_rank_stops_all_ranks_after_the_same_iteration(toy_data_root, tmp_path):
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'toy').symlink_to(toy_data_root, target_is_directory=True)
    (tmp_path / 'signal_rank_one_hook.py').write_text(SIGNAL_HOOK)
    (tmp_path / 'toy_stop.py').write_text(STOP_CONFIG.format(repo=REPO))
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1', PORT=str(_free_port()),
               PYTHONPATH=os.pathsep.join([str(REPO), str(tmp_path)]))
    out = subprocess.run(['bash', str(REPO / 'tools/dist_train.sh'), 'toy_stop.py', '2',
                          '--work-dir', 'work', '--seed', '0'], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode != 0  # torchrun reports the ranks' exit status 75 as a failure
    work = tmp_path / 'work'
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_1.pth']
    checkpoint = torch.load(work / 'iter_1.pth', map_location='cpu', weights_only=True)
    assert checkpoint['meta']['iter'] == 1
    text = out.stdout + out.stderr
    assert (f'Training stopped by SIGUSR1 after iteration 1: checkpoint {work}/iter_1.pth '
            'written' in text), text[-3000:]
    assert ('Training stopped by a stop signal (on another rank) after iteration 1: checkpoint '
            f'{work}/iter_1.pth written' in text)
    # torchrun's report: every rank's exit status is 75 (it lists a rank once or twice: as a
    # failure and as the root cause)
    codes = re.findall(r'exitcode\s*: (\d+)', text)
    assert codes and set(codes) == {'75'}, text[-3000:]


@pytest.mark.parametrize('script,args', [('dist_train.sh', ['c.py', '2', '--seed', '0']),
                                         ('dist_test.sh', ['c.py', 'k.pth', '2', '--eval',
                                                           'mIoU'])])
def test_dist_scripts_use_the_project_venv_without_activation(tmp_path, script, args):
    """As test.sh: <repo>/.venv/bin/python is used when PYTHON is not set, not the `python`
    first on PATH."""
    repo = tmp_path / 'repo'
    (repo / 'tools').mkdir(parents=True)
    for name in (script, 'venv_python.sh'):
        shutil.copy(REPO / 'tools' / name, repo / 'tools' / name)
    calls = tmp_path / 'calls.txt'
    (repo / '.venv' / 'bin').mkdir(parents=True)
    on_path = tmp_path / 'bin'
    on_path.mkdir()
    for fake, label in ((repo / '.venv/bin/python', 'venv'), (on_path / 'python', 'path'),
                        (on_path / 'python3', 'path')):
        fake.write_text(f'#!/bin/sh\necho "{label} $*" >> {calls}\n')
        fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHON'}
    env['PATH'] = f"{on_path}{os.pathsep}{env['PATH']}"
    _run(['bash', str(repo / 'tools' / script), *args], cwd=tmp_path, env=env)
    call, = calls.read_text().splitlines()
    assert call.startswith(f'venv -m torch.distributed.run --nproc_per_node=2 '
                           f'--master_port=29500 {repo}/tools/')
    assert call.endswith(' --launcher pytorch ' + ' '.join(args[-2:]))

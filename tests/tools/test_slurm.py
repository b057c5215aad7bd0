"""run_experiments.py --machine slurm (sbatch scripts, submission) and a real one-node Slurm."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tools.slurm.sbatch import SlurmOptions, sbatch_script

REPO = Path(__file__).resolve().parents[2]
SLURM_SCRIPT = REPO / 'tools/slurm/single_node_slurm.sh'

TOY_CONFIG = '''
_base_ = ['{repo}/configs/toy/toy_gta2cs_source_only.py']
data = dict(train=dict(data_root='{data}/gta'), val=dict(data_root='{data}/cityscapes'),
            test=dict(data_root='{data}/cityscapes'))
model = dict(pretrained='{data}/mittiny_toygta.pth')
'''


def _directives(script):
    return dict(re.findall(r'^#SBATCH --([\w-]+)=(.*)$', script, flags=re.M))


def _bash_syntax_ok(script, tmp_path):
    path = tmp_path / 'check.sbatch'
    path.write_text(script)
    return subprocess.run(['bash', '-n', str(path)]).returncode == 0


# ----------------------------------------------------------------------------- scripts
def test_one_gpu_run_trains_in_the_job_from_the_project_root(tmp_path):
    options = SlurmOptions(partition='gpu', time='1-02:00:00', cpus_per_task=8, mem='64G')
    script = sbatch_script('run_a', 'cfg/run_a.py', str(tmp_path / 'work'), 1, options,
                           ['--cfg-options', 'data.workers_per_gpu=0'])
    assert _directives(script) == {
        'job-name': 'run_a', 'output': f'{tmp_path}/work/slurm-%j.out',
        'error': f'{tmp_path}/work/slurm-%j.err', 'nodes': '1', 'ntasks': '1',
        'gres': 'gpu:1', 'partition': 'gpu', 'time': '1-02:00:00', 'cpus-per-task': '8',
        'mem': '64G'}
    lines = script.splitlines()
    assert f'cd {REPO}' in lines
    assert f'. {REPO}/.venv/bin/activate' in lines
    train = lines[-1]
    assert train == (f'"$PYTHON" -m tools.train {Path.cwd() / "cfg/run_a.py"} --work-dir '
                     f'{tmp_path}/work --cfg-options data.workers_per_gpu=0')
    assert 'srun' not in script and '--launcher' not in script
    assert _bash_syntax_ok(script, tmp_path)


def test_multi_gpu_run_starts_one_process_per_gpu_with_srun(tmp_path):
    script = sbatch_script('run_b', str(tmp_path / 'b.py'), str(tmp_path), 4, SlurmOptions())
    directives = _directives(script)
    assert directives['ntasks'] == '4' and directives['gres'] == 'gpu:4'
    assert 'partition' not in directives and 'time' not in directives
    assert script.splitlines()[-1].startswith('srun "$PYTHON" -m tools.train ')
    assert script.splitlines()[-1].endswith(' --launcher slurm')
    assert _bash_syntax_ok(script, tmp_path)


def test_gpus_per_run_overrides_n_gpus(tmp_path):
    no_gpu = sbatch_script('c', 'c.py', str(tmp_path), 2, SlurmOptions(gpus_per_run=0))
    assert 'gres' not in _directives(no_gpu) and 'srun' not in no_gpu
    two = sbatch_script('c', 'c.py', str(tmp_path), 1, SlurmOptions(gpus_per_run=2))
    assert _directives(two)['gres'] == 'gpu:2'
    with pytest.raises(ValueError, match='--gpus-per-run'):
        SlurmOptions(gpus_per_run=-1)


# ----------------------------------------------------------------------------- run_experiments
@pytest.fixture
def fake_sbatch(tmp_path, monkeypatch):
    """An `sbatch` on PATH that records its arguments and answers job ids 101, 102, ..."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'sbatch_calls.txt'
    (bin_dir / 'sbatch').write_text(
        '#!/bin/sh\n'
        f'echo "$@" >> {calls}\n'
        f'echo $((100 + $(wc -l < {calls})))\n')
    (bin_dir / 'sbatch').chmod(0o755)
    monkeypatch.setenv('PATH', f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


def _run_experiments(args, capsys):
    import run_experiments
    runs = run_experiments.main(args)
    return runs, capsys.readouterr().out


def test_slurm_machine_submits_one_script_per_run(tmp_path, fake_sbatch, capsys):
    runs, out = _run_experiments(
        ['--exp', '1', '--machine', 'slurm', '--partition', 'cpu', '--time', '00:30:00',
         '--gen-dir', str(tmp_path / 'gen'), '--work-dirs', str(tmp_path / 'work'),
         '--cfg-options', 'data.workers_per_gpu=0'], capsys)
    assert len(runs) == 3  # toy source-only, seeds 0-2
    calls = fake_sbatch.read_text().splitlines()
    assert len(calls) == 3
    assert 'job ids: 101 102 103' in out
    for (name, config), call in zip(runs, calls):
        script = tmp_path / 'work' / 'slurm-exp1' / name / f'{name}.sbatch'
        assert call == f'--parsable {script}'
        text = script.read_text()
        directives = _directives(text)
        assert directives['job-name'] == name
        assert directives['gres'] == 'gpu:1'  # the toy configs' n_gpus
        assert directives['partition'] == 'cpu' and directives['time'] == '00:30:00'
        assert f'tools.train {os.path.abspath(config)} ' in text
        assert text.rstrip().endswith('--cfg-options data.workers_per_gpu=0')


def test_slurm_dry_run_writes_scripts_without_submitting(tmp_path, fake_sbatch, capsys):
    (tmp_path / 'toy.py').write_text(TOY_CONFIG.format(repo=REPO, data=tmp_path))
    runs, out = _run_experiments(
        ['--config', str(tmp_path / 'toy.py'), '--machine', 'slurm', '--dry-run',
         '--startup-test', '--gpus-per-run', '0', '--gen-dir', str(tmp_path / 'gen'),
         '--work-dirs', str(tmp_path / 'work')], capsys)
    assert not fake_sbatch.exists()
    assert 'nothing submitted' in out
    (name, config), = runs
    script = (tmp_path / 'work' / 'slurm-toy' / name / f'{name}.sbatch').read_text()
    assert 'gres' not in _directives(script)
    assert "'max_iters': 2" in Path(config).read_text()  # --startup-test


def test_unknown_sbatch_failure_names_the_script(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'sbatch').write_text('#!/bin/sh\necho "invalid partition" >&2\nexit 1\n')
    (bin_dir / 'sbatch').chmod(0o755)
    monkeypatch.setenv('PATH', f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(RuntimeError, match=r'sbatch refused .*\.sbatch: invalid partition'):
        _run_experiments(['--exp', '1', '--machine', 'slurm', '--gen-dir',
                          str(tmp_path / 'gen'), '--work-dirs', str(tmp_path / 'work')], capsys)


# ----------------------------------------------------------------------------- real Slurm
def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def slurm_cluster():
    """A one-node Slurm started by tools/slurm/single_node_slurm.sh, once for the tests of this
    module; skipped where it cannot start (not root, no apt and no Slurm, no munge ...)."""
    if sys.platform != 'linux' or os.geteuid() != 0:
        pytest.skip('a local Slurm needs Linux and root (single_node_slurm.sh)')
    state = tempfile.mkdtemp(prefix='micseg-slurm-')  # short: slurmd puts sockets there
    env = dict(os.environ, MICSEG_SLURM_DIR=state,
               MICSEG_SLURMCTLD_PORT=str(_free_port()), MICSEG_SLURMD_PORT=str(_free_port()))
    start = subprocess.run(['bash', str(SLURM_SCRIPT), 'start'], env=env, capture_output=True,
                           text=True, timeout=600)
    try:
        if start.returncode != 0:
            pytest.skip(f'Slurm could not be started here: {start.stderr.strip()[-500:]}')
        yield dict(env, SLURM_CONF=f'{state}/slurm.conf')
    finally:
        subprocess.run(['bash', str(SLURM_SCRIPT), 'stop'], env=env, timeout=60)
        shutil.rmtree(state, ignore_errors=True)


def _wait_for_job(job_id, env, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        queue = subprocess.run(['squeue', '-h', '-j', job_id, '-o', '%T'], env=env,
                               capture_output=True, text=True).stdout.strip()
        if not queue:
            return
        time.sleep(1)
    raise AssertionError(f'job {job_id} still queued/running after {timeout} s: {queue}')


@pytest.mark.slow
def test_real_slurm_runs_a_submitted_toy_run(slurm_cluster, toy_data_root, tmp_path):
    (tmp_path / 'toy.py').write_text(TOY_CONFIG.format(repo=REPO, data=toy_data_root))
    env = dict(slurm_cluster, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]))
    out = subprocess.run(
        [sys.executable, 'run_experiments.py', '--config', str(tmp_path / 'toy.py'),
         '--machine', 'slurm', '--startup-test', '--gpus-per-run', '0',
         '--gen-dir', str(tmp_path / 'gen'), '--work-dirs', str(tmp_path / 'work'),
         '--cfg-options', 'data.workers_per_gpu=0'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    job_id = re.search(r'job ids: (\d+)', out.stdout).group(1)
    _wait_for_job(job_id, env)
    work_dir, = (tmp_path / 'work' / 'slurm-toy').iterdir()
    assert (work_dir / f'slurm-{job_id}.out').exists()
    assert (work_dir / 'latest.pth').exists(), (work_dir / f'slurm-{job_id}.err').read_text()
    assert (work_dir / 'iter_2.pth').exists()


@pytest.mark.slow
def test_real_slurm_srun_tasks_join_one_process_group(slurm_cluster, tmp_path):
    # What the script of a multi-GPU run does (srun ... --launcher slurm), without GPUs.
    code = ('import torch, torch.distributed as dist; from mmseg.utils import init_dist; '
            "init_dist('slurm'); t = torch.tensor([dist.get_rank() + 1.0]); dist.all_reduce(t); "
            "print(f'rank {dist.get_rank()} of {dist.get_world_size()} sum {t.item()}')")
    script = tmp_path / 'pg.sbatch'
    script.write_text(f'#!/bin/bash\n#SBATCH --ntasks=2\n#SBATCH --nodes=1\n'
                      f'#SBATCH --output={tmp_path}/pg-%j.out\n'
                      f'cd {REPO}\nexport MASTER_PORT={_free_port()}\n'
                      f'srun {sys.executable} -c "{code}"\n')
    env = dict(slurm_cluster, PYTHONPATH=str(REPO))
    job_id = subprocess.run(['sbatch', '--parsable', str(script)], env=env, check=True,
                            capture_output=True, text=True).stdout.strip()
    _wait_for_job(job_id, env, timeout=120)
    lines = sorted(line for line in (tmp_path / f'pg-{job_id}.out').read_text().splitlines()
                   if line.startswith('rank '))
    assert lines == ['rank 0 of 2 sum 3.0', 'rank 1 of 2 sum 3.0']

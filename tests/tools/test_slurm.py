"""run_experiments.py --machine slurm (sbatch scripts, submission) and a real one-node Slurm."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mmseg.utils.errors import UserFileNotFoundError, UserInputError
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
    """{flag: value} of the #SBATCH lines (None for a flag without value)."""
    found = re.findall(r'^#SBATCH --([\w-]+)(?:=(.*))?$', script, flags=re.M)
    return {flag: value or None for flag, value in found}


def _bash_syntax_ok(script, tmp_path):
    path = tmp_path / 'check.sbatch'
    path.write_text(script)
    return subprocess.run(['bash', '-n', str(path)]).returncode == 0


# ----------------------------------------------------------------------------- scripts
def _train_line(script):
    """The line that starts the training (run in the background by the script)."""
    line, = [l for l in script.splitlines() if '/tools/train.py ' in l]
    assert line.endswith(' &')
    return line[:-2]


def test_one_gpu_run_trains_in_the_folder_it_was_submitted_from(tmp_path):
    options = SlurmOptions(partition='gpu', time='1-02:00:00', cpus_per_task=8, mem='64G')
    script = sbatch_script('run_a', 'cfg/run_a.py', str(tmp_path / 'work'), 1, options,
                           ['--cfg-options', 'data.workers_per_gpu=0'], cwd=str(tmp_path))
    assert _directives(script) == {
        'job-name': 'run_a', 'output': f'{tmp_path}/work/slurm-%j.out',
        'error': f'{tmp_path}/work/slurm-%j.err', 'open-mode': 'append', 'nodes': '1',
        'ntasks': '1', 'requeue': None, 'signal': 'B:USR1@600',
        'gres': 'gpu:1', 'partition': 'gpu', 'time': '1-02:00:00', 'cpus-per-task': '8',
        'mem': '64G'}
    lines = script.splitlines()
    # the user's folder (relative data paths, custom_imports), the project importable
    assert f'cd {tmp_path}' in lines and f'cd {REPO}' not in lines
    assert f'export PYTHONPATH={REPO}${{PYTHONPATH:+:$PYTHONPATH}}' in lines
    if (REPO / '.venv/bin/activate').is_file():
        assert f'. {REPO}/.venv/bin/activate' in lines
    else:  # a checkout without .venv (a git worktree): the Python that wrote the script
        assert f'PYTHON={sys.executable}' in lines
    # --auto-resume: the requeued job continues from the checkpoint written on the signal
    assert _train_line(script) == (
        f'"$PYTHON" {REPO}/tools/train.py {Path.cwd() / "cfg/run_a.py"} --work-dir '
        f'{tmp_path}/work --auto-resume --cfg-options data.workers_per_gpu=0')
    assert 'srun' not in script and '--launcher' not in script
    assert _bash_syntax_ok(script, tmp_path)


def test_multi_gpu_run_starts_one_process_per_gpu_with_srun(tmp_path):
    script = sbatch_script('run_b', str(tmp_path / 'b.py'), str(tmp_path), 4, SlurmOptions())
    directives = _directives(script)
    assert directives['ntasks'] == '4' and directives['gres'] == 'gpu:4'
    assert 'partition' not in directives and 'time' not in directives
    assert _train_line(script).startswith(f'srun "$PYTHON" {REPO}/tools/train.py ')
    assert _train_line(script).endswith(' --auto-resume --launcher slurm')
    assert _bash_syntax_ok(script, tmp_path)


FAKE_TRAINING = """#!/bin/bash
# stands in for python: records its arguments, then exits with $FAKE_STATUS, or 75 on SIGUSR1
# (without its handler yet, as while Python starts, SIGUSR1 kills it: 128 + 10)
echo "$@" >> {log}
[ -n "$NO_HANDLER" ] || trap 'echo USR1 >> {log}; exit 75' USR1
for i in $(seq 1 100); do sleep 0.1; [ -e {go} ] && exit $FAKE_STATUS; done
exit 9
"""


@pytest.mark.parametrize('status,requeued', [(75, True), (138, True), (0, False), (1, False)])
def test_script_forwards_usr1_and_requeues_only_a_stopped_training(tmp_path, status, requeued):
    """The script as Slurm runs it, with a fake training and a fake scontrol: SIGUSR1 to the
    batch shell reaches the training; exit status 75 (saved and stopped) requeues the job."""
    log, go = tmp_path / 'calls.txt', tmp_path / 'go'
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'python').write_text(FAKE_TRAINING.format(log=log, go=go))
    # the project's .venv, which the script activates: it puts the fakes first on PATH
    (tmp_path / '.venv' / 'bin').mkdir(parents=True)
    (tmp_path / '.venv' / 'bin' / 'activate').write_text(f'PATH={bin_dir}:$PATH\n')
    (bin_dir / 'scontrol').write_text(f'#!/bin/sh\necho "scontrol $*" >> {log}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    script = tmp_path / 'job.sbatch'
    script.write_text(sbatch_script('r', 'r.py', str(tmp_path), 0, SlurmOptions(),
                                    repo=str(tmp_path)))
    env = dict(os.environ, SLURM_JOB_ID='42', FAKE_STATUS=str(status),
               NO_HANDLER='1' if status == 138 else '')
    env.pop('PYTHON', None)
    job = subprocess.Popen(['bash', str(script)], env=env)
    deadline = time.time() + 10
    while not log.exists() and time.time() < deadline:
        time.sleep(0.05)
    if requeued:
        job.send_signal(signal.SIGUSR1)
    else:
        go.touch()
    assert job.wait(timeout=20) == status
    calls = log.read_text().splitlines()
    assert calls[0].startswith(f'{tmp_path}/tools/train.py ') and '--auto-resume' in calls[0]
    assert ('scontrol requeue 42' in calls) == requeued
    assert ('USR1' in calls) == (status == 75)


def test_gpus_per_run_overrides_n_gpus(tmp_path):
    no_gpu = sbatch_script('c', 'c.py', str(tmp_path), 2, SlurmOptions(gpus_per_run=0))
    assert 'gres' not in _directives(no_gpu) and 'srun' not in no_gpu
    two = sbatch_script('c', 'c.py', str(tmp_path), 1, SlurmOptions(gpus_per_run=2))
    assert _directives(two)['gres'] == 'gpu:2'
    with pytest.raises(UserInputError, match='--gpus-per-run'):
        SlurmOptions(gpus_per_run=-1)


@pytest.mark.parametrize('limit,seconds', [('5', 300), ('10:00', 600), ('00:10:00', 600),
                                           ('0-0:10', 600)])
def test_time_not_longer_than_the_signal_lead_is_refused(limit, seconds):
    # Slurm reads '5' as 5 minutes: SIGUSR1 600 s before the limit would come before the start.
    with pytest.raises(UserInputError) as error:
        SlurmOptions(time=limit)
    assert str(error.value) == (
        f'--time {limit} ({seconds} s) is not longer than the 600 s before the time limit at '
        f'which the job is told to save and stop (docs/RUNS.md): give a longer --time')
    for longer in ('11', '00:10:01', '1-00', 'UNLIMITED'):
        assert SlurmOptions(time=longer).time == longer


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


@pytest.fixture
def toy_cwd(toy_data_root, tmp_path, monkeypatch):
    """The cwd holds data/toy (the toy experiments' data roots): run_experiments checks them."""
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'toy').symlink_to(toy_data_root, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run_experiments(args, capsys):
    import run_experiments
    runs = run_experiments.main(args)
    return runs, capsys.readouterr().out


def test_slurm_machine_submits_one_script_per_run(tmp_path, toy_cwd, fake_sbatch, capsys):
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
        assert f'tools/train.py {os.path.abspath(config)} ' in text
        assert _train_line(text).endswith('--auto-resume --cfg-options data.workers_per_gpu=0')


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


def test_slurm_job_runs_in_the_folder_run_experiments_was_called_from(tmp_path, fake_sbatch,
                                                                      monkeypatch, capsys):
    """A config outside the repository: relative data paths and the user's own modules
    resolve in the job as in the check before submitting (docs/train.md, own modules)."""
    user = tmp_path / 'user'
    user.mkdir()
    (user / 'toy.py').write_text(TOY_CONFIG.format(repo=REPO, data=tmp_path))
    monkeypatch.chdir(user)
    runs, _ = _run_experiments(['--config', 'toy.py', '--machine', 'slurm', '--dry-run',
                                '--gpus-per-run', '0', '--gen-dir', str(tmp_path / 'gen')],
                               capsys)
    (name, _), = runs
    script, = (user / 'work_dirs' / 'slurm-toy' / name).glob('*.sbatch')
    lines = script.read_text().splitlines()
    assert f'cd {user}' in lines and f'cd {REPO}' not in lines
    assert f'export PYTHONPATH={REPO}${{PYTHONPATH:+:$PYTHONPATH}}' in lines
    assert _train_line(script.read_text()).startswith(f'"$PYTHON" {REPO}/tools/train.py ')


def test_slurm_time_shorter_than_the_signal_lead_writes_nothing(tmp_path, fake_sbatch, capsys):
    (tmp_path / 'toy.py').write_text(TOY_CONFIG.format(repo=REPO, data=tmp_path))
    err = _cli_error(['--config', str(tmp_path / 'toy.py'), '--machine', 'slurm', '--time', '5',
                      '--gen-dir', str(tmp_path / 'gen'), '--work-dirs', str(tmp_path / 'w')],
                     capsys)
    assert err == ('Cannot submit: --time 5 (300 s) is not longer than the 600 s before the '
                   'time limit at which the job is told to save and stop (docs/RUNS.md): give '
                   'a longer --time\n')
    assert not (tmp_path / 'gen').exists() and not (tmp_path / 'w').exists()
    assert not fake_sbatch.exists()


def _refusing_sbatch(tmp_path, monkeypatch, message):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'sbatch').write_text(f'#!/bin/sh\necho "{message}" >&2\nexit 1\n')
    (bin_dir / 'sbatch').chmod(0o755)
    monkeypatch.setenv('PATH', f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def _cli_error(argv, capsys):
    import run_experiments
    from mmseg.utils.errors import run_cli
    with pytest.raises(SystemExit) as exit_info:
        run_cli(run_experiments.main, 'submit', argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1
    return err


def test_unknown_sbatch_failure_names_the_script(tmp_path, toy_cwd, monkeypatch, capsys):
    _refusing_sbatch(tmp_path, monkeypatch, 'sbatch: error: invalid partition specified: x')
    err = _cli_error(['--exp', '1', '--machine', 'slurm', '--gen-dir', str(tmp_path / 'gen'),
                      '--work-dirs', str(tmp_path / 'work')], capsys)
    assert re.fullmatch(r'Cannot submit: sbatch refused \S+\.sbatch: sbatch: error: invalid '
                        r'partition specified: x\n', err), err


def test_cpu_cluster_refusing_the_gpu_request_names_gpus_per_run_0(tmp_path, toy_cwd,
                                                                    monkeypatch, capsys):
    _refusing_sbatch(tmp_path, monkeypatch, 'sbatch: error: Batch job submission failed: '
                                            'Invalid generic resource (gres) specification')
    err = _cli_error(['--exp', '1', '--machine', 'slurm', '--gen-dir', str(tmp_path / 'gen'),
                      '--work-dirs', str(tmp_path / 'work')], capsys)
    assert 'Invalid generic resource (gres) specification (the script asks for GPUs' in err
    assert err.endswith('on a cluster without GPUs give --gpus-per-run 0)\n')


def test_slurm_runs_with_missing_data_are_not_submitted(tmp_path, fake_sbatch, monkeypatch,
                                                        capsys):
    """As for local runs: the data check comes before any sbatch (the cwd has no data/)."""
    monkeypatch.chdir(tmp_path)
    import run_experiments
    with pytest.raises(UserFileNotFoundError, match='these data folders / weight files do not '
                       'exist: data/toy/gta/, '):
        run_experiments.main(['--exp', '1', '--machine', 'slurm', '--gen-dir',
                              str(tmp_path / 'gen'), '--work-dirs', str(tmp_path / 'work')])
    assert not fake_sbatch.exists()
    assert not list((tmp_path / 'work').rglob('*.sbatch'))


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


def _squeue(job_id, env, fields='%T %r'):
    return subprocess.run(['squeue', '-h', '-j', job_id, '-o', fields], env=env,
                          capture_output=True, text=True).stdout.strip()


def _poll(condition, what, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f'no {what} after {timeout} s')


@pytest.mark.slow
def test_real_slurm_signal_saves_requeues_and_the_job_finishes(slurm_cluster, toy_data_root,
                                                               tmp_path):
    """A toy run submitted by run_experiments.py --machine slurm trains in its job; USR1 to
    the batch shell (what --signal=B:USR1@<s> sends before the time limit): the
    training writes a checkpoint and exits 75, the script requeues the job, and the requeued
    job continues with --auto-resume to the last iteration."""
    (tmp_path / 'toy.py').write_text(TOY_CONFIG.format(repo=REPO, data=toy_data_root))
    env = dict(slurm_cluster, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]))
    out = subprocess.run(
        [sys.executable, 'run_experiments.py', '--config', str(tmp_path / 'toy.py'),
         '--machine', 'slurm', '--gpus-per-run', '0', '--gen-dir', str(tmp_path / 'gen'),
         '--work-dirs', str(tmp_path / 'work'), '--cfg-options', 'runner.max_iters=12',
         'log_config.interval=1', 'evaluation.interval=1000', 'checkpoint_config.interval=12'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    job_id = re.search(r'job ids: (\d+)', out.stdout).group(1)
    work_dir, = (tmp_path / 'work' / 'slurm-toy').iterdir()
    _poll(lambda: any('"train"' in p.read_text() for p in work_dir.glob('*.log.json')),
          'first log line')
    subprocess.run(['scancel', '--batch', '--signal=USR1', job_id], env=env, check=True)
    _poll(lambda: _squeue(job_id, env).startswith('PENDING'), 'requeue')
    # Slurm holds a requeued job for 2 minutes (BeginTime); an admin may start it earlier, but
    # not within the second of the requeue (slurmd would take the new job's credential for the
    # revoked one of the old job and refuse it)
    time.sleep(2)
    subprocess.run(['scontrol', 'update', f'JobId={job_id}', 'StartTime=now'], env=env,
                   check=True)
    _poll(lambda: (work_dir / 'iter_12.pth').exists() and not _squeue(job_id, env),
          'end of the requeued job')
    assert (work_dir / f'slurm-{job_id}.out').exists()
    err = (work_dir / f'slurm-{job_id}.err').read_text()
    stopped = re.search(r'Training stopped by SIGUSR1 after iteration (\d+): checkpoint '
                        r'(\S+) written', err)
    assert stopped, err[-3000:]
    at = int(stopped.group(1))
    assert stopped.group(2) == f'{work_dir}/iter_{at}.pth' and 1 <= at < 12
    assert f'job {job_id}: training stopped for a signal' in err
    assert f'continuing with iteration {at + 1}' in err
    assert torch_load_iter(work_dir / 'latest.pth') == 12
    logs = sorted(work_dir.glob('*.log.json'))
    assert len(logs) == 2  # the first part and the requeued one


def torch_load_iter(path):
    import torch
    return torch.load(path, weights_only=True, map_location='cpu')['meta']['iter']

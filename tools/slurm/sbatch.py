"""Slurm submission of training runs (``run_experiments.py --machine slurm``).

One sbatch script per run, written into the run's work dir as ``<name>.sbatch``: job name = run
name, stdout/stderr into the work dir (``slurm-<jobid>.out/.err``), ``--gres=gpu:N`` from the
config's ``n_gpus`` (or ``--gpus-per-run``); with more than one GPU, ``srun`` starts one
``tools/train.py --launcher slurm`` process per GPU. The script changes to the folder
run_experiments.py was called from (relative data paths and the user's own modules of
``custom_imports`` resolve as in the checks before submitting), puts the project on PYTHONPATH and
activates the project's ``.venv`` (else it uses the Python that wrote it), so it runs unchanged
on a cluster node that sees both folders.

Time limits and preemption (docs/RUNS.md): the job asks Slurm for SIGUSR1 ``signal_lead``
seconds before its time limit (``--signal=B:USR1@<s>``, to the batch shell) and is requeueable
(``--requeue``; output files are appended to, ``--open-mode=append``). The script runs the
training in the background and forwards SIGUSR1 to it; the training finishes its iteration,
writes a checkpoint and exits with status 75 (SIGTERM from Slurm, which reaches every process
of the job, does the same). On 75 the script requeues the job (``scontrol requeue``), and the
requeued job runs the same command, which has ``--auto-resume``: it continues from that
checkpoint.
"""
import os
import os.path as osp
import re
import shlex
import subprocess
import sys

from mmseg.core.run_outcome import EXIT_PREEMPTED
from mmseg.utils.errors import UserInputError

__all__ = ['SlurmOptions', 'sbatch_script', 'write_sbatch_script', 'submit']

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Seconds before the time limit at which the training is told to save and stop: more than one
# iteration, one evaluation and one checkpoint write take (minutes for MIC on Cityscapes val).
SIGNAL_LEAD_S = 600


class SlurmOptions:
    """The sbatch settings common to all runs of one ``run_experiments.py`` call.

    Args:
        partition: ``--partition`` (None: the cluster's default).
        time: ``--time`` as HH:MM:SS or D-HH:MM:SS (None: the partition's limit).
        cpus_per_task: ``--cpus-per-task`` (None: Slurm's default).
        mem: ``--mem`` such as ``64G`` (None: Slurm's default).
        gpus_per_run: GPUs of each run; None takes the config's ``n_gpus``; 0 asks for none.
        signal_lead: seconds before the time limit at which SIGUSR1 asks the training to save
            and requeue (``--signal=B:USR1@<signal_lead>``).
    """

    def __init__(self, partition=None, time=None, cpus_per_task=None, mem=None,
                 gpus_per_run=None, signal_lead=SIGNAL_LEAD_S):
        if gpus_per_run is not None and gpus_per_run < 0:
            raise UserInputError(f'--gpus-per-run must be >= 0, got {gpus_per_run}')
        if cpus_per_task is not None and cpus_per_task < 1:
            raise UserInputError(f'--cpus-per-task must be >= 1, got {cpus_per_task}')
        if signal_lead < 1:
            raise UserInputError(f'the signal lead time must be >= 1 s, got {signal_lead}')
        self.signal_lead = int(signal_lead)
        seconds = slurm_time_seconds(time)
        if seconds is not None and seconds <= self.signal_lead:
            raise UserInputError(
                f'--time {time} ({seconds} s) is not longer than the '
                f'{self.signal_lead} s before the time limit at which the job is told to save '
                f'and stop (docs/RUNS.md): give a longer --time')
        self.partition = partition
        self.time = time
        self.cpus_per_task = cpus_per_task
        self.mem = mem
        self.gpus_per_run = gpus_per_run


def slurm_time_seconds(time):
    """Seconds of a Slurm ``--time``: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS; None
    for None and other values (UNLIMITED; sbatch judges those)."""
    match = re.fullmatch(r'(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?', str(time or '').strip())
    if match is None:
        return None
    days, first, second, third = match.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        hours, minutes, seconds = int(first), int(second or 0), int(third or 0)
    elif third is not None:  # HH:MM:SS
        hours, minutes, seconds = int(first), int(second), int(third)
    else:  # MM[:SS]
        hours, minutes, seconds = 0, int(first), int(second or 0)
    return ((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds


def _python_setup(repo):
    activate = osp.join(repo, '.venv', 'bin', 'activate')
    if osp.isfile(activate):
        return [f'. {shlex.quote(activate)}', 'PYTHON=python']
    return [f'PYTHON={shlex.quote(sys.executable)}']


def _run_and_requeue(command):
    """Lines that run ``command`` in the background, forward SIGUSR1 to it, and requeue the job
    when it stopped for the signal: exit status EXIT_PREEMPTED (it saved a checkpoint), or
    killed by the signal before its handler was installed (it had not trained yet)."""
    return [
        '# Preemption (docs/RUNS.md): Slurm sends SIGUSR1 to this shell before the time limit;',
        '# the training saves a checkpoint and exits with status '
        f'{EXIT_PREEMPTED}; the job is then requeued and',
        '# continues with --auto-resume. SIGTERM reaches the training from Slurm directly.',
        'set +e',
        'STOP=',
        'trap \'STOP=1; [ -z "${TRAIN_PID:-}" ] || kill -USR1 "$TRAIN_PID" 2>/dev/null\' USR1',
        "trap ':' TERM",
        f'{command} &',
        'TRAIN_PID=$!',
        '[ -z "$STOP" ] || kill -USR1 "$TRAIN_PID" 2>/dev/null',
        'while kill -0 "$TRAIN_PID" 2>/dev/null; do wait "$TRAIN_PID"; done',
        'wait "$TRAIN_PID"',
        'STATUS=$?',
        f'if [ "$STATUS" -eq {EXIT_PREEMPTED} ] '
        '|| { [ -n "$STOP" ] && [ "$STATUS" -gt 128 ]; }; then',
        '    echo "job $SLURM_JOB_ID: training stopped for a signal;'
        ' requeueing it (it continues with --auto-resume)" >&2',
        '    scontrol requeue "$SLURM_JOB_ID"',
        'fi',
        'exit "$STATUS"']


def sbatch_script(name, config, work_dir, n_gpus, options, train_args=(), repo=REPO, cwd=None):
    """The text of the sbatch script of one run.

    Args:
        name: run (and job) name.
        config: path of the run's config (made absolute).
        work_dir: the run's folder (made absolute); logs and checkpoints go there.
        n_gpus: the config's ``n_gpus`` (used unless ``options.gpus_per_run`` is set).
        options: a SlurmOptions.
        train_args: further tools/train.py arguments (e.g. ``--cfg-options k=v``).
        repo: the project root (on PYTHONPATH; its .venv and tools/train.py).
        cwd: the folder the job runs in (None: the current one, as for a local run).
    """
    gpus = options.gpus_per_run if options.gpus_per_run is not None else int(n_gpus or 0)
    work_dir = osp.abspath(work_dir)
    tasks = max(gpus, 1)
    lines = ['#!/bin/bash', f'#SBATCH --job-name={name}',
             f'#SBATCH --output={work_dir}/slurm-%j.out',
             f'#SBATCH --error={work_dir}/slurm-%j.err',
             '#SBATCH --open-mode=append',  # a requeued job keeps the output of its first part
             '#SBATCH --nodes=1', f'#SBATCH --ntasks={tasks}', '#SBATCH --requeue',
             f'#SBATCH --signal=B:USR1@{options.signal_lead}']
    if gpus > 0:
        lines.append(f'#SBATCH --gres=gpu:{gpus}')
    for flag, value in (('partition', options.partition), ('time', options.time),
                        ('cpus-per-task', options.cpus_per_task), ('mem', options.mem)):
        if value is not None:
            lines.append(f'#SBATCH --{flag}={value}')
    command = ['"$PYTHON"', shlex.quote(osp.join(repo, 'tools', 'train.py')),
               shlex.quote(osp.abspath(config)),
               '--work-dir', shlex.quote(work_dir), '--auto-resume'
               ] + [shlex.quote(a) for a in train_args]
    lines += ['', '# Generated by run_experiments.py --machine slurm.', 'set -e',
              f'cd {shlex.quote(osp.abspath(cwd or os.getcwd()))}',
              f'export PYTHONPATH={shlex.quote(repo)}${{PYTHONPATH:+:$PYTHONPATH}}'
              ] + _python_setup(repo)
    if gpus > 1:
        # One process per GPU; the port is derived from the job id so jobs sharing a node
        # do not collide.
        lines.append('export MASTER_PORT=$((29500 + SLURM_JOB_ID % 10000))')
        lines += _run_and_requeue('srun ' + ' '.join(command + ['--launcher', 'slurm']))
    else:
        lines += _run_and_requeue(' '.join(command))
    return '\n'.join(lines) + '\n'


def write_sbatch_script(name, config, work_dir, n_gpus, options, train_args=(), repo=REPO,
                        cwd=None):
    """Write ``<work_dir>/<name>.sbatch`` (creating the work dir) and return its path."""
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, f'{name}.sbatch')
    with open(path, 'w') as f:
        f.write(sbatch_script(name, config, work_dir, n_gpus, options, train_args, repo, cwd))
    return path


def submit(script):
    """``sbatch --parsable SCRIPT``; returns the job id (str).

    Raises UserInputError naming the script and sbatch's message when sbatch is missing or
    refuses the job (a refused GPU request also names ``--gpus-per-run 0``).
    """
    try:
        out = subprocess.run(['sbatch', '--parsable', script], capture_output=True, text=True)
    except FileNotFoundError:
        raise UserInputError(f'{script}: sbatch not found (is this a Slurm login node? '
                             f'tools/slurm/single_node_slurm.sh starts a local Slurm)') from None
    if out.returncode != 0:
        message = ' '.join(out.stderr.split()) or f'exit status {out.returncode}'
        hint = ''
        if 'gres' in message.lower() or 'gpu' in message.lower():
            hint = (' (the script asks for GPUs with --gres=gpu:N; on a cluster without GPUs '
                    'give --gpus-per-run 0)')
        raise UserInputError(f'sbatch refused {script}: {message}{hint}')
    return out.stdout.strip().split(';')[0]

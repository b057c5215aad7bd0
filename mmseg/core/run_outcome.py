"""How a training run ends other than by finishing: the exceptions ``train_segmentor`` raises
and the exit statuses ``tools/train.py`` turns them into (docs/RUNS.md, "Exit statuses").

    0   finished; every evaluation succeeded
    2   bad input (``UserInputError``, mmseg/utils/errors.py), nothing trained
    3   finished, but evaluations failed (their checkpoints are kept: ``EvaluationFailed``)
    75  stopped by a signal (SIGTERM, Slurm's ``--signal``) after writing a checkpoint:
        continue with ``--auto-resume`` (``Preempted``; 75 is EX_TEMPFAIL of sysexits.h,
        "try again later")
"""

__all__ = ['RunStopped', 'EvaluationFailed', 'Preempted', 'EXIT_EVALUATION_FAILED',
           'EXIT_PREEMPTED']

EXIT_EVALUATION_FAILED = 3
EXIT_PREEMPTED = 75


class RunStopped(Exception):
    """A run that ended early or incompletely; ``str()`` is one line for the user and
    ``exit_code`` the process's exit status."""

    exit_code = 1


class EvaluationFailed(RunStopped):
    """Training finished, but at least one evaluation raised (its checkpoint is on disk)."""

    exit_code = EXIT_EVALUATION_FAILED


class Preempted(RunStopped):
    """A stop signal arrived: the run wrote the checkpoint ``checkpoint`` and stopped."""

    exit_code = EXIT_PREEMPTED

    def __init__(self, message, checkpoint=None):
        super().__init__(message)
        self.checkpoint = checkpoint

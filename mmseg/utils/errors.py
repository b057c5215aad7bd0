"""The error type of bad input, and how the command-line tools report it.

Bad input (a missing or corrupt file, a wrong or inconsistent config key, a checkpoint that does
not fit, a cluster that refuses a job) raises ``UserInputError`` with a message that names the
file or key and what was expected. Every entry point (``tools/*.py``, ``run_experiments.py``)
runs its ``main`` through ``run_cli``, which prints such an error as one line,
``Cannot <verb>: <message>``, and exits with status 2. Any other exception is a bug and keeps its
traceback. ``MICSEG_TRACEBACK=1`` in the environment shows the traceback of a
``UserInputError`` too (for a bug report).
"""
import os
import sys

__all__ = ['UserInputError', 'run_cli', 'EXIT_USER_ERROR']

EXIT_USER_ERROR = 2


class UserInputError(ValueError):
    """Bad input from the user: the message says what is wrong, where, and how to fix it.

    A ``ValueError`` so that callers of the Python API that catch ``ValueError`` keep working.
    """


def run_cli(main, verb, argv=None):
    """Call ``main(argv)``; a ``UserInputError`` becomes ``Cannot <verb>: ...`` on stderr and
    exit status 2 (``MICSEG_TRACEBACK=1``: re-raised with its traceback).

    Returns what ``main`` returns.
    """
    try:
        return main(argv)
    except UserInputError as error:
        if os.environ.get('MICSEG_TRACEBACK', '') not in ('', '0'):
            raise
        print(f'Cannot {verb}: {error}', file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)

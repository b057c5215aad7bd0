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
import re
import sys

__all__ = ['UserInputError', 'UserFileNotFoundError', 'UserFileExistsError', 'UserKeyError',
           'UserTypeError',
           'UserRuntimeError', 'as_user_error', 'run_cli', 'user_message', 'EXIT_USER_ERROR']

EXIT_USER_ERROR = 2


class UserInputError(ValueError):
    """Bad input from the user: the message says what is wrong, where, and how to fix it.

    A ``ValueError`` so that callers of the Python API that catch ``ValueError`` keep working.
    """


# Bad input that used to raise another built-in type keeps that type as a second base, so that
# Python callers catching FileNotFoundError, KeyError, ... keep working.
class UserFileNotFoundError(UserInputError, FileNotFoundError):
    """A file or folder the user named (or the config points at) does not exist."""


class UserFileExistsError(UserInputError, FileExistsError):
    """A file or folder that would be overwritten (or is in the way) exists."""


class UserKeyError(UserInputError, KeyError):
    """A config key is missing or unknown."""

    __str__ = UserInputError.__str__  # the message as given, not KeyError's repr() of it


class UserTypeError(UserInputError, TypeError):
    """A config value has the wrong type."""


class UserRuntimeError(UserInputError, RuntimeError):
    """The input does not fit (e.g. a checkpoint for another model) or the system refuses it."""


_USER_TYPES = ((FileNotFoundError, UserFileNotFoundError),
               (FileExistsError, UserFileExistsError), (KeyError, UserKeyError),
               (TypeError, UserTypeError), (RuntimeError, UserRuntimeError))


def as_user_error(error):
    """``error`` (an exception about bad input) as a ``UserInputError`` with the same message,
    also an instance of its built-in type where that is FileNotFoundError / FileExistsError /
    KeyError / TypeError / RuntimeError (else a plain UserInputError)."""
    if isinstance(error, UserInputError):
        return error
    message = error.args[0] if len(error.args) == 1 else str(error)
    for builtin, user_type in _USER_TYPES:
        if isinstance(error, builtin):
            return user_type(message)
    return UserInputError(message)


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
        print(f'Cannot {verb}: {user_message(error)}', file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def user_message(error):
    """The message of a UserInputError. One raised in a DataLoader worker process comes back
    wrapped by torch ('Caught X in DataLoader worker process 0.' and the worker's traceback): its
    own message (the traceback's last line) is returned instead."""
    message = str(error)
    if '\nOriginal Traceback' in message:
        last = message.rstrip().splitlines()[-1]
        match = re.match(r'[\w.]+: (.*)$', last)
        return match.group(1) if match else last
    return message

"""Checkpoint files: atomic saving, safe loading, the newest complete checkpoint of a run, and the
random-number-generator states an exact resume needs (docs/ARCHITECTURE.md, "Resume").

Loading uses ``torch.load(..., weights_only=True)``: a checkpoint is unpickled with PyTorch's
restricted unpickler, which builds tensors and plain containers only, plus the allow-listed
metadata types below (those in the checkpoints mmcv 1.x writes: numpy scalars and arrays in
``meta``). Anything else (an arbitrary pickled object, which can run code when unpickled) is
refused unless the caller passes ``trust=True`` (``--trust-checkpoint`` on the command line).
"""
import contextlib
import os
import os.path as osp
import pickle
import random
import re
import shutil
import tempfile
import zipfile

import numpy as np
import torch

from mmseg.utils.errors import UserFileNotFoundError, UserInputError, UserRuntimeError

__all__ = ['SAFE_GLOBALS', 'UntrustedCheckpointError', 'load_checkpoint_file',
           'check_checkpoint_file', 'save_checkpoint_file', 'update_latest_link',
           'find_latest_checkpoint', 'get_rng_state', 'set_rng_state', 'rng_state_preserved',
           'file_mode', 'check_state_dict_fits']

CHECKPOINT_HINT = ('checkpoints are written by tools/train.py into the work_dir (iter_<N>.pth, '
                   'latest.pth); released MIC checkpoints: see README, "Datasets and weights"')


def _numpy_globals():
    """numpy types needed to unpickle numpy scalars/arrays (as mmcv puts them in ``meta``)."""
    multiarray = getattr(np, '_core', None) or np.core
    found = [np.ndarray, np.dtype, multiarray.multiarray.scalar,
             multiarray.multiarray._reconstruct]
    found += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')
              and name not in ('ObjectDType', 'VoidDType')]
    return found


# Metadata types of released (mmcv 1.x / mmseg 0.x) checkpoints beyond tensors and containers.
SAFE_GLOBALS = _numpy_globals()


class UntrustedCheckpointError(UserInputError, pickle.UnpicklingError):
    """A checkpoint holds pickled objects outside the allow-list (loading them can run code)."""


def _looks_like_checkpoint(filename):
    """True for torch.save's zip format or a legacy pickle (first byte is the PROTO opcode)."""
    if zipfile.is_zipfile(filename):
        return True
    with open(filename, 'rb') as f:
        return f.read(1) == b'\x80'


def load_checkpoint_file(filename, map_location='cpu', trust=False):
    """Read a checkpoint saved with ``torch.save``; returns what it holds (usually a dict).

    Raises UserInputError: UserFileNotFoundError (missing file, with where checkpoints come
    from), UserInputError (the file is not a PyTorch checkpoint, or torch cannot read it),
    UntrustedCheckpointError (it holds objects outside SAFE_GLOBALS and ``trust`` is False).
    """
    filename = check_checkpoint_file(filename)
    if trust:
        return _torch_load(filename, map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return _torch_load(filename, map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise UntrustedCheckpointError(
            f'{filename} holds pickled objects that a safe load refuses (loading them can run '
            f'code). If you trust where the file comes from, pass --trust-checkpoint (or '
            f'trust=True). Details: {str(error).splitlines()[0]}') from None


def check_checkpoint_file(filename):
    """Raise UserInputError unless ``filename`` exists and starts like a checkpoint (the zip
    format of torch.save or a pickle): a quick check before any work, nothing is loaded.
    Returns the path as a str."""
    filename = os.fspath(filename)
    if osp.isdir(filename):
        latest = find_latest_checkpoint(filename)
        hint = (f'the latest checkpoint there is {latest}' if latest else
                'it holds no iter_<N>.pth') + ' (sh test.sh RUN_DIR tests the latest of a run)'
        raise UserFileNotFoundError(f'checkpoint {filename} is a folder, not a .pth file: {hint}')
    if not osp.isfile(filename):
        raise UserFileNotFoundError(f'checkpoint {filename} not found ({CHECKPOINT_HINT})')
    if not _looks_like_checkpoint(filename):
        with open(filename, 'rb') as f:
            damaged_zip = f.read(2) == b'PK'
        raise UserInputError(
            f'{filename} is a damaged zip file (truncated, e.g. an incomplete copy?): copy the '
            'checkpoint again' if damaged_zip else
            f'{filename} is not a PyTorch checkpoint (neither the zip format of torch.save nor a '
            f'pickle): is it the right file?')
    return filename


def _torch_load(filename, map_location, weights_only):
    """torch.load; a file torch cannot read (another zip, a damaged archive or pickle) raises
    UserInputError naming it."""
    try:
        return torch.load(filename, map_location=map_location, weights_only=weights_only)
    except (RuntimeError, EOFError) as error:
        if isinstance(error, RuntimeError) and 'out of memory' in str(error):
            raise
        raise UserInputError(f'{filename} cannot be read as a PyTorch checkpoint (damaged or '
                             f'not written by torch.save?): {str(error).splitlines()[0]}') from None


def check_state_dict_fits(model, state_dict, filename):
    """Raise UserRuntimeError (a RuntimeError) naming the file and the missing / unexpected /
    mis-shaped keys, in one line, if the state dict does not fit ``model`` (tools/test.py, resume)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mis_shaped = [f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}'
                  for k, v in own.items()
                  if k in state_dict and hasattr(state_dict[k], 'shape')
                  and tuple(state_dict[k].shape) != tuple(v.shape)]
    if not (missing or unexpected or mis_shaped):
        return

    def listing(title, keys):
        shown = ', '.join(keys[:10]) + (f', ... ({len(keys)} in all)' if len(keys) > 10 else '')
        return f' {title}: {shown};' if keys else ''

    raise UserRuntimeError(
        f'checkpoint {filename} does not fit the {type(model).__name__} built from the config:'
        + listing('missing keys', missing) + listing('unexpected keys', unexpected)
        + listing('shape mismatches', mis_shaped)
        + ' is it the checkpoint of a run of this config?')


def save_checkpoint_file(checkpoint, filepath):
    """Write ``checkpoint`` to ``filepath`` atomically: a temporary file in the same folder is
    written, flushed and fsync'ed, then renamed over ``filepath`` (os.replace). A crash leaves
    either the old file or the new one, never a torn one."""
    out_dir = osp.dirname(osp.abspath(filepath))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp',
                                    dir=out_dir)
    try:
        # mkstemp creates the file private (0600); a checkpoint gets the mode an open() of the
        # logs gets, so that lab-mates who can read the logs can read the checkpoints too.
        os.chmod(tmp_path, file_mode())
        with os.fdopen(fd, 'wb') as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    _fsync_dir(out_dir)


def file_mode():
    """The mode ``open(path, 'w')`` gives a new file: 0o666 less the process's umask."""
    try:  # Linux: read the umask without changing it (other threads may create files)
        with open('/proc/self/status') as f:
            umask = next(int(line.split()[1], 8) for line in f if line.startswith('Umask:'))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0)  # elsewhere reading it means setting it
        os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def update_latest_link(out_dir, filename, link_name='latest.pth'):
    """Point ``<out_dir>/latest.pth`` at ``filename`` (a relative symlink, or a copy where links
    are not supported), replacing the old one atomically."""
    dst = osp.join(out_dir, link_name)
    tmp = osp.join(out_dir, f'.{link_name}.{os.getpid()}.tmp')
    if osp.lexists(tmp):
        os.remove(tmp)
    try:
        os.symlink(filename, tmp)
    except (OSError, NotImplementedError):
        shutil.copyfile(osp.join(out_dir, filename), tmp)
    os.replace(tmp, dst)


def find_latest_checkpoint(work_dir, skipped=None):
    """The ``iter_<N>.pth`` of ``work_dir`` with the largest N that is a complete zip file, or
    None. (Files being written have temporary names and are never candidates.) The newer files
    passed over are appended to the list ``skipped`` as (path, reason), for a warning."""
    if not osp.isdir(work_dir):
        return None
    found = []
    for name in os.listdir(work_dir):
        match = re.fullmatch(r'iter_(\d+)\.pth', name)
        if match:
            found.append((int(match.group(1)), osp.join(work_dir, name)))
    for _, path in sorted(found, reverse=True):
        if zipfile.is_zipfile(path):
            return path
        if skipped is not None:
            skipped.append((path, f'not a complete checkpoint ({os.path.getsize(path)} bytes, '
                                  f'not a whole zip file: truncated or damaged)'))
    return None


def get_rng_state():
    """The states of Python's, NumPy's and torch's (CPU and CUDA) global generators as plain
    types and tensors (a weights_only load reads them back)."""
    bit_generator, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    python_version, python_state, python_gauss = random.getstate()
    state = dict(
        python=[python_version, list(python_state), python_gauss],
        numpy=[bit_generator, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
               float(cached_gaussian)],
        torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    """Restore the generators from a ``get_rng_state()`` dict."""
    version, python_state, gauss = state['python']
    random.setstate((version, tuple(python_state), gauss))
    bit_generator, keys, pos, has_gauss, cached_gaussian = state['numpy']
    np.random.set_state((bit_generator, keys.numpy().astype(np.uint32), pos, has_gauss,
                         cached_gaussian))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


@contextlib.contextmanager
def rng_state_preserved():
    """Run the ``with`` body with the global generators (Python, NumPy, torch CPU and CUDA)
    saved before and restored after, also when the body raises: what it draws (an evaluation's
    data loader, test-time augmentation) leaves no trace in the training's random stream."""
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)

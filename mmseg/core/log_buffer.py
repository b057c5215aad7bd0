"""A log buffer that takes the losses as tensors and reads them at log time (docs/performance.md,
"Host syncs").

The UDA methods return their log variables as 0-d tensors on the training device; reading each
one with ``.item()`` in every iteration would wait for the GPU a dozen times per step. mmcv's
``LogBuffer`` averages Python numbers, so this buffer keeps the tensors until ``average`` (the
logger hooks' interval) and then copies all of them to the host in one transfer. The printed
and JSON-logged numbers are the same as with ``.item()`` per iteration: a float32 value becomes
the same Python float either way, and the averaging is mmcv's.
"""
import torch
from mmcv.runner import LogBuffer

__all__ = ['TensorLogBuffer', 'tensors_to_floats']

# Pending tensors read in one transfer at the latest after this many updates, so that a run whose
# logger never averages (no log_config hook) does not hold every iteration's tensors.
MAX_PENDING_UPDATES = 1000


def tensors_to_floats(values):
    """The list ``values`` with every tensor replaced by its Python float (a 1-element tensor)
    or list of floats, in one device-to-host copy; other entries are returned as they are."""
    positions = [i for i, value in enumerate(values) if torch.is_tensor(value)]
    if not positions:
        return list(values)
    tensors = [values[i].detach() for i in positions]
    # float64 holds every float32 / bfloat16 / float16 / int32 value exactly: the floats are
    # those that .item() of each tensor gives.
    flat = torch.cat([t.reshape(-1).to(torch.float64) for t in tensors]).cpu().tolist()
    out, start = list(values), 0
    for i, tensor in zip(positions, tensors):
        size = tensor.numel()
        out[i] = flat[start] if tensor.dim() == 0 or size == 1 else flat[start:start + size]
        start += size
    return out


class TensorLogBuffer(LogBuffer):
    """mmcv's ``LogBuffer`` whose values may be tensors (any device): they are detached when
    added and turned into Python floats, all in one copy, when ``average`` is called."""

    def __init__(self):
        super().__init__()
        self._first_pending = {}  # key: index of its first tensor not yet read
        self._pending_updates = 0

    def update(self, vars, count=1):
        if not isinstance(vars, dict):
            raise TypeError(f'log variables must be a dict, got {type(vars).__name__}')
        vars = {k: v.detach() if torch.is_tensor(v) else v for k, v in vars.items()}
        super().update(vars, count)
        tensor_keys = [k for k, v in vars.items() if torch.is_tensor(v)]
        for key in tensor_keys:
            self._first_pending.setdefault(key, len(self.val_history[key]) - 1)
        if tensor_keys:
            self._pending_updates += 1
            if self._pending_updates >= MAX_PENDING_UPDATES:
                self.to_floats()

    def to_floats(self):
        """Replace the tensors of the history by their floats (one device-to-host copy)."""
        if not self._first_pending:
            return
        keys = list(self._first_pending)
        pending = [self.val_history[k][self._first_pending[k]:] for k in keys]
        flat = tensors_to_floats([v for values in pending for v in values])
        start = 0
        for key, values in zip(keys, pending):
            self.val_history[key][self._first_pending[key]:] = flat[start:start + len(values)]
            start += len(values)
        self._first_pending = {}
        self._pending_updates = 0

    def average(self, n=0):
        self.to_floats()
        super().average(n)

    def clear(self):
        super().clear()
        self._first_pending = {}
        self._pending_updates = 0

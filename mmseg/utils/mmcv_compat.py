"""Compatibility of mmcv 1.7 (the pure-Python 1.x line) with current PyTorch.

mmcv 1.7's ``Scatter`` (behind ``MMDataParallel`` and ``MMDistributedDataParallel`` on a GPU)
hands GPU ids as ints to ``torch.nn.parallel._functions._get_stream``, which since PyTorch 2.x
expects a ``torch.device`` and fails with "AttributeError: 'int' object has no attribute 'type'"
(open-mmlab/mmdetection#10720) before the first training iteration on CUDA.
"""
import functools

import torch

__all__ = ['patch_mmcv_scatter']


def patch_mmcv_scatter():
    """Make mmcv's Scatter pass ``torch.device('cuda', i)`` instead of ``i``. Idempotent."""
    from mmcv.parallel import _functions
    get_stream = _functions._get_stream
    if getattr(get_stream, 'takes_gpu_ids', False):
        return

    @functools.wraps(get_stream)
    def get_stream_of_gpu_id(device):
        if isinstance(device, int):
            device = torch.device('cuda', device) if device >= 0 else torch.device('cpu')
        return get_stream(device)

    get_stream_of_gpu_id.takes_gpu_ids = True
    _functions._get_stream = get_stream_of_gpu_id

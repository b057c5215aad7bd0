"""mmcv 1.7's Scatter with PyTorch 2: GPU ids given as ints reach _get_stream as devices."""
import torch
from mmcv.parallel import _functions

import mmseg  # noqa: F401  (applies the patch)
from mmseg.utils.mmcv_compat import patch_mmcv_scatter


def test_get_stream_takes_gpu_ids_as_mmcv_passes_them(monkeypatch):
    seen = []
    original = _functions._get_stream.__wrapped__
    monkeypatch.setattr(_functions, '_get_stream', lambda device: seen.append(device) or 'stream')
    patch_mmcv_scatter()  # wraps the stand-in as it wraps torch's function
    assert _functions._get_stream(1) == 'stream'
    assert _functions._get_stream(-1) == 'stream'
    assert _functions._get_stream(torch.device('cuda', 0)) == 'stream'
    assert seen == [torch.device('cuda', 1), torch.device('cpu'), torch.device('cuda', 0)]
    assert original is torch.nn.parallel._functions._get_stream


def test_patch_is_applied_once_and_scatter_of_an_int_id_no_longer_fails():
    patched = _functions._get_stream
    patch_mmcv_scatter()
    assert _functions._get_stream is patched and patched.takes_gpu_ids
    if not torch.cuda.is_available():
        # torch's own function, given an int, fails on the attribute lookup; the patch does not.
        assert _functions._get_stream(0) is None

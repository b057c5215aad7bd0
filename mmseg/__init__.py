"""mic-seg: domain-adaptive semantic segmentation (MIC, HRDA, DAFormer) on mmcv 1.x."""
import logging
import warnings

# mmcv 1.7 announces its 2.0 rename on every import; mic-seg stays on the 1.x line on purpose.
warnings.filterwarnings('ignore', message='On January 1, 2023, MMCV will release v2.0.0')
# mmcv imports torch's C++-extension helper, which warns on machines without a CUDA toolkit; MIC
# compiles nothing.
logging.getLogger('torch.utils.cpp_extension').setLevel(logging.ERROR)

from .version import __version__  # noqa: E402
from .utils.mmcv_compat import patch_mmcv_scatter  # noqa: E402

# mmcv 1.7's GPU scatter predates PyTorch 2's stream API (see mmseg/utils/mmcv_compat.py).
patch_mmcv_scatter()

__all__ = ['__version__']

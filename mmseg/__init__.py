"""mic-seg: domain-adaptive semantic segmentation (MIC, HRDA, DAFormer) on mmcv 1.x."""
import warnings

# mmcv 1.7 announces its 2.0 rename on every import; mic-seg stays on the 1.x line on purpose.
warnings.filterwarnings('ignore', message='On January 1, 2023, MMCV will release v2.0.0')

from .version import __version__  # noqa: E402

__all__ = ['__version__']

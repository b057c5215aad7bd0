"""mic-seg: domain-adaptive semantic segmentation (MIC, HRDA, DAFormer) on mmcv 1.x."""
from .version import __version__

__all__ = ['__version__']

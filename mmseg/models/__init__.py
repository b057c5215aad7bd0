"""Importing this package fills the model registries."""
from .builder import (BACKBONES, HEADS, LOSSES, MODELS, NECKS, SEGMENTORS, UDA,  # noqa: F401
                      build_backbone, build_head, build_loss, build_neck, build_segmentor,
                      build_train_model)
from .backbones import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
from .uda import *  # noqa: F401,F403

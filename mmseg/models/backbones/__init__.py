from .mix_transformer import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .timm_backbone import *  # noqa: F401,F403

from .ema import *  # noqa: F401,F403
from .dacs_transforms import *  # noqa: F401,F403
from .masking_transforms import *  # noqa: F401,F403
from .visualization import *  # noqa: F401,F403
from .feature_distance import *  # noqa: F401,F403
from .sliding_window import *  # noqa: F401,F403
from .mixed_precision import *  # noqa: F401,F403
from .channel_check import *  # noqa: F401,F403

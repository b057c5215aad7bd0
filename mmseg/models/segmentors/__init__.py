from .base import *  # noqa: F401,F403
from .encoder_decoder import *  # noqa: F401,F403
from .hrda_encoder_decoder import *  # noqa: F401,F403

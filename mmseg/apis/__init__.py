from .train import *  # noqa: F401,F403
from .test import *  # noqa: F401,F403
from .inference import *  # noqa: F401,F403

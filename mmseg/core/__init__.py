from .evaluation import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .utils import add_prefix  # noqa: F401

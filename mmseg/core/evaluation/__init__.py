from .metrics import *  # noqa: F401,F403
from .eval_hooks import *  # noqa: F401,F403
from .class_names import *  # noqa: F401,F403

from .layer_decay_optimizer_constructor import *  # noqa: F401,F403

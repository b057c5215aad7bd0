from .multilevel_neck import *  # noqa: F401,F403

from .collect_env import collect_env
from .cpu_malloc import configure_cpu_malloc, setup_cpu_malloc
from .dist_utils import (CPUDistributedDataParallel, UDAGradientSync, broadcast_module_state,
                         default_backend, finish_dist, init_dist, rank_seed)
from .errors import EXIT_USER_ERROR, UserInputError, run_cli
from .logger import get_root_logger

__all__ = ['get_root_logger', 'collect_env', 'init_dist', 'finish_dist', 'default_backend',
           'rank_seed',
           'broadcast_module_state', 'UDAGradientSync', 'CPUDistributedDataParallel',
           'configure_cpu_malloc', 'setup_cpu_malloc', 'UserInputError', 'run_cli',
           'EXIT_USER_ERROR']

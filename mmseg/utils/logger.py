"""The package logger (mmcv's logger named 'mmseg')."""
import logging
import os.path as osp

from mmcv.runner import get_dist_info
from mmcv.utils import get_logger

LOG_FORMAT = '%(asctime)s - %(name)s - %(levelname)s - %(message)s'


def get_root_logger(log_file=None, log_level=logging.INFO):
    """mmcv's 'mmseg' logger, writing to ``log_file`` (rank 0) from now on.

    mmcv sets a logger up once per process, so a second run in the same process (several runs of
    ``run_experiments.py --exp``, or the Python API) would keep writing into the first run's
    file, or into none; here a new ``log_file`` replaces the previous file handler.
    """
    logger = get_logger(name='mmseg', log_file=log_file, log_level=log_level)
    if log_file is None or get_dist_info()[0] != 0:
        return logger
    files = [h for h in logger.handlers if isinstance(h, logging.FileHandler)]
    if any(h.baseFilename == osp.abspath(log_file) for h in files):
        return logger
    for handler in files:
        logger.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(log_file, 'w')
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(log_level)
    logger.addHandler(handler)
    return logger

"""The package logger (mmcv's logger named 'mmseg')."""
import logging

from mmcv.utils import get_logger


def get_root_logger(log_file=None, log_level=logging.INFO):
    return get_logger(name='mmseg', log_file=log_file, log_level=log_level)

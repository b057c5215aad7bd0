"""TensorBoard logging of a run: mmcv's scalars plus the UDA methods' debug figures."""
import glob
import os.path as osp
import re

import mmcv
from mmcv.runner import HOOKS, TensorboardLoggerHook
from mmcv.runner.dist_utils import master_only

__all__ = ['UDATensorboardLoggerHook']

# Debug figures are written as <work_dir>/debug/<iteration:06d>_<batch index>.png
# (see UDADecorator.save_debug_images).
DEBUG_NAME = re.compile(r'^(\d+)_(\d+)\.png$')


@HOOKS.register_module()
class UDATensorboardLoggerHook(TensorboardLoggerHook):
    """mmcv's ``TensorboardLoggerHook`` (losses, learning rate, validation metrics as scalars,
    event files in ``<work_dir>/tf_logs``) that also adds each new debug figure of
    ``<work_dir>/debug`` as an image summary ``debug/<batch index>`` at its iteration.

    View with ``tensorboard --logdir work_dirs``. Runs on rank 0 only.
    """

    def __init__(self, debug_dir=None, **kwargs):
        kwargs.setdefault('by_epoch', False)
        super().__init__(**kwargs)
        self.debug_dir = debug_dir
        self._logged_figures = set()

    @master_only
    def before_run(self, runner):
        super().before_run(runner)
        if self.debug_dir is None:
            self.debug_dir = osp.join(runner.work_dir, 'debug')

    @master_only
    def log(self, runner):
        super().log(runner)
        self.add_new_debug_figures()

    @master_only
    def after_run(self, runner):
        self.add_new_debug_figures()
        super().after_run(runner)

    def add_new_debug_figures(self):
        """Add the debug PNGs not logged before, in file-name (= iteration) order."""
        for path in sorted(glob.glob(osp.join(self.debug_dir, '*.png'))):
            name = osp.basename(path)
            match = DEBUG_NAME.match(name)
            if match is None or name in self._logged_figures:
                continue
            img = mmcv.imread(path, channel_order='rgb')
            if img is None:  # a figure still being written; the next log adds it
                continue
            self.writer.add_image(f'debug/{int(match.group(2))}', img, int(match.group(1)),
                                  dataformats='HWC')
            self._logged_figures.add(name)

"""Foggy Zurich (docs/dataset_prepare.md, Foggy Zurich): ``RGB/<sequence>/<id>.png`` (3808
images), train-ID labels ``gt_labelTrainIds/<sequence>/<id>.png`` for the 40 images of the
``testv2`` list ``lists_file_names/RGB_testv2_filenames.txt``."""
import os.path as osp

import mmcv
from mmcv.utils import print_log

from mmseg.utils.errors import UserInputError
from .builder import DATASETS
from .cityscapes import CityscapesDataset

__all__ = ['FoggyZurichDataset']


@DATASETS.register_module()
class FoggyZurichDataset(CityscapesDataset):
    """Foggy Zurich with the Cityscapes classes; labels are train IDs already (no converter).

    ``split`` is one of the released lists (lines ``RGB/<sequence>/<id>.png``; names relative
    to img_dir without suffix are accepted too). Defaults: Foggy Zurich-test v2 (40 images);
    the unlabelled ``light``/``medium`` lists with ``ann_dir=None`` give a UDA target.
    """

    DATASET_NAME = 'Foggy Zurich'
    CONVERTER = None

    def __init__(self, img_dir='RGB', ann_dir='gt_labelTrainIds', img_suffix='.png',
                 seg_map_suffix='.png', split='lists_file_names/RGB_testv2_filenames.txt',
                 **kwargs):
        super().__init__(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, split=split, **kwargs)

    def load_annotations(self, img_dir, img_suffix, ann_dir, seg_map_suffix, split):
        """As CustomDataset's, with the list lines ``RGB/<sequence>/<id>.png`` read as
        ``<sequence>/<id>`` (the released lists name the files from the dataset root)."""
        if split is None:
            return super().load_annotations(img_dir, img_suffix, ann_dir, seg_map_suffix, split)
        self._check_exists(img_dir)
        if ann_dir is not None:
            self._check_exists(ann_dir)
        self._check_exists(split, is_file=True)
        prefix = osp.basename(osp.normpath(img_dir)) + '/'
        img_infos = []
        for line in mmcv.list_from_file(split):
            name = line.strip().split(' ')[0] if line.strip() else ''
            if not name:
                continue
            name = name[len(prefix):] if name.startswith(prefix) else name
            stem = name[:-len(img_suffix)] if name.endswith(img_suffix) else name
            info = dict(filename=stem + img_suffix)
            if ann_dir is not None:
                info['ann'] = dict(seg_map=stem + seg_map_suffix)
            img_infos.append(info)
        if not img_infos:
            raise UserInputError(f'split list {osp.abspath(split)} names no image')
        print_log(f'Loaded {len(img_infos)} images from {img_dir} (list {split})',
                  logger='mmseg')
        return img_infos

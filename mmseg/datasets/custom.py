"""CustomDataset: image/label folders (or a split file), the pipeline, evaluation and PNG export."""
import logging
import os
import os.path as osp
import warnings
from collections import OrderedDict

import mmcv
import numpy as np
from mmcv.utils import print_log
from PIL import Image
from prettytable import PrettyTable
from torch.utils.data import Dataset

from mmseg.core.evaluation.metrics import (SUPPORTED_METRICS, intersect_and_union,
                                           total_area_to_metrics)
from mmseg.utils.errors import UserFileNotFoundError, UserInputError, UserTypeError
from .builder import DATASETS
from .integrity import check_files, suffix_hint
from .pipelines import Compose
from .pipelines.loading import apply_label_map, load_label_map, reduce_zero

__all__ = ['CustomDataset']


@DATASETS.register_module()
class CustomDataset(Dataset):
    """Images under ``img_dir`` (found recursively by ``img_suffix``, sorted, or listed without
    suffix in ``split``) with labels ``<same relative name><seg_map_suffix>`` under ``ann_dir``.

    Relative img_dir/ann_dir/split are joined to data_root. Items are pipeline outputs.
    """

    CLASSES = None
    PALETTE = None
    DATASET_NAME = 'the dataset'
    CONVERTER = None  # tools/convert_datasets/<name>.py that prepares the labels, if any

    def __init__(self, pipeline, img_dir, img_suffix='.jpg', ann_dir=None, seg_map_suffix='.png',
                 split=None, data_root=None, test_mode=False, ignore_index=255,
                 reduce_zero_label=False, classes=None, palette=None, class_subsets=None):
        self.pipeline = Compose(pipeline)
        # name -> class indices: evaluate() also reports the mean IoU over each subset, e.g. the
        # mIoU16 of Synthia->Cityscapes runs whose val set is Cityscapes.
        self.class_subsets = dict(class_subsets or {})
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.data_root = data_root
        self.test_mode = test_mode
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.label_map = None
        self.CLASSES, self.PALETTE = self.get_classes_and_palette(classes, palette)
        self.img_dir = self._join_root(img_dir)
        self.ann_dir = self._join_root(ann_dir)
        self.split = self._join_root(split)
        # The folder checks are part of the default load_annotations (mmseg 0.x): a subclass
        # that reads a list file or an archive overrides it.
        self.img_infos = self.load_annotations(self.img_dir, self.img_suffix, self.ann_dir,
                                               self.seg_map_suffix, self.split)
        self.label_value_counts = None  # {label value: pixels} of the val/test labels
        self.check_files()

    # ----------------------------------------------------------------------------- files
    def _join_root(self, path):
        if path is None or self.data_root is None or osp.isabs(path):
            return path
        return osp.join(self.data_root, path)

    def _missing_message(self, path):
        how = f'download {self.DATASET_NAME}'
        if self.CONVERTER is not None:
            how += f' and run {self.CONVERTER}'
        return f'{osp.abspath(path)} not found: {how} (see docs/dataset_prepare.md)'

    def _check_exists(self, path, is_file=False):
        if not (osp.isfile(path) if is_file else osp.isdir(path)):
            raise UserFileNotFoundError(self._missing_message(path))

    def load_annotations(self, img_dir, img_suffix, ann_dir, seg_map_suffix, split):
        """List of dict(filename=<relative to img_dir>, ann=dict(seg_map=<relative to ann_dir>)).

        Raises FileNotFoundError naming img_dir / ann_dir / split when absent.
        """
        self._check_exists(img_dir)
        if ann_dir is not None:
            self._check_exists(ann_dir)
        if split is not None:
            self._check_exists(split, is_file=True)
            names = [line.strip() for line in mmcv.list_from_file(split) if line.strip()]
            names = [(n + img_suffix, n) for n in names]
        else:
            files = sorted(mmcv.scandir(img_dir, img_suffix, recursive=True))
            if not files:
                hint = suffix_hint(img_dir, img_suffix, 'img_suffix')
                if hint is not None:  # a folder of images with another suffix
                    raise UserInputError(f'no *{img_suffix} images under '
                                         f'{osp.abspath(img_dir)}: {hint}')
                raise UserFileNotFoundError(
                    f'no *{img_suffix} images under {osp.abspath(img_dir)}: '
                    + self._missing_message(img_dir).split(': ', 1)[1])
            names = [(f, f[:-len(img_suffix)]) for f in files]
        img_infos = []
        for filename, stem in names:
            info = dict(filename=filename)
            if ann_dir is not None:
                info['ann'] = dict(seg_map=stem + seg_map_suffix)
            img_infos.append(info)
        print_log(f'Loaded {len(img_infos)} images from {img_dir}', logger='mmseg')
        return img_infos

    # ----------------------------------------------------------------------------- classes
    def get_classes_and_palette(self, classes=None, palette=None):
        """Class names and palette; a subset of CLASSES sets label_map (removed → ignore).

        As in mmseg 0.x the names keep their type: a list stays a list, a tuple a tuple, a file
        of names gives a list. Raises UserTypeError for another type of ``classes``,
        UserInputError for names that are not in CLASSES.
        """
        if classes is None:
            return self.CLASSES, palette if palette is not None else self.PALETTE
        if isinstance(classes, str):
            names = mmcv.list_from_file(classes)
        elif isinstance(classes, (list, tuple)):
            names = classes
        else:
            raise UserTypeError(f'classes must be a list or tuple of names or a file of names, '
                                f'got {type(classes).__name__}')
        if self.CLASSES is not None and tuple(names) != tuple(self.CLASSES):
            unknown = [c for c in names if c not in self.CLASSES]
            if unknown:
                raise UserInputError(f'classes {unknown} are not classes of '
                                     f'{type(self).__name__} ({list(self.CLASSES)})')
            self.label_map = {old: (names.index(c) if c in names else self.ignore_index)
                              for old, c in enumerate(self.CLASSES)}
        if palette is None:
            if self.PALETTE is not None and self.CLASSES is not None:
                palette = [self.PALETTE[list(self.CLASSES).index(c)] for c in names]
            else:
                palette = np.random.RandomState(42).randint(0, 255, size=(len(names), 3)).tolist()
        return names, palette

    # ----------------------------------------------------------------------------- items
    def __len__(self):
        return len(self.img_infos)

    def get_ann_info(self, idx):
        return self.img_infos[idx]['ann']

    def pre_pipeline(self, results):
        """Prefixes and the (empty) list of segmentation fields the transforms must follow."""
        results['img_prefix'] = self.img_dir
        results['seg_prefix'] = self.ann_dir
        results['seg_fields'] = []
        if self.label_map:
            results['label_map'] = self.label_map

    def prepare_train_img(self, idx):
        """A training sample. Without ann_dir (an unlabelled UDA target such as Dark Zurich's
        train split) there is no ann_info, and the pipeline must not load annotations."""
        info = self.img_infos[idx]
        results = dict(img_info=info)
        if 'ann' in info:
            results['ann_info'] = self.get_ann_info(idx)
        self.pre_pipeline(results)
        out = self.pipeline(results)
        if 'ann' in info and out is not None and 'gt_semantic_seg' in out:
            self.check_label_values(out['gt_semantic_seg'], idx)
        return out

    def prepare_test_img(self, idx):
        results = dict(img_info=self.img_infos[idx])
        self.pre_pipeline(results)
        return self.pipeline(results)

    def __getitem__(self, idx):
        return self.prepare_test_img(idx) if self.test_mode else self.prepare_train_img(idx)

    def label_path(self, idx):
        return osp.join(self.ann_dir, self.get_ann_info(idx)['seg_map'])

    def check_label_values(self, label, idx):
        """Raise ValueError naming the label file of ``idx`` when ``label`` (array, tensor or
        DataContainer) holds values outside [0, num_classes) other than ignore_index."""
        if self.CLASSES is None:
            return
        label = getattr(label, 'data', label)
        label = label.numpy() if hasattr(label, 'numpy') else np.asarray(label)
        num_classes = len(self.CLASSES)
        if label.size == 0 or (label.min() >= 0 and label.max() < num_classes):
            return
        values = np.unique(label)
        bad = values[((values < 0) | (values >= num_classes)) & (values != self.ignore_index)]
        if bad.size:
            hint = ('reduce_zero_label is set on the dataset but the pipeline\'s '
                    'LoadAnnotations does not reduce: set reduce_zero_label=True there too'
                    if self.reduce_zero_label and int(bad.min()) == num_classes else
                    'labels not converted to train IDs (run tools/convert_datasets), a wrong '
                    'reduce_zero_label, or classes/num_classes not matching the labels')
            raise ValueError(f'label file {self.label_path(idx)} holds values '
                             f'{bad[:10].tolist()} outside [0, {num_classes}) and not the ignore '
                             f'index {self.ignore_index} (num_classes = {num_classes}); likely '
                             f'cause: {hint}')

    def check_files(self):
        """Check every file when the dataset is built (docs/CHECKS.md): val/test sets
        (test_mode) verify the images and decode every label (sizes and values); training sets
        read the headers only and warn about image/label size mismatches.

        Sets ``label_value_counts`` ({value: pixels} of the decoded labels). Raises
        UserInputError naming the bad files.
        """
        if not osp.isdir(self.img_dir):
            return  # a load_annotations override reads the items from elsewhere (an archive)
        img_files = [osp.join(self.img_dir, info['filename']) for info in self.img_infos]
        labelled = self.ann_dir is not None and all('ann' in info for info in self.img_infos)
        label_files = [self.label_path(i) for i in range(len(self))] if labelled else None
        hints = [suffix_hint(self.img_dir, self.img_suffix, 'img_suffix')]
        if labelled and self.CONVERTER is not None and 'labelTrainIds' in self.seg_map_suffix:
            # The converter writes these labels: missing ones are most likely not converted.
            hints.append(f'labels *{self.seg_map_suffix} are written by python '
                         f'{self.CONVERTER} {self.data_root or "DATA_ROOT"}: run it first')
        elif labelled:
            hints.append(suffix_hint(self.ann_dir, self.seg_map_suffix, 'seg_map_suffix'))
        result = check_files(
            img_files, label_files, decode_labels=self.test_mode,
            num_classes=None if self.CLASSES is None else len(self.CLASSES),
            ignore_index=self.ignore_index, label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label, what=f'{type(self).__name__} '
            f'({self.img_dir})', hint='; '.join(h for h in hints if h) or None)
        if labelled and self.test_mode:
            self.label_value_counts = dict(result.value_counts)
        if result.size_mismatches and not self.test_mode:
            print_log(f'{len(result.size_mismatches)} training image(s) of {self.img_dir} have '
                      f'a label of another size, e.g. {result.size_mismatches[0]}: the '
                      'pipeline resizes both to one scale but a crop will not be aligned',
                      logger='mmseg', level=logging.WARNING)

    def get_gt_seg_maps(self, efficient_test=False):
        """The label maps of all images in dataset order, as stored (mmseg 0.x): no label_map
        or reduce_zero_label applied (mmseg's eval_metrics takes those as arguments). With
        ``efficient_test`` the file paths instead of the arrays."""
        self._check_has_labels()
        return [self.label_path(idx) if efficient_test else load_label_map(self.label_path(idx))
                for idx in range(len(self))]

    def get_gt_seg_map_by_idx(self, idx):
        """The label map of image idx as evaluated (label_map and reduce_zero_label applied)."""
        self._check_has_labels()
        label = load_label_map(self.label_path(idx))
        label = apply_label_map(label, self.label_map)
        label = reduce_zero(label) if self.reduce_zero_label else label
        self.check_label_values(label, idx)
        return label

    def _check_has_labels(self):
        if self.ann_dir is None:
            raise UserInputError(
                f'{type(self).__name__} of {self.img_dir} has no ann_dir: no labels to evaluate '
                'against; give ann_dir, or write the predictions with format_results '
                '(tools/test.py --format-only)')

    # ----------------------------------------------------------------------------- evaluation
    def evaluate(self, results, metric='mIoU', logger=None, class_subsets=None, nan_to_num=None,
                 beta=1, **kwargs):
        """Evaluate predictions (H×W arrays or .npy paths, in dataset order), one image at a time.

        Prints a per-class and a summary table; returns a flat dict of fractions: aAcc, mIoU,
        mAcc, ... and '<Metric>.<class>'. class_subsets (name → class indices) adds the mean
        IoU over each subset under that name (e.g. mIoU16). Other kwargs (efficient_test) are
        accepted for mmseg compatibility and unused.
        """
        self._check_has_labels()
        metrics = [metric] if isinstance(metric, str) else list(metric)
        unknown = [m for m in metrics if m not in SUPPORTED_METRICS]
        if unknown:
            raise KeyError(f'metric {unknown} is not supported; expected some of '
                           f'{SUPPORTED_METRICS}')
        if len(results) != len(self):
            raise ValueError(f'{len(results)} results for {len(self)} images of '
                             f'{type(self).__name__}')
        num_classes = len(self.CLASSES)
        totals = [np.zeros(num_classes) for _ in range(4)]
        for idx, pred in enumerate(results):
            gt = self.get_gt_seg_map_by_idx(idx)
            pred = np.load(pred) if isinstance(pred, str) else np.asarray(pred)
            if pred.shape != gt.shape:
                raise ValueError(f'the prediction of {self.img_infos[idx]["filename"]} is '
                                 f'{pred.shape} but its label {self.label_path(idx)} is '
                                 f'{gt.shape}')
            areas = intersect_and_union(pred, gt, num_classes, self.ignore_index)
            for total, area in zip(totals, areas):
                total += area
        ret = total_area_to_metrics(*totals, metrics=metrics, nan_to_num=nan_to_num, beta=beta)
        return self._summarise(ret, logger, {**self.class_subsets, **(class_subsets or {})})

    def _summarise(self, ret_metrics, logger, class_subsets):
        """Log the tables and flatten ret_metrics to fractions rounded like the printed %."""
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', category=RuntimeWarning)  # all-NaN means
            summary = OrderedDict(
                (('aAcc' if key == 'aAcc' else 'm' + key), np.round(np.nanmean(value) * 100, 2))
                for key, value in ret_metrics.items())
            if 'IoU' in ret_metrics:
                for name, indices in class_subsets.items():
                    summary[name] = np.round(np.nanmean(ret_metrics['IoU'][list(indices)]) * 100, 2)
        per_class = OrderedDict((key, np.round(value * 100, 2))
                                for key, value in ret_metrics.items() if key != 'aAcc')
        class_table = PrettyTable()
        class_table.add_column('Class', list(self.CLASSES))
        for key, values in per_class.items():
            class_table.add_column(key, list(values))
        summary_table = PrettyTable()
        for key, value in summary.items():
            summary_table.add_column(key, [value])
        print_log('per class results:', logger)
        print_log('\n' + class_table.get_string(), logger=logger)
        print_log('Summary:', logger)
        print_log('\n' + summary_table.get_string(), logger=logger)
        eval_results = {key: float(value) / 100.0 for key, value in summary.items()}
        for key, values in per_class.items():
            for name, value in zip(self.CLASSES, values):
                eval_results[f'{key}.{name}'] = float(value) / 100.0
        return eval_results

    # ----------------------------------------------------------------------------- export
    def _prediction_png(self, result):
        """The PNG (mode P with the dataset palette) of one train-ID prediction."""
        png = Image.fromarray(result.astype(np.uint8)).convert('P')
        palette = np.zeros((256, 3), dtype=np.uint8)
        palette[:len(self.PALETTE)] = np.array(self.PALETTE, dtype=np.uint8)
        png.putpalette(palette.flatten().tolist())
        return png

    def format_results(self, results, imgfile_prefix, indices=None, **kwargs):
        """Write ``<imgfile_prefix>/<image basename without extension>.png`` per prediction
        (arrays or .npy paths; indices = their dataset indices, default 0..n-1). Returns the
        list of written files."""
        if indices is None:
            indices = list(range(len(results)))
        if len(indices) != len(results):
            raise ValueError(f'{len(results)} results but {len(indices)} indices')
        os.makedirs(imgfile_prefix, exist_ok=True)
        files = []
        for idx, result in zip(indices, results):
            if isinstance(result, str):
                result = np.load(result)
            png = self._prediction_png(np.asarray(result), **kwargs)
            basename = osp.splitext(osp.basename(self.img_infos[idx]['filename']))[0]
            path = osp.join(imgfile_prefix, f'{basename}.png')
            png.save(path)
            files.append(path)
        return files

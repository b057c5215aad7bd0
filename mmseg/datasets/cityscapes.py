"""Cityscapes (docs/REFERENCE.md §1): 19 classes, pseudo-label margins of the UDA target, label-ID export."""
import os.path as osp
import tempfile

import numpy as np
from PIL import Image

from mmseg.core.evaluation.class_names import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from mmseg.utils.errors import UserFileNotFoundError, UserInputError
from .builder import DATASETS
from .custom import CustomDataset

__all__ = ['CityscapesDataset', 'make_valid_pseudo_mask', 'CITYSCAPES_CLASSES',
           'CITYSCAPES_PALETTE']

def make_valid_pseudo_mask(shape, margins):
    """uint8 H×W mask: 1 everywhere except 0 in the [top, bottom, left, right] margins."""
    top, bottom, left, right = margins
    height, width = shape
    mask = np.ones((height, width), dtype=np.uint8)
    mask[:top, :] = 0
    mask[height - bottom:, :] = 0
    mask[:, :left] = 0
    mask[:, width - right:] = 0
    return mask


def _label_id_tables():
    """Train ID → label ID lookup (unknown train IDs → 0, 'unlabeled') and the label-ID palette."""
    from cityscapesscripts.helpers.labels import labels, trainId2label
    lookup = np.zeros(256, dtype=np.uint8)
    for train_id in range(len(CITYSCAPES_CLASSES)):
        lookup[train_id] = trainId2label[train_id].id
    palette = np.zeros((256, 3), dtype=np.uint8)
    for label in labels:
        if label.id >= 0:
            palette[label.id] = label.color
    return lookup, palette


@DATASETS.register_module()
class CityscapesDataset(CustomDataset):
    """Cityscapes in ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` and
    ``gtFine/<split>/<city>/*_gtFine_labelTrainIds.png``.

    crop_pseudo_margins=[top, bottom, left, right] adds a valid_pseudo_mask of the full frame
    (0 in the margins) to the segmentation fields before the pipeline (docs/REFERENCE.md §1).
    """

    CLASSES = CITYSCAPES_CLASSES
    PALETTE = CITYSCAPES_PALETTE
    DATASET_NAME = 'Cityscapes'
    CONVERTER = 'tools/convert_datasets/cityscapes.py'

    def __init__(self, img_suffix='_leftImg8bit.png', seg_map_suffix='_gtFine_labelTrainIds.png',
                 crop_pseudo_margins=None, **kwargs):
        if crop_pseudo_margins is not None:
            if len(crop_pseudo_margins) != 4 or any(int(m) != m or m < 0
                                                    for m in crop_pseudo_margins):
                raise UserInputError('crop_pseudo_margins must be 4 non-negative integers '
                                     f'[top, bottom, left, right], got {crop_pseudo_margins}')
        self.pseudo_margins = crop_pseudo_margins
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    def _frame_shape(self, results):
        """(h, w) of the full image, read from the file header only."""
        path = f"{results['img_prefix']}/{results['img_info']['filename']}"
        try:
            with Image.open(path) as img:
                width, height = img.size
        except FileNotFoundError as error:
            raise UserFileNotFoundError(f'image file not found: {path}') from error
        return height, width

    def pre_pipeline(self, results):
        super().pre_pipeline(results)
        if self.pseudo_margins is not None:
            # Pseudo-labels near the border suffer from rectification artefacts (e.g. sky
            # drifting to building), so the margins get zero pseudo-label weight (docs/REFERENCE.md §1).
            results['valid_pseudo_mask'] = make_valid_pseudo_mask(self._frame_shape(results),
                                                                  self.pseudo_margins)
            results['seg_fields'].append('valid_pseudo_mask')

    def _prediction_png(self, result, to_label_id=True):
        if not to_label_id:
            return super()._prediction_png(result)
        lookup, palette = _label_id_tables()
        png = Image.fromarray(lookup[result.astype(np.uint8)]).convert('P')
        png.putpalette(palette.flatten().tolist())
        return png

    def format_results(self, results, imgfile_prefix, to_label_id=True, indices=None):
        """One PNG per prediction named after the image; label IDs with the Cityscapes palette
        when to_label_id (for the Cityscapes server), else train IDs (ACDC/Dark Zurich)."""
        return super().format_results(results, imgfile_prefix, indices=indices,
                                      to_label_id=to_label_id)

    def label_id_files(self):
        """The ``*_gtFine_labelIds.png`` file of every image (what the official evaluator reads)."""
        self._check_has_labels()
        suffix = self.seg_map_suffix.replace('labelTrainIds', 'labelIds')
        return [osp.join(self.ann_dir, info['ann']['seg_map'][:-len(self.seg_map_suffix)] + suffix)
                for info in self.img_infos]

    def check_cityscapes_evaluation(self):
        """Raise before inference when ``--eval cityscapes`` cannot run: no labels, or the
        label-ID files of cityscapesscripts' evaluator are missing (names the first one)."""
        missing = [path for path in self.label_id_files() if not osp.isfile(path)]
        if missing:
            raise UserFileNotFoundError(
                f"metric 'cityscapes' needs the label-ID files *_gtFine_labelIds.png beside the "
                f'train-ID labels; {len(missing)} missing, e.g. {missing[0]}')

    def evaluate(self, results, metric='mIoU', logger=None, imgfile_prefix=None, **kwargs):
        """As CustomDataset.evaluate, plus metric ``'cityscapes'``: the official evaluator of
        cityscapesscripts on the predictions written as label-ID PNGs (into ``imgfile_prefix``,
        a temporary folder by default). Adds ``cityscapes/mIoU`` (class average IoU, fraction)
        and, where ``*_gtFine_instanceIds.png`` exist (and numpy still has ``in1d``),
        ``cityscapes/iIoU`` (instance-weighted)."""
        metrics = [metric] if isinstance(metric, str) else list(metric)
        eval_results = {}
        if 'cityscapes' in metrics:
            metrics.remove('cityscapes')
            eval_results.update(self._evaluate_cityscapes(results, logger, imgfile_prefix))
        if metrics:
            eval_results.update(super().evaluate(results, metrics, logger, **kwargs))
        return eval_results

    def _evaluate_cityscapes(self, results, logger, imgfile_prefix):
        import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as cs_eval
        from mmcv.utils import print_log
        self.check_cityscapes_evaluation()
        with tempfile.TemporaryDirectory() as tmp_dir:
            out_dir = imgfile_prefix or tmp_dir
            self.format_results(results, out_dir, to_label_id=True)
            gt_files = self.label_id_files()
            # The instance-weighted iIoU needs *_gtFine_instanceIds.png (real Cityscapes has
            # them; the toy data does not) and np.in1d, which numpy 2.4 removed; cityscapesscripts'
            # pixel accuracy needs np.in1d too and is not used.
            with_instances = hasattr(np, 'in1d') and all(osp.isfile(f.replace('_labelIds.png', '_instanceIds.png'))
                                 for f in gt_files)
            cs_eval.args.evalInstLevelScore = with_instances
            cs_eval.args.predictionPath = osp.abspath(out_dir)
            cs_eval.args.evalPixelAccuracy = False
            cs_eval.args.JSONOutput = False
            cs_eval.args.quiet = True
            pred_files = [cs_eval.getPrediction(cs_eval.args, gt) for gt in gt_files]
            print_log('Evaluating with cityscapesscripts (label IDs)', logger=logger)
            scores = cs_eval.evaluateImgLists(pred_files, gt_files, cs_eval.args)
        eval_results = {'cityscapes/mIoU': float(scores['averageScoreClasses'])}
        if with_instances:
            eval_results['cityscapes/iIoU'] = float(scores['averageScoreInstClasses'])
        return eval_results

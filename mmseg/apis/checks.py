"""One consistency check of a training config against its data, before anything is written
(docs/CHECKS.md): every class-indexed or ignore setting must fit the dataset's classes, and the
labels must hold classes or the ignore index.

Inconsistent settings raise one ``UserInputError`` naming both keys and their values;
suspicious ones come back as warning strings (tools/train.py logs them).
"""
import inspect
import os.path as osp
from collections import Counter, namedtuple

import mmcv

from mmseg.datasets import DATASETS, build_dataset
from mmseg.datasets.integrity import out_of_range_values, sample_label_counts
from mmseg.utils.errors import UserInputError
from .config_keys import check_section_keys, check_top_level_keys, check_uda_keys_early
from .config_values import check_config_values, check_mask_mode, check_save_best, check_val_labels

__all__ = ['DataSide', 'data_sides', 'decode_heads', 'check_num_classes', 'check_ignore_index',
           'check_class_ids', 'check_rcs_classes', 'check_label_values', 'check_consistency',
           'check_before_training', 'build_val_for_checks', 'IGNORE_COVERAGE_WARNING']

# A class no label contains while the ignore index covers more than this fraction of the
# pixels: binary masks stored as 0/255 (255 is the ignore value) look like this.
IGNORE_COVERAGE_WARNING = 0.3
LABEL_SAMPLE = 32  # training labels decoded for the value check (evenly spaced)

# key: 'data.train.source'; classes: tuple of names or None; dataset: built or None.
DataSide = namedtuple('DataSide', 'key cfg classes ignore_index dataset')


def _default(cls, name):
    return inspect.signature(cls.__init__).parameters[name].default


def _config_classes(data_cfg):
    """Class names of a dataset config: its ``classes`` (list or file), else the type's."""
    classes = data_cfg.get('classes')
    if isinstance(classes, str):
        return tuple(mmcv.list_from_file(classes)) if osp.isfile(classes) else None
    if classes is not None:
        return tuple(classes)
    dataset_type = DATASETS.get(data_cfg.get('type', ''))
    return None if getattr(dataset_type, 'CLASSES', None) is None else tuple(dataset_type.CLASSES)


def data_sides(key, data_cfg, dataset=None):
    """The plain datasets of a data config (UDA source/target, ConcatDataset parts) as
    DataSides; classes and ignore index from ``dataset`` when built, else from the config."""
    if data_cfg is None:
        return []
    if isinstance(data_cfg, (list, tuple)):
        parts = getattr(dataset, 'datasets', None) or [None] * len(data_cfg)
        return [side for i, (c, d) in enumerate(zip(data_cfg, parts))
                for side in data_sides(f'{key}[{i}]', c, d)]
    if data_cfg.get('type') == 'UDADataset':
        return (data_sides(f'{key}.source', data_cfg.get('source'),
                           getattr(dataset, 'source', None))
                + data_sides(f'{key}.target', data_cfg.get('target'),
                             getattr(dataset, 'target', None)))
    if dataset is not None:
        classes = None if dataset.CLASSES is None else tuple(dataset.CLASSES)
        return [DataSide(key, data_cfg, classes, dataset.ignore_index, dataset)]
    from mmseg.datasets import CustomDataset
    return [DataSide(key, data_cfg, _config_classes(data_cfg),
                     data_cfg.get('ignore_index', _default(CustomDataset, 'ignore_index')),
                     None)]


def decode_heads(model_cfg):
    """[(key, head config)]: model.decode_head and every model.auxiliary_head."""
    heads = []
    if model_cfg.get('decode_head'):
        heads.append(('model.decode_head', model_cfg['decode_head']))
    aux = model_cfg.get('auxiliary_head')
    if isinstance(aux, dict):
        heads.append(('model.auxiliary_head', aux))
    elif isinstance(aux, (list, tuple)):
        heads += [(f'model.auxiliary_head[{i}]', h) for i, h in enumerate(aux)]
    return heads


def _head_value(head, name):
    from mmseg.models.decode_heads.decode_head import BaseDecodeHead
    return head.get(name, _default(BaseDecodeHead, name))


def _classes_key(side):
    given = 'classes' in side.cfg and side.cfg.get('classes') is not None
    return f'{side.key}.classes' if given else f'the classes of {side.cfg.get("type")}'


def check_num_classes(cfg, sides):
    """Every head's num_classes == the number of classes of every dataset (train and val);
    the same classes in another order are an error (ids would be scored against other
    classes); warn when train and val name their classes differently."""
    sides = [s for s in sides if s.classes is not None]
    warnings = []
    for side in sides:
        for key, head in decode_heads(cfg.model):
            num_classes = _head_value(head, 'num_classes')
            if num_classes != len(side.classes):
                raise UserInputError(
                    f'{key}.num_classes = {num_classes} but {side.key} has {len(side.classes)} '
                    f'classes ({_classes_key(side)}: {list(side.classes)[:8]}'
                    f'{", ..." if len(side.classes) > 8 else ""}): set '
                    f'{key}.num_classes={len(side.classes)} (and of every other head)')
    for side in sides[1:]:
        if side.classes != sides[0].classes and sorted(side.classes) == sorted(sides[0].classes):
            raise UserInputError(
                f'{sides[0].key} and {side.key} list the same classes in another order: '
                f'{list(sides[0].classes)} vs {list(side.classes)}; class i of one is scored '
                f'as class i of the other, so the mIoU would be wrong: list them in one order')
        if side.classes != sides[0].classes:
            warnings.append(f'{sides[0].key} and {side.key} name their classes differently: '
                            f'{list(sides[0].classes)} vs {list(side.classes)}; the mIoU '
                            f'tables use the names of the evaluated set')
    return warnings


def _pad_steps(pipeline):
    return [t for t in pipeline or [] if isinstance(t, dict) and t.get('type') == 'Pad']


def check_ignore_index(cfg, sides):
    """The datasets' ignore_index == every head's ignore_index (what the loss ignores) and any
    loss's own ignore_index; training Pad.seg_pad_val == the ignore index."""
    from mmseg.datasets.pipelines.transforms import Pad
    for side in sides:
        for key, head in decode_heads(cfg.model):
            head_ignore = _head_value(head, 'ignore_index')
            if head_ignore != side.ignore_index:
                raise UserInputError(
                    f'{side.key}.ignore_index = {side.ignore_index} but {key}.ignore_index = '
                    f'{head_ignore} (the value the loss ignores): label {side.ignore_index} '
                    f'would be evaluated as ignored but trained as a class (or the other way '
                    f'round); set both to the same value')
            for i, loss in enumerate(_losses(head)):
                if 'ignore_index' in loss and loss['ignore_index'] != side.ignore_index:
                    raise UserInputError(
                        f'{key}.loss_decode{_index(head, i)}.ignore_index = '
                        f'{loss["ignore_index"]} but {side.key}.ignore_index = '
                        f'{side.ignore_index}: set both to the same value')
        for step in _pad_steps(side.cfg.get('pipeline')):
            pad_value = step.get('seg_pad_val', _default(Pad, 'seg_pad_val'))
            if pad_value != side.ignore_index:
                raise UserInputError(
                    f'{side.key}.pipeline Pad.seg_pad_val = {pad_value} but '
                    f'{side.key}.ignore_index = {side.ignore_index}: padded pixels would get '
                    f'label {pad_value}; set seg_pad_val={side.ignore_index}')


def _losses(head):
    loss = head.get('loss_decode')
    if loss is None:
        return []
    return list(loss) if isinstance(loss, (list, tuple)) else [loss]


def _index(head, i):
    return f'[{i}]' if isinstance(head.get('loss_decode'), (list, tuple)) else ''


def _outside(ids, num_classes):
    return sorted({int(c) for c in ids if not 0 <= int(c) < num_classes})


def check_class_ids(cfg, sides, num_classes):
    """Class-id settings within [0, num_classes): uda.imnet_feature_dist_classes, each loss's
    class_weight length, the datasets' class_subsets, and the classes of the rare-class
    sampling statistics (sample_class_stats.json) of a built UDADataset."""
    from mmseg.models.losses.utils import get_class_weight
    fdist = (cfg.get('uda') or {}).get('imnet_feature_dist_classes')
    if fdist is not None and _outside(fdist, num_classes):
        raise UserInputError(
            f'uda.imnet_feature_dist_classes = {list(fdist)} holds class ids '
            f'{_outside(fdist, num_classes)} outside [0, {num_classes}) ({sides[0].key} has '
            f'{num_classes} classes): the feature distance would be 0 all run; list ids of '
            f'your thing classes, or set it to None')
    for key, head in decode_heads(cfg.model):
        for i, loss in enumerate(_losses(head)):
            weight = loss.get('class_weight')
            weight = get_class_weight(weight) if weight is not None else None
            if weight is not None and len(weight) != num_classes:
                raise UserInputError(
                    f'{key}.loss_decode{_index(head, i)}.class_weight has {len(weight)} '
                    f'weights but {key}.num_classes = {num_classes}: give one weight per class')
    for side in sides:
        for name, ids in (side.cfg.get('class_subsets') or {}).items():
            if _outside(ids, num_classes):
                raise UserInputError(
                    f'{side.key}.class_subsets[{name!r}] holds class ids '
                    f'{_outside(ids, num_classes)} outside [0, {num_classes})')


def check_rcs_classes(cfg, train_dataset, num_classes):
    """The classes of the rare-class sampling statistics of a built UDADataset lie in
    [0, num_classes) (statistics of another dataset or label set otherwise)."""
    if not getattr(train_dataset, 'rcs_enabled', False):
        return
    outside = _outside(train_dataset.rcs_classes, num_classes)
    if outside:
        source = cfg.data.train.get('source', {})
        roots = [s.get('data_root') or '<data.train.source>' for s in
                 (source if isinstance(source, (list, tuple)) else [source])]
        raise UserInputError(
            f'{" or ".join(osp.join(r, "sample_class_stats.json") for r in roots)} '
            f'(data.train.rare_class_sampling) '
            f'counts class ids {outside} outside [0, {num_classes}) of data.train.source: '
            f'statistics of other labels; regenerate them with tools/convert_datasets '
            f'(see docs/dataset_prepare.md)')


def _is_uda_dataset(data_cfg):
    return isinstance(data_cfg, dict) and data_cfg.get('type') == 'UDADataset'


def _training_set_kind(train):
    """How data.train is named in check_source_only's error, or None when it has targets."""
    if isinstance(train, (list, tuple)):
        return 'a list of datasets'
    if not _is_uda_dataset(train):
        return f'a plain {train.get("type")}'
    return None if train.get('target') is not None else 'a UDADataset without a target'


def check_source_only(cfg):
    """A UDA method trained on a plain dataset (no target images) must be DACS with
    ``uda.source_only=True``, and a source-only run can only mask source images
    (docs/domains.md)."""
    from mmseg.models.uda.masking_consistency_module import SOURCE_MASK_MODES
    uda, train = cfg.get('uda'), cfg.data.get('train')
    if isinstance(uda, dict):
        check_mask_mode(uda)  # an unknown mode is named as such, source-only or not
    if not uda or uda.get('type') == 'UDADecorator' or train is None:
        return
    if uda.get('source_only') and uda.get('mask_mode') is not None and \
            uda['mask_mode'] not in SOURCE_MASK_MODES:
        raise UserInputError(
            f'uda.mask_mode = {uda["mask_mode"]!r} masks target images, but uda.source_only = '
            f'True trains without them: set uda.mask_mode to one of {list(SOURCE_MASK_MODES)} '
            f'(docs/domains.md)')
    kind = _training_set_kind(train)
    if kind is not None and not uda.get('source_only'):
        fix = ('set uda.source_only=True to train on the source alone (domain '
               'generalisation), or ' if uda.get('type') == 'DACS' else '')
        raise UserInputError(
            f'data.train ({kind}) has no target images, but uda ({uda.get("type")}) trains '
            f'on them (pseudo-labels, ClassMix): {fix}make data.train a UDADataset with a '
            f'target (docs/domains.md)')


def _labelled_training_sides(cfg, sides):
    """The training sides whose labels are trained on: a UDA run's source, else all."""
    if _is_uda_dataset(cfg.data.train):  # the source or each of several sources
        sides = [s for s in sides if s.key.startswith('data.train.source')]
    return [s for s in sides if s.dataset is not None and s.classes is not None
            and getattr(s.dataset, 'ann_dir', None) is not None]


def _side_value_counts(side, training, sample):
    """[(where, {value: pixels})]: all val/test labels in one, or a training sample per file."""
    dataset = side.dataset
    if not training:
        counts = getattr(dataset, 'label_value_counts', None)
        return [] if counts is None else [(f'the {len(dataset)} labels of {side.key}', counts)]
    files = [dataset.label_path(i) for i in range(len(dataset))
             if 'ann' in dataset.img_infos[i]]
    return [(f'label file {path}', counts) for path, counts in sample_label_counts(
        files, sample, dataset.label_map, dataset.reduce_zero_label, dataset.ignore_index)]


def check_label_values(side, training, sample=LABEL_SAMPLE):
    """Label values of a built dataset (a training sample, or every val/test label): a value
    outside [0, num_classes) other than the ignore index is an error; a class that no label
    contains while the ignore index covers > IGNORE_COVERAGE_WARNING of the pixels, or while
    the labels hold a single class and the ignore index, is a warning (binary masks stored as
    0/255). Returns the warnings."""
    num_classes, ignore = len(side.classes), side.ignore_index
    per_file = _side_value_counts(side, training, sample)
    total = Counter()
    for where, counts in per_file:
        bad = out_of_range_values(counts, num_classes, ignore)
        if bad:
            raise UserInputError(
                f'{where} ({side.key}) holds values {bad[:10]} outside '
                f'[0, {num_classes}) and not the ignore index {ignore}: labels not converted '
                f'to train IDs, a wrong reduce_zero_label, or classes/num_classes not matching '
                f'the labels')
        total.update(counts)
    pixels = sum(total.values())
    absent = [c for c in range(num_classes) if not total.get(c)]
    ignored = total.get(ignore, 0)
    # Masks saved as 0/255 hold one class and the ignore value; or the ignore value covers
    # much of the labels while a class is nowhere.
    one_class_and_ignore = ignored and len(absent) == num_classes - 1
    if not pixels or not absent or not (one_class_and_ignore or
                                        ignored > IGNORE_COVERAGE_WARNING * pixels):
        return []
    checked = (f'{len(per_file)} sampled label(s)' if training else 'the labels')
    names = ', '.join(f'{side.classes[c]!r} ({c})' for c in absent[:8])
    return [f'{side.key}: class(es) {names} occur in none of {checked}, while '
            f'the ignore index {ignore} covers {100 * total[ignore] / pixels:.0f}% of their '
            f'pixels: binary masks stored as 0/255? {ignore} is ignored (never trained nor '
            f'evaluated): store the object as 1 (convert the labels, e.g. label // 255), or '
            f'for labels 1..N with 0 = unlabelled set reduce_zero_label=True (if the '
            f'class is really absent from this data, ignore this warning)']


def check_consistency(cfg, train_dataset=None, val_dataset=None, label_sample=LABEL_SAMPLE):
    """Every rule of this module on ``cfg`` and its (built, optional) datasets; without
    datasets the config alone is checked. Raises UserInputError; returns warnings."""
    train = data_sides('data.train', cfg.data.get('train'), train_dataset)
    val = data_sides('data.val', cfg.data.get('val'), val_dataset)
    sides = train + val
    check_source_only(cfg)
    warnings = check_num_classes(cfg, sides)
    check_ignore_index(cfg, sides)
    known = [s for s in sides if s.classes is not None]
    if known:
        num_classes = len(known[0].classes)
        check_class_ids(cfg, sides, num_classes)
        check_rcs_classes(cfg, train_dataset, num_classes)
    for side in _labelled_training_sides(cfg, train):
        warnings += check_label_values(side, True, label_sample)
    check_val_labels(val)
    check_save_best(cfg, val)
    for side in val:
        if side.dataset is not None and side.classes is None:
            raise UserInputError(
                f'{side.key} ({side.cfg.get("type")}) has no class names, so its evaluation '
                f'cannot make the per-class table: set {side.key}.classes to the list of the '
                f'{len(known[0].classes) if known else "num_classes"} class names')
        if side.dataset is not None:
            warnings += check_label_values(side, False)
    return warnings


def build_val_for_checks(val_cfg, key='data.val'):
    """data.val built for the checks (files checked while building): one dataset, or for a
    list of several (docs/evaluation.md) a ConcatDataset of them, whose parts data_sides
    names ``data.val[i]``; an error while building one names it (build_eval_datasets)."""
    from torch.utils.data import ConcatDataset

    from mmseg.datasets.eval_sets import build_eval_datasets
    datasets = [d for _, d in build_eval_datasets(val_cfg, key, dict(test_mode=True))]
    if isinstance(val_cfg, (list, tuple)):
        return ConcatDataset(datasets)
    return datasets[0]


def check_before_training(cfg, validate=True, option_keys=()):
    """The checks of docs/CHECKS.md before a run writes anything: unread config keys, then the
    datasets built (files checked) and check_consistency. Returns ``(train_dataset,
    warnings)``; the built training set can be handed to ``train_segmentor``.

    ``option_keys``: the --cfg-options keys, named as the origin of a bad key.
    Raises UserInputError for an inconsistent config or bad data.
    """
    warnings = check_top_level_keys(cfg, option_keys)
    check_uda_keys_early(cfg)
    check_section_keys(cfg, option_keys)
    check_config_values(cfg)  # booleans, uda.mask_mode
    warnings += check_consistency(cfg)  # the config alone: before minutes of file checks
    train_dataset = build_dataset(cfg.data.train)
    if isinstance(cfg.data.get('val'), (list, tuple)) and len(cfg.get('workflow') or []) > 1:
        raise UserInputError('workflow has a val phase (the loss on data.val), which takes one '
                             'dataset: give data.val as a single dataset dict, not a list')
    val_dataset = None
    if validate and cfg.data.get('val') is not None:
        val_dataset = build_val_for_checks(cfg.data.val)
    warnings += [w for w in check_consistency(cfg, train_dataset, val_dataset)
                 if w not in warnings]
    return train_dataset, warnings

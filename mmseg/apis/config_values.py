"""Config values refused before training (docs/CHECKS.md): values of the right key that the code
would misread or that could only fail later, after the work_dir is written.

- boolean keys (a ``uda`` key whose default is True/False, a model part's constructor argument
  whose default is True/False, e.g. ``with_cp``) must be ``True`` or ``False``: ``'no'`` is
  truthy and would switch the setting on;
- ``uda.mask_mode`` must be None or one of MASK_MODES (MIC, Hoyer et al. CVPR 2023);
- with evaluation on, every ``data.val`` dataset must have labels (``ann_dir``);
- ``evaluation.save_best`` must be a key the evaluation logs (docs/evaluation.md).

Each check raises one ``UserInputError`` (``UserTypeError`` for a value of the wrong type)
naming the key and its value.
"""
import difflib
import inspect

from mmseg.utils.errors import UserInputError, UserTypeError

__all__ = ['check_bool_values', 'check_mask_mode', 'check_val_labels', 'eval_result_keys',
           'check_save_best', 'check_config_values']


def _bool_error(key, value):
    return UserTypeError(f'{key} = {value!r}: must be True or False ({value!r} would be read '
                         f'as {bool(value)})')


def _registered(name):
    import mmseg.models  # noqa: F401  (registers the model parts)
    from mmseg.models.builder import MODELS
    try:
        return MODELS.get(name) if isinstance(name, str) else None
    except KeyError:
        return None


def _bool_params(cls):
    """Names of the constructor arguments of ``cls`` (and of its bases, which a subclass's
    ``**kwargs`` reach) whose default is True or False."""
    names = set()
    for klass in getattr(cls, '__mro__', ()):
        try:
            params = inspect.signature(klass.__init__).parameters.values()
        except (TypeError, ValueError):
            continue
        names |= {p.name for p in params if isinstance(p.default, bool)}
    return names


def _check_model_bools(key, value):
    """Every dict with a registered ``type`` under ``value``: its boolean arguments."""
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_model_bools(f'{key}[{i}]', item)
        return
    if not isinstance(value, dict):
        return
    cls = _registered(value.get('type'))
    bools = _bool_params(cls) if cls is not None else set()
    for name, item in value.items():
        if name in bools and not isinstance(item, bool):
            raise _bool_error(f'{key}.{name}', item)
        _check_model_bools(f'{key}.{name}', item)


def check_bool_values(cfg):
    """Raise UserTypeError for a boolean key that is not True/False: a ``uda`` key whose
    default (DACS_DEFAULTS, ADVSEG_DEFAULTS, MINENT_DEFAULTS) is a bool, and a constructor
    argument with a bool default of any registered model part under ``model`` (``with_cp``,
    ``hr_with_cp``, ``blur_hr_crop``, ...)."""
    from mmseg.models.uda.advseg import ADVSEG_DEFAULTS
    from mmseg.models.uda.dacs import DACS_DEFAULTS
    from mmseg.models.uda.minent import MINENT_DEFAULTS
    uda = cfg.get('uda')
    if isinstance(uda, dict):
        defaults = {'DACS': DACS_DEFAULTS, 'AdvSeg': ADVSEG_DEFAULTS,
                    'MinEnt': MINENT_DEFAULTS}.get(uda.get('type'), {})
        for name, default in defaults.items():
            if isinstance(default, bool) and name in uda and not isinstance(uda[name], bool):
                raise _bool_error(f'uda.{name}', uda[name])
    if isinstance(cfg.get('model'), dict):
        _check_model_bools('model', cfg.model)


def check_mask_mode(uda):
    """``uda.mask_mode`` is None or one of MASK_MODES, whatever ``source_only`` says."""
    from mmseg.models.uda.masking_consistency_module import MASK_MODES
    mode = (uda or {}).get('mask_mode')
    if mode is None or mode in MASK_MODES:
        return
    match = difflib.get_close_matches(str(mode), MASK_MODES, n=1, cutoff=0.6)
    hint = f' (did you mean {match[0]!r}?)' if match else ''
    raise UserInputError(f'uda.mask_mode = {mode!r} is unknown{hint}: use None (no masking) or '
                         f'one of {list(MASK_MODES)}')


def check_val_labels(val_sides):
    """Every built val dataset (``DataSide`` of mmseg.apis.checks) has labels: one without
    ``ann_dir`` would fail the first evaluation."""
    from mmseg.datasets.eval_sets import dataset_name
    for side in val_sides:
        if side.dataset is not None and getattr(side.dataset, 'ann_dir', '') is None:
            raise UserInputError(
                f'{side.key} ({dataset_name(side.cfg)}, {side.cfg.get("type")}) has no labels '
                f'(ann_dir=None), so the evaluation during training would fail: give '
                f'{side.key}.ann_dir, or train with --no-validate')


_METRIC_KEYS = {'mIoU': ('IoU', 'Acc'), 'mDice': ('Dice', 'Acc'),
                'mFscore': ('Fscore', 'Precision', 'Recall')}


def eval_result_keys(metrics, classes=None, class_subsets=(), cityscapes_iiou=True):
    """The keys one dataset's ``evaluate(metric=metrics)`` returns (CustomDataset.evaluate,
    CityscapesDataset.evaluate): ``aAcc``, ``m<X>`` and ``<X>.<class>`` of each metric's
    per-class values X, the ``class_subsets`` names (with mIoU), and for 'cityscapes'
    ``cityscapes/mIoU`` (and ``cityscapes/iIoU``)."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    keys = []
    plain = [m for m in metrics if m in _METRIC_KEYS]
    if plain:
        keys.append('aAcc')
    for metric in plain:
        for name in _METRIC_KEYS[metric]:
            if f'm{name}' not in keys:
                keys.append(f'm{name}')
                keys += [f'{name}.{c}' for c in classes or ()]
    if 'mIoU' in metrics:
        keys += [s for s in class_subsets if s not in keys]
    if 'cityscapes' in metrics:
        keys.append('cityscapes/mIoU')
        if cityscapes_iiou:
            keys.append('cityscapes/iIoU')
    return keys


def check_save_best(cfg, val_sides):
    """``evaluation.save_best`` is None, 'auto' or a key the evaluation returns
    (eval_result_keys of each val dataset; with several, the plain keys they share, which
    hold the mean: docs/evaluation.md). ``val_sides``: DataSides of data.val."""
    evaluation = cfg.get('evaluation')
    if not isinstance(evaluation, dict) or evaluation.get('save_best') in (None, 'auto'):
        return
    best = evaluation['save_best']
    if not isinstance(best, str):
        raise UserTypeError(f'evaluation.save_best = {best!r}: must be a metric name such as '
                            f"'mIoU', 'auto' or None")
    metric = evaluation.get('metric', 'mIoU')
    extra = evaluation.get('class_subsets') or {}
    per_set = [eval_result_keys(metric, s.classes, {**(s.cfg.get('class_subsets') or {}),
                                                    **extra})
               for s in val_sides]
    if not per_set:
        return
    if len(per_set) == 1:
        keys = per_set[0]
        unknown_classes = val_sides[0].classes is None
    else:
        keys = [k for k in per_set[0] if '.' not in k and '/' not in k
                and all(k in other for other in per_set[1:])]
        unknown_classes = False
    if best in keys:
        return
    if unknown_classes and '.' in best and best.split('.')[0] in {
            n for m in ([metric] if isinstance(metric, str) else metric)
            for n in _METRIC_KEYS.get(m, ())}:
        return  # a per-class key of a dataset whose class names are not known here
    lower = {k.lower(): k for k in keys}  # 'miou' -> 'mIoU'
    match = difflib.get_close_matches(best.lower(), list(lower), n=1, cutoff=0.6)
    hint = f' (did you mean {lower[match[0]]!r}?)' if match else ''
    shown = [k for k in keys if '.' not in k]
    per_class = ' and per-class keys such as IoU.<class>' if len(keys) > len(shown) else ''
    several = (f' (the means over the {len(per_set)} evaluation datasets)'
               if len(per_set) > 1 else '')
    raise UserInputError(f'evaluation.save_best = {best!r} is not a key the evaluation '
                         f'(metric={metric!r}) logs{hint}: use one of {shown}{several}'
                         f'{per_class}, \'auto\' or None')


def check_config_values(cfg):
    """check_bool_values and the config-only part of the value checks of this module."""
    check_bool_values(cfg)
    if isinstance(cfg.get('uda'), dict):
        check_mask_mode(cfg.uda)

"""Config keys that nothing reads: a misspelt top-level or ``uda`` key would otherwise be
ignored and the run would train on the defaults (docs/CHECKS.md).

A top-level key is read when mmcv/mmseg or the tools read it (``TOP_LEVEL_KEYS``), or when it is
a helper variable of the config file: ``norm_cfg``, any ``*_pipeline``, or a key whose value
appears inside another setting (``num_classes = 6`` used by the heads). ``uda`` keys are those of the UDA method's defaults.
"""
import difflib
import inspect

from mmseg.utils.errors import UserInputError

__all__ = ['TOP_LEVEL_KEYS', 'HELPER_KEYS', 'UDA_BUILD_KEYS', 'uda_keys', 'check_top_level_keys',
           'check_uda_keys_early', 'check_section_keys']

# Read by mmcv's runner and hooks, mmseg.apis, tools/train.py, tools/test.py, and (the name_*
# meta keys) by run_experiments.py and tools/summarize_results.py.
TOP_LEVEL_KEYS = frozenset([
    'model', 'data', 'uda', 'optimizer', 'optimizer_config', 'lr_config', 'momentum_config',
    'log_config', 'checkpoint_config', 'evaluation', 'runner', 'total_iters', 'workflow',
    'custom_hooks', 'custom_imports', 'work_dir', 'load_from', 'resume_from', 'auto_resume',
    'trust_checkpoint', 'gpu_ids', 'seed', 'dist_params', 'log_level', 'cudnn_benchmark',
    'find_unused_parameters', 'use_ddp_wrapper', 'mixed_precision', 'compile',
    'cpu_malloc_reuse', 'channels_last', 'allow_tf32', 'train_cfg', 'test_cfg', 'crop_size',
    'img_norm_cfg', 'test_pipeline',
    'name', 'exp', 'name_dataset', 'name_architecture', 'name_encoder', 'name_decoder',
    'name_uda', 'name_opt', 'gpu_model', 'n_gpus', 'git_rev',
])
# Helper variables of the config files by convention, never a misspelt setting: accepted
# whether used or not (a config that replaces a base's pipeline leaves the base's
# gta_train_pipeline unused), and never offered as 'did you mean'.
HELPER_KEYS = frozenset(['norm_cfg', 'train_pipeline'])
HELPER_SUFFIX = '_pipeline'
# Keys the UDA builder passes besides the method's own (mmseg/models/builder.py).
UDA_BUILD_KEYS = ('type', 'model', 'max_iters', 'train_cfg', 'test_cfg', 'init_cfg')


def uda_keys(uda_type):
    """The keys a UDA method reads (its defaults dict plus UDA_BUILD_KEYS), or None for a type
    whose keys are not known here (a user's own method)."""
    from mmseg.models.uda.advseg import ADVSEG_DEFAULTS
    from mmseg.models.uda.dacs import DACS_DEFAULTS
    from mmseg.models.uda.minent import MINENT_DEFAULTS
    defaults = {'DACS': DACS_DEFAULTS, 'AdvSeg': ADVSEG_DEFAULTS, 'MinEnt': MINENT_DEFAULTS,
                'UDADecorator': {}}.get(uda_type)
    return None if defaults is None else set(defaults) | set(UDA_BUILD_KEYS)


def _normalised(value):
    """Tuples as lists, dicts as plain dicts: a config's tuple may come back as a list."""
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalised(v) for v in value]
    return value


def _sub_values(value):
    """Every dict, list and value nested in ``value`` (normalised), ``value`` included."""
    stack, found = [_normalised(value)], []
    while stack:
        item = stack.pop()
        found.append(item)
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _is_used_inside(value, others):
    """True when ``value`` (a helper variable) appears as a nested value in ``others``."""
    value = _normalised(value)
    return any(type(item) is type(value) and item == value for item in others)


def check_top_level_keys(cfg, option_keys=()):
    """Raise UserInputError for a top-level key that nothing reads and that is close to a key
    that is read ('evalution': did you mean 'evaluation'?); return warnings for the other
    unread keys. Helper variables whose value is used in another setting are fine.
    ``option_keys``: the --cfg-options keys, so that a key given there is blamed on them."""
    unread, warnings = [], []
    for key in cfg.keys():
        if (key in TOP_LEVEL_KEYS or key in HELPER_KEYS or key.endswith(HELPER_SUFFIX)
                or key.startswith('_')):
            continue
        match = difflib.get_close_matches(key, TOP_LEVEL_KEYS, n=1, cutoff=0.8)
        others = [v for k, v in cfg.items() if k not in (key, *match)]
        # A number or None is too common to tell a misspelt setting from a helper by its use.
        helper_like = isinstance(cfg[key], (dict, list, tuple, str)) or not match
        if helper_like and _is_used_inside(cfg[key], [s for v in others
                                                      for s in _sub_values(v)]):
            continue  # a helper variable, e.g. cityscapes_train_pipeline or num_classes
        given = {o.split('.')[0] for o in option_keys}
        origin = ' (from --cfg-options)' if key in given else ''
        if match:
            unread.append(f'{key!r}{origin} (did you mean {match[0]!r}?)')
        else:
            warnings.append(f'config key {key!r}{origin} is read by nothing (not a setting of '
                            'mmseg/mmcv, nor used inside one): a misspelling, or left over?')
    if unread:
        where = cfg.filename or 'the config'
        if all('(from --cfg-options)' in u for u in unread):
            where, unread = '--cfg-options', [u.replace(' (from --cfg-options)', '')
                                              for u in unread]
        raise UserInputError(f'{where}: top-level key(s) '
                             f'{", ".join(unread)} not read by anything; without the fix the '
                             f'run would silently use the defaults')
    return warnings


def check_uda_keys_early(cfg):
    """Raise UserInputError naming a ``uda`` key its method does not read (with a 'did you
    mean'), before anything is built or written."""
    uda = cfg.get('uda')
    if not uda:
        return
    known = uda_keys(uda.get('type'))
    if known is None:
        return
    unknown = sorted(set(uda) - known)
    if unknown:
        named = []
        for key in unknown:
            match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            named.append(f'{key!r}' + (f' (did you mean {match[0]!r}?)' if match else ''))
        raise UserInputError(f'uda key(s) {", ".join(named)} not read by {uda["type"]}; its '
                             f'keys are {sorted(known - set(UDA_BUILD_KEYS))} (see '
                             f'configs/_base_/uda/)')


# ----------------------------------------------------------------------------- section keys
# The keys of each section are the parameters of what receives them (docs/CHECKS.md): a key
# nothing accepts would raise a TypeError after the work_dir is made, or be silently ignored.
RUNNER_DEFAULT_ARGS = ('model', 'batch_processor', 'optimizer', 'work_dir', 'logger', 'meta',
                       'trust_checkpoint')  # given by mmseg.apis.train, not by the config
DATA_KEYS = ('samples_per_gpu', 'workers_per_gpu', 'train', 'val', 'test')
LOG_CONFIG_KEYS = ('interval', 'hooks', 'img_interval')  # img_interval: the UDA debug images


def _names(function):
    """The parameters of ``function`` a keyword can name (not ``*args`` / ``**kwargs``)."""
    params = inspect.signature(function).parameters.values()
    return {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _parameters(*functions, skip=('self',)):
    """Named parameters of ``functions`` (a class means its ``__init__``), following ``**kwargs``
    up the class's MRO; None when one of them takes ``**kwargs`` nobody names (any key)."""
    names = set()
    for function in functions:
        methods = ([c.__dict__['__init__'] for c in function.__mro__ if '__init__' in c.__dict__]
                   if inspect.isclass(function) else [function])
        for method in methods:
            names |= _names(method)
            if not any(p.kind is p.VAR_KEYWORD
                       for p in inspect.signature(method).parameters.values()):
                break
        else:
            if methods[-1] is not object.__init__:
                return None
    return names - set(skip)


def _registered(registry, type_name):
    return registry.get(type_name) if isinstance(type_name, str) else None


def _optimizer_keys(section):
    from mmcv.runner import OPTIMIZERS
    cls = _registered(OPTIMIZERS, section.get('type'))
    keys = cls and _parameters(cls, skip=('self', 'params'))
    return keys and keys | {'type', 'paramwise_cfg', 'constructor'}


def _optimizer_hook_keys(section):
    from mmcv.runner import HOOKS
    cls = _registered(HOOKS, section.get('type', 'OptimizerHook'))
    keys = cls and _parameters(cls)
    return keys and keys | {'type'}


def _lr_keys(section):
    from mmcv.runner import HOOKS
    policy = section.get('policy')
    if 'type' in section or not isinstance(policy, str):
        return None
    # mmcv's register_lr_hook: 'poly' -> PolyLrUpdaterHook, 'CosineAnnealing' as written
    cls = _registered(HOOKS, (policy.title() if policy == policy.lower() else policy)
                      + 'LrUpdaterHook')
    keys = cls and _parameters(cls)
    return keys and keys | {'policy'}


def _runner_keys(section):
    from mmcv.runner import RUNNERS
    cls = _registered(RUNNERS, section.get('type'))
    keys = cls and _parameters(cls, skip=('self', *RUNNER_DEFAULT_ARGS))
    return keys and keys | {'type'}


def _checkpoint_keys(section):
    from mmcv.runner import HOOKS, CheckpointHook

    from mmseg.core.runner import ResumableIterBasedRunner
    cls = _registered(HOOKS, section.get('type', 'CheckpointHook'))
    if cls is not CheckpointHook:
        return None
    # CheckpointHook passes its other kwargs to runner.save_checkpoint
    return _parameters(cls) | {'type'} | _parameters(ResumableIterBasedRunner.save_checkpoint)


def _val_configs(data_cfg):
    """The dataset config(s) of data.val as a list (data.val may list several datasets)."""
    val = (data_cfg or {}).get('val') or {}
    return list(val) if isinstance(val, (list, tuple)) else [val]


def _evaluation_keys(section, data_cfg):
    from mmcv.runner.hooks.evaluation import EvalHook as MMCVEvalHook

    from mmseg.core.evaluation.eval_hooks import EvalHook
    from mmseg.datasets import DATASETS
    val = _val_configs(data_cfg)[0]  # a list's datasets get the same evaluation keys
    dataset_cls = _registered(DATASETS, val.get('type', 'CustomDataset')
                              if isinstance(val, dict) else None)
    if dataset_cls is None:
        return None
    evaluate = set()
    for cls in dataset_cls.__mro__:  # evaluate's **kwargs go to the base class's evaluate
        if 'evaluate' in cls.__dict__:
            evaluate |= _names(cls.__dict__['evaluate']) - {'self', 'results', 'logger'}
    # EvalHook's **eval_kwargs go to mmcv's EvalHook, whose **eval_kwargs go to evaluate
    hook = _names(EvalHook.__init__) | _names(MMCVEvalHook.__init__)
    return hook - {'self', 'dataloader', 'test_fn'} | evaluate


def _unknown_keys_message(name, section, known, option_keys):
    named = []
    for key in sorted(set(section) - known):
        match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        origin = ' (from --cfg-options)' if f'{name}.{key}' in option_keys or any(
            o.startswith(f'{name}.{key}.') for o in option_keys) else ''
        named.append(f'{name}.{key}{origin}' + (f' (did you mean {match[0]!r}?)' if match
                                                 else ''))
    if named:
        return (f'{", ".join(named)} not accepted by what reads {name}; its keys are '
                f'{sorted(known)}')
    return None


def _check_metrics(evaluation, data_cfg):
    """evaluation.metric against what the val dataset's evaluate accepts: a wrong name would
    fail every evaluation, found only at the end of the run."""
    from mmseg.core.evaluation.metrics import SUPPORTED_METRICS
    from mmseg.datasets import DATASETS, CityscapesDataset
    metric = evaluation.get('metric', 'mIoU')
    metrics = [metric] if isinstance(metric, str) else list(metric)
    classes = [_registered(DATASETS, val.get('type', 'CustomDataset')
                           if isinstance(val, dict) else None) for val in _val_configs(data_cfg)]
    supported = list(SUPPORTED_METRICS)
    # 'cityscapes' (the official evaluator) when every val dataset is a CityscapesDataset
    if all(c is not None and issubclass(c, CityscapesDataset) for c in classes):
        supported.append('cityscapes')
    unknown = [m for m in metrics if m not in supported]
    if unknown:
        named = [f'{m!r}' + (f' (did you mean {match[0]!r}?)' if match else '')
                 for m in unknown for match in [difflib.get_close_matches(
                     str(m), supported, n=1, cutoff=0.5)]]
        raise UserInputError(f'evaluation.metric {", ".join(named)} not supported; use some '
                             f'of {supported}')


def _check_numbers(cfg):
    """The numbers that are obviously wrong, before anything is built."""
    checks = [('runner', 'max_iters', int, 1), ('data', 'samples_per_gpu', int, 1),
              ('data', 'workers_per_gpu', int, 0), ('optimizer', 'lr', (int, float), 0)]
    for section, key, kind, low in checks:
        value = (cfg.get(section) or {}).get(key) if isinstance(cfg.get(section), dict) else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, kind) or value < low:
            what = 'an integer' if kind is int else 'a number'
            raise UserInputError(f'{section}.{key} = {value!r}: must be {what} >= {low}')


def check_section_keys(cfg, option_keys=()):
    """Raise UserInputError naming a key of checkpoint_config, evaluation, optimizer,
    optimizer_config, lr_config, runner, log_config or data (or data.train/val/test's
    neighbours) that the code receiving it does not accept, with a 'did you mean'."""
    sections = dict(
        checkpoint_config=_checkpoint_keys, optimizer=_optimizer_keys,
        optimizer_config=_optimizer_hook_keys, lr_config=_lr_keys, runner=_runner_keys,
        log_config=lambda s: set(LOG_CONFIG_KEYS), data=lambda s: set(DATA_KEYS),
        evaluation=lambda s: _evaluation_keys(s, cfg.get('data')))
    for name, keys_of in sections.items():
        section = cfg.get(name)
        if not isinstance(section, dict):
            continue
        known = keys_of(section)
        message = known is not None and _unknown_keys_message(name, section, known, option_keys)
        if message:
            raise UserInputError(message)
    if isinstance(cfg.get('evaluation'), dict):
        _check_metrics(cfg.evaluation, cfg.get('data'))
    _check_numbers(cfg)

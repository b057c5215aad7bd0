"""Config keys that nothing reads: a misspelt top-level or ``uda`` key would otherwise be
ignored and the run would train on the defaults (docs/CHECKS.md).

A top-level key is read when mmcv/mmseg or the tools read it (``TOP_LEVEL_KEYS``), or when it is
a helper variable of the config file: ``norm_cfg``, any ``*_pipeline``, or a key whose value
appears inside another setting (``num_classes = 6`` used by the heads). ``uda`` keys are those of the UDA method's defaults.
"""
import difflib

from mmseg.utils.errors import UserInputError

__all__ = ['TOP_LEVEL_KEYS', 'HELPER_KEYS', 'UDA_BUILD_KEYS', 'uda_keys', 'check_top_level_keys',
           'check_uda_keys_early']

# Read by mmcv's runner and hooks, mmseg.apis, tools/train.py, tools/test.py, and (the name_*
# meta keys) by run_experiments.py and tools/summarize_results.py.
TOP_LEVEL_KEYS = frozenset([
    'model', 'data', 'uda', 'optimizer', 'optimizer_config', 'lr_config', 'momentum_config',
    'log_config', 'checkpoint_config', 'evaluation', 'runner', 'total_iters', 'workflow',
    'custom_hooks', 'custom_imports', 'work_dir', 'load_from', 'resume_from', 'auto_resume',
    'trust_checkpoint', 'gpu_ids', 'seed', 'dist_params', 'log_level', 'cudnn_benchmark',
    'find_unused_parameters', 'use_ddp_wrapper', 'mixed_precision', 'compile',
    'cpu_malloc_reuse', 'train_cfg', 'test_cfg', 'crop_size', 'img_norm_cfg', 'test_pipeline',
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


def check_top_level_keys(cfg):
    """Raise UserInputError for a top-level key that nothing reads and that is close to a key
    that is read ('evalution': did you mean 'evaluation'?); return warnings for the other
    unread keys. Helper variables whose value is used in another setting are fine."""
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
        if match:
            unread.append(f'{key!r} (did you mean {match[0]!r}?)')
        else:
            warnings.append(f'config key {key!r} is read by nothing (not a setting of '
                            'mmseg/mmcv, nor used inside one): a misspelling, or left over?')
    if unread:
        raise UserInputError(f'{cfg.filename or "the config"}: top-level key(s) '
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

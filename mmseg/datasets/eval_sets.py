"""Several evaluation datasets in one run: ``data.val`` / ``data.test`` as a list of dataset
configs, each with a name (docs/evaluation.md).

A name is the config's optional ``name`` key (taken out before the dataset is built), else the
one derived from its ``type`` (``CityscapesDataset`` -> ``cityscapes``, ``ACDCDataset`` ->
``acdc``, ...: ``dataset_name``). Names label the log keys (``<name>/mIoU``) and the output
folders of tools/test.py, so they must be unique in a list.
"""
import copy
import re

from mmseg.utils.errors import UserInputError, UserTypeError, as_user_error
from .builder import build_dataset

__all__ = ['dataset_name', 'eval_dataset_configs', 'build_eval_datasets', 'is_several',
           'first_dataset_config']

# Names of the datasets whose type does not read well under the generic rule
# (WildDash2 -> wild_dash2, BDD100K -> bdd100_k).
KNOWN_NAMES = {
    'CityscapesDataset': 'cityscapes', 'ACDCDataset': 'acdc', 'DarkZurichDataset': 'dark_zurich',
    'BDD100KDataset': 'bdd100k', 'MapillaryDataset': 'mapillary', 'WildDash2Dataset': 'wilddash2',
    'GTADataset': 'gta', 'SynthiaDataset': 'synthia',
}
NAME_PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*')


def dataset_name(data_cfg):
    """The name of one dataset config: its ``name``, else derived from its ``type``: a known
    name (KNOWN_NAMES), else the type without the ``Dataset`` suffix in snake_case
    (``MyRoadsDataset`` -> ``my_roads``, ``ACDCDataset`` -> ``acdc``)."""
    if data_cfg.get('name') is not None:
        return str(data_cfg['name'])
    type_name = str(data_cfg.get('type', 'CustomDataset'))
    if type_name in KNOWN_NAMES:
        return KNOWN_NAMES[type_name]
    base = re.sub(r'Dataset$', '', type_name) or type_name
    # a word boundary before a capital that follows a lower-case letter or digit, and before
    # the last capital of an acronym followed by a lower-case letter (ACDCNight -> acdc_night)
    words = re.sub(r'(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])', '_', base)
    return words.lower()


def is_several(data_cfg):
    """True when ``data_cfg`` (data.val / data.test) lists more than one dataset."""
    return isinstance(data_cfg, (list, tuple)) and len(data_cfg) > 1


def first_dataset_config(data_cfg):
    """``data_cfg`` (data.test / data.val) itself, or its first dataset when it lists several:
    the pipeline and palette that single-image inference uses (an empty dict for None)."""
    if isinstance(data_cfg, (list, tuple)):
        return data_cfg[0] if data_cfg else {}
    return data_cfg or {}


def eval_dataset_configs(data_cfg, key='data.val'):
    """[(name, config without its ``name`` key)] of ``data.val`` / ``data.test`` (``key``):
    one entry for a dict, one per item for a list.

    Raises UserInputError (naming ``key``) for an empty list, an item that is not a dict, a
    name that is not a plain word (letters, digits, ``_.-``) and two items of the same name.
    """
    if isinstance(data_cfg, dict):
        items, keys = [data_cfg], [key]
    elif isinstance(data_cfg, (list, tuple)) and data_cfg:
        items, keys = list(data_cfg), [f'{key}[{i}]' for i in range(len(data_cfg))]
    else:
        raise UserTypeError(f'{key} must be a dataset dict or a non-empty list of them, got '
                            f'{data_cfg!r}')
    named, seen = [], {}
    for item, item_key in zip(items, keys):
        if not isinstance(item, dict):
            raise UserTypeError(f'{item_key} must be a dataset dict (type=..., data_root=...), '
                                f'got {type(item).__name__} {item!r}')
        name = dataset_name(item)
        if not NAME_PATTERN.fullmatch(name):
            raise UserInputError(f'{item_key}.name = {name!r}: a dataset name labels log keys '
                                 f'and folders; use letters, digits, _ . - (no / or spaces)')
        if name in seen:
            raise UserInputError(
                f'{seen[name]} and {item_key} are both named {name!r}: set {item_key}.name '
                f'(e.g. name=\'{name}_2\') so that their metrics get distinct log keys')
        seen[name] = item_key
        config = copy.deepcopy(item)
        config.pop('name', None)
        named.append((name, config))
    return named


def build_eval_datasets(data_cfg, key='data.val', default_args=None):
    """[(name, built dataset)] of ``data.val`` / ``data.test`` (see eval_dataset_configs).

    With several datasets, a bad-input error while building one (a missing folder, an
    unreadable label: the file checks of mmseg/datasets/integrity.py) is raised again with
    ``<key>[i] (<name>): `` before its message, so that it names the dataset.
    """
    named = eval_dataset_configs(data_cfg, key)
    if len(named) == 1:
        return [(named[0][0], build_dataset(named[0][1], default_args))]
    datasets = []
    for i, (name, config) in enumerate(named):
        try:
            datasets.append((name, build_dataset(config, default_args)))
        except (UserInputError, FileNotFoundError) as error:
            error = as_user_error(error)
            raise type(error)(f'{key}[{i}] ({name}): {error}') from None
    return datasets

"""``KEY=VALUE`` overrides on the command line (``--cfg-options``, ``--eval-options``).

Values are read as mmcv 1.x's ``DictAction`` reads them: ``1`` -> int, ``0.5`` / ``1e-4`` ->
float, ``true`` / ``False`` -> bool, ``None``, ``a,b`` or ``[a, b]`` -> list, ``(a, b)`` -> tuple,
anything else -> the string itself. In addition (where mmcv's parser loops forever or fails):
``dict(k=v, ...)`` calls and ``{k: v}`` literals at any depth, e.g.
``log_config.hooks=[dict(type='TextLoggerHook', by_epoch=False)]``. A quoted value is a string as
in a Python config: ``'001'`` stays ``'001'`` and ``'a b'`` keeps its space (mmcv gave ``1`` and
``'ab'``). See docs/ERRORS.md.
"""
import argparse
import ast
import os
import re

from .errors import UserInputError

__all__ = ['DictAction', 'parse_cfg_options', 'parse_value', 'load_config', 'config_build_error']

_OPENING = {'[': ']', '(': ')', '{': '}'}
_CLOSING = {v: k for k, v in _OPENING.items()}
_CALL = re.compile(r'([A-Za-z_]\w*)\s*\(')


class DictAction(argparse.Action):
    """argparse action: ``KEY=VALUE ...`` -> ``{KEY: value}`` (values as in ``parse_value``).

    The flag given twice adds to the same dict. Raises UserInputError for an item without
    ``=``, a key given twice with different values, or a value that cannot be read.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        option = option_string or f'--{self.dest}'
        options = dict(getattr(namespace, self.dest, None) or {})
        for key, value in parse_cfg_options(values, option).items():
            if key in options and options[key] != value:
                raise UserInputError(f'{option}: {key} given twice ({options[key]!r} and '
                                     f'{value!r}); give it once')
            options[key] = value
        setattr(namespace, self.dest, options)


def parse_cfg_options(items, option='--cfg-options'):
    """``['a.b=1', 'c=[x, y]']`` -> ``{'a.b': 1, 'c': ['x', 'y']}``.

    Raises UserInputError (naming ``option`` and the item) for an item without ``=`` or an
    empty key, a key given twice with different values, or a value that cannot be read.
    """
    options = {}
    for item in items:
        key, sep, text = item.partition('=')
        if not sep or not key.strip():
            raise UserInputError(f'{option} {item}: expected KEY=VALUE')
        try:
            value = parse_value(text)
        except ValueError as error:
            raise UserInputError(f'{option} {item}: {error}') from None
        if key in options and options[key] != value:
            raise UserInputError(f'{option}: {key} given twice ({options[key]!r} and '
                                 f'{value!r}); give it once')
        options[key] = value
    return options


def parse_value(text):
    """One override value (a string) -> int / float / bool / None / str / list / tuple / dict.

    Raises ValueError for unbalanced brackets or quotes, a call other than ``dict(...)``, or a
    ``dict(...)`` / ``{...}`` entry that is not ``name=value`` / ``key: value``.
    """
    text = text.strip()
    if text[:1] in '\'"' and text:
        return _parse_quoted(text)
    closing = _matching_close(text) if text[:1] in _OPENING else None
    if closing == len(text) - 1:
        inner = _split_top_level(text[1:-1], ',')
        if text[0] == '[':
            return [parse_value(part) for part in inner]
        if text[0] == '(':
            return tuple(parse_value(part) for part in inner)
        return dict(_parse_dict_entry(part, ':') for part in inner)
    call = _CALL.match(text)
    if call and _matching_close(text, call.end() - 1) == len(text) - 1:
        if call.group(1) != 'dict':
            raise ValueError(f'{call.group(1)}(...) is not understood; only dict(...) calls')
        return dict(_parse_dict_entry(part, '=')
                    for part in _split_top_level(text[call.end():-1], ','))
    parts = _split_top_level(text, ',')
    if len(parts) > 1 or text.endswith(','):
        return [parse_value(part) for part in parts]
    return _parse_scalar(text)


def _parse_scalar(text):
    """int, float, bool (any case), None, else the string (mmcv's order of attempts)."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.lower() in ('true', 'false'):
        return text.lower() == 'true'
    return None if text == 'None' else text


def _parse_quoted(text):
    end = _skip_quoted(text, 0)
    if end != len(text):
        raise ValueError(f'unexpected text after the quoted string {text[:end]}')
    return ast.literal_eval(text)


def _parse_dict_entry(text, separator):
    parts = _split_top_level(text, separator, maxsplit=1)
    if len(parts) != 2:
        example = 'name=value' if separator == '=' else 'key: value'
        raise ValueError(f'{text.strip()!r}: expected {example}')
    key, value = parts[0].strip(), parse_value(parts[1])
    if separator == '=':
        if not key.isidentifier():
            raise ValueError(f'{key!r} is not a keyword name')
        return key, value
    key = parse_value(key)
    if isinstance(key, (list, dict)):
        raise ValueError(f'{key!r} cannot be a dict key')
    return key, value


def _skip_quoted(text, start):
    """Index just after the string literal that starts at ``text[start]`` (a quote)."""
    quote, index = text[start], start + 1
    while index < len(text):
        if text[index] == '\\':
            index += 2
            continue
        if text[index] == quote:
            return index + 1
        index += 1
    raise ValueError(f'unbalanced quote {quote} in {text}')


def _scan(text, start=0):
    """Yield ``(index, char, depth)`` for the characters of ``text`` outside string literals
    (a quote opens one where a value starts: ``bob's`` is a plain word); ``depth`` is the
    bracket depth before the character. Raises ValueError for a bracket closed by the wrong
    one or never opened."""
    stack, index, previous = [], start, ''
    while index < len(text):
        char = text[index]
        if char in '\'"' and previous in ('', ',', '(', '[', '{', '=', ':'):
            index = _skip_quoted(text, index)
            previous = char
            continue
        depth = len(stack)
        if char in _OPENING:
            stack.append(char)
        elif char in _CLOSING:
            if not stack or stack.pop() != _CLOSING[char]:
                raise ValueError(f'unbalanced brackets in {text}')
        yield index, char, depth
        if not char.isspace():
            previous = char
        index += 1
    if stack:
        raise ValueError(f'unbalanced brackets in {text}')


def _matching_close(text, start=0):
    """Index of the bracket closing the one at ``text[start]``."""
    for index, char, depth in _scan(text, start):
        if char in _CLOSING and depth == 1:
            return index
    return None


def _split_top_level(text, separator, maxsplit=-1):
    """Split at ``separator`` outside brackets and quotes; parts stripped, a trailing empty part
    (``1,2,``) dropped; ``''`` -> ``[]``."""
    parts, start = [], 0
    for index, char, depth in _scan(text):
        if char == separator and depth == 0 and maxsplit != len(parts):
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    if parts[-1] == '' and (len(parts) > 1 or separator == ','):
        parts.pop()
    return parts


def load_config(path, options=None):
    """``mmcv.Config.fromfile(path)`` merged with ``options`` (the ``--cfg-options`` dict); a
    missing file or a Python syntax error in it raises UserInputError naming the file (and
    line), not a traceback from inside mmcv. ``custom_imports`` given in ``options`` are
    imported too (mmcv imports only those of the file)."""
    from mmcv import Config

    from .errors import UserFileNotFoundError
    if not os.path.isfile(path):
        raise UserFileNotFoundError(f'config file {path} not found')
    if path.endswith('.py'):
        with open(path, encoding='utf-8') as f:
            source = f.read()
        try:  # checked here: mmcv's own check ends in a traceback and a temp-file warning
            ast.parse(source, filename=path)
        except SyntaxError as error:
            raise UserInputError(f'{path}, line {error.lineno}: the config is not valid Python '
                                 f'({error.msg})') from None
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
        if any(key.split('.')[0] == 'custom_imports' for key in options):
            from mmcv.utils import import_modules_from_strings
            import_modules_from_strings(**cfg['custom_imports'])
    return cfg


def config_build_error(error, section):
    """The UserInputError for a config mistake reported by mmcv's ``build_from_cfg`` while
    building ``section`` (e.g. 'data.train', 'model'): an unknown or missing ``type``, or a key
    the class does not take (a misspelt key); None for any other error (a bug keeps its
    traceback)."""
    from .errors import UserKeyError, UserTypeError
    if isinstance(error, UserInputError):
        return error
    message = str(error.args[0]) if len(error.args) == 1 else str(error)
    first_line = message.splitlines()[0] if message else ''
    if isinstance(error, KeyError) and (re.search(r'is not in the \w+ registry', first_line)
                                        or 'must contain the key "type"' in first_line):
        first_line = re.sub(r'["\']', '', first_line)  # the quotes of nested KeyError texts
        return UserKeyError(f'{section}: {first_line} (a misspelt type, or a module of your own '
                            'missing from custom_imports?)')
    if isinstance(error, TypeError) and re.search(
            r'__init__\(\) got an unexpected keyword argument', first_line):
        return UserTypeError(f'{section}: {first_line} (a misspelt config key?)')
    if isinstance(error, TypeError) and re.search(
            r'__init__\(\) missing \d+ required (positional|keyword-only) argument', first_line):
        return UserTypeError(f'{section}: {first_line} (give it in the config)')
    return None

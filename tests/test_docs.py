"""The README and docs/ as a user reads them: every command shown in the README and in the task
pages of docs/ (get_started, train, inference, config, troubleshooting, toy_benchmark) names an
existing make target, script or module, its flags are accepted by that tool's own argparse
parser as written, and the repository files it names exist; each task page starts with its
commands; every relative link in README.md, CHANGELOG.md and docs/*.md points to an
existing file and, with '#', to an existing section. The toy-data command runs here as shown (a slow test, about 10 s); the toy commands
that take minutes run in the end-to-end tests listed in TOY_COMMANDS_RUN_BY.

README.md links to docs/dataset_prepare.md, docs/performance.md, docs/domains.md and
docs/evaluation.md, which other branches add."""
import argparse
import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMAND_DOCS = ('README.md', 'docs/get_started.md', 'docs/train.md', 'docs/inference.md',
                'docs/config.md', 'docs/troubleshooting.md', 'docs/toy_benchmark.md')
LINKED_DOCS = ['README.md', 'CHANGELOG.md'] + sorted(
    str(p.relative_to(REPO)) for p in (REPO / 'docs').glob('*.md'))
# Made by an earlier command of the same block, downloaded by the user or written by a run.
PRODUCED_ROOTS = ('data/', 'work_dirs/', 'pretrained/', 'out/', 'configs/generated')
SHELL_BUILTINS = ('.', 'source', 'cd', 'export', 'umask', 'ls')
# Programs of other projects: not checked beyond being shown.
EXTERNAL = ('tensorboard',)
# The shell wrappers: their positional arguments, the tool they run, and the positional
# arguments that tool gets (indices into the wrapper's; test.sh finds the config and checkpoint
# of a run folder) before the rest of the command line.
WRAPPERS = {'tools/dist_train.sh': (['CONFIG', 'NUM_PROCS'], 'tools.train', [0]),
            'tools/dist_test.sh': (['CONFIG', 'CHECKPOINT', 'NUM_PROCS'], 'tools.test', [0, 1]),
            'test.sh': (['RUN_DIR'], 'tools.test', None)}
# Each toy command of docs/get_started.md, and the test that runs it for real (a slow one where
# the command takes minutes); checked to exist, so that a renamed test shows up here.
TOY_COMMANDS_RUN_BY = {
    'python tools/make_toy_data.py': 'tests/tools/test_make_toy_data.py::test_command_line',
    'python tools/make_toy_pretrained.py':
        'tests/tools/test_toy_benchmark.py::test_shortened_toy_benchmark_pipeline',
    'python -m tools.train configs/toy/': 'tests/tools/test_train_test_cli.py::trained_run',
    'python -m tools.test configs/toy/':
        'tests/tools/test_train_test_cli.py::'
        'test_test_cli_evaluates_and_draws_one_image_per_val_image',
    'python -m demo.image_demo': 'tests/demo/test_image_demo.py::test_folder_of_images_and_errors',
}


def _commands(doc):
    """(line, argv) of every command in the ```sh blocks of ``doc``: continuation lines joined,
    comments dropped, ``a && b`` split, leading VAR=value assignments removed."""
    text = (REPO / doc).read_text()
    for block in re.findall(r'^```sh\n(.*?)^```', text, flags=re.S | re.M):
        for line in block.replace('\\\n', ' ').splitlines():
            line = re.sub(r'(^|\s)#.*$', '', line).strip()
            for command in filter(None, (c.strip() for c in line.split('&&'))):
                argv = shlex.split(command)
                while argv and re.match(r'^[A-Z_]+=', argv[0]):
                    argv = argv[1:]
                if argv:
                    yield command, argv


def _slug(heading):
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    heading = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading.strip()).lower()
    return re.sub(r'[^\w\- ]', '', heading).replace(' ', '-')


def _anchors(path):
    text = re.sub(r'^```.*?^```', '', path.read_text(), flags=re.S | re.M)
    slugs, seen = set(), {}
    for heading in re.findall(r'^#{1,6} (.+)$', text, flags=re.M):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        slugs.add(slug if count == 0 else f'{slug}-{count}')
    return slugs


def _make_targets():
    text = (REPO / 'Makefile').read_text()
    return set(re.findall(r'^([\w-]+):', text, flags=re.M))


class _Parsed(BaseException):
    """Raised by the patched parse_args so that main() stops right after parsing."""

    def __init__(self, namespace, parser):
        super().__init__(namespace, parser)
        self.namespace, self.parser = namespace, parser


def _parse_with_tool(module_name, args, monkeypatch):
    """Run ``module_name``'s main(args) up to its argparse call and return the namespace.
    SystemExit(2) on a flag the parser refuses; AssertionError on an abbreviated flag, which
    argparse accepts (``--eval-option`` for ``--eval-options``) but the docs should not show."""
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(parser, args=None, namespace=None):
        raise _Parsed(original(parser, args, namespace), parser)

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', parse_then_stop)
    saved_environ, saved_path = dict(os.environ), list(sys.path)
    try:
        importlib.import_module(module_name).main(args)
    except _Parsed as parsed:
        flags = {a.split('=', 1)[0] for a in args if a.startswith('--')}
        unknown = flags - set(parsed.parser._option_string_actions)
        assert not unknown, f'{module_name}: {sorted(unknown)} are not its flags as written'
        return parsed.namespace
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.path[:] = saved_path
    raise AssertionError(f'{module_name}.main did not parse its arguments')


def _placeholder(token):
    """CONFIG, CHECKPOINT, <run>, path/to/... and the like stand for a user's value."""
    return (bool(re.fullmatch(r'[A-Z][A-Z_]*', token)) or '<' in token
            or token.startswith(('path/to/', '/path/to/')))


def _check_repo_files(command, args):
    for token in args:
        if token.startswith('-') or _placeholder(token) or '=' in token:
            continue
        if token.startswith(PRODUCED_ROOTS) or not re.search(r'\.(py|sh|pth|md)$|/', token):
            continue
        paths = list(REPO.glob(token)) if '*' in token else [REPO / token]
        assert paths and all(p.exists() for p in paths), f'{command!r}: {token} does not exist'


def _all_commands():
    return [(doc, command, argv) for doc in COMMAND_DOCS for command, argv in _commands(doc)]


def _tool_and_args(doc, command, argv):
    """The module a shown command runs and the arguments it gets; None for what is not ours."""
    if argv[0] == 'srun':  # srun's own options, then the command it starts
        argv = argv[argv.index('python'):]
    if argv[0] in SHELL_BUILTINS + EXTERNAL:
        return None
    if argv[0] == 'sh':
        argv = argv[1:]
    if argv[0] in WRAPPERS:
        assert (REPO / argv[0]).is_file(), f'{doc}: {command!r}: {argv[0]} does not exist'
        positional, module_name, passed_on = WRAPPERS[argv[0]]
        args = argv[1:]
        if args == ['...']:
            return None
        assert len(args) >= len(positional), f'{doc}: {command!r}: expects {positional}'
        tool_positional = ['CONFIG', 'CHECKPOINT'] if passed_on is None else [
            args[i] for i in passed_on]
        return module_name, tool_positional + args[len(positional):]
    assert argv[0] == 'python', f'{doc}: {command!r}: not a make or python command'
    args = argv[1:]
    if args[0] == '-c':
        return None
    if args[0] == '-m':
        module_name, args = args[1], args[2:]
        assert (REPO / (module_name.replace('.', '/') + '.py')).is_file(), command
    else:
        script, args = args[0], args[1:]
        assert (REPO / script).is_file(), f'{doc}: {command!r}: {script} does not exist'
        module_name = script[:-len('.py')].replace('/', '.')
    return module_name, args


def test_readme_shows_the_two_commands_and_python_ones():
    commands = [command for command, _ in _commands('README.md')]
    assert {'make demo', 'make test'} <= set(commands)
    assert any(c.startswith('python run_experiments.py') for c in commands)


@pytest.mark.parametrize('doc', COMMAND_DOCS[1:])
def test_each_task_page_starts_with_its_commands(doc):
    text = (REPO / doc).read_text()
    title, _, rest = text.partition('\n')
    assert title.startswith('# ') and rest.lstrip('\n').startswith('```sh\n'), doc


def test_every_shown_command_exists_and_its_flags_parse(monkeypatch):
    targets = _make_targets()
    checked = 0
    for doc, command, argv in _all_commands():
        if argv[0] == 'make':
            wanted = [a for a in argv[1:] if '=' not in a]
            assert wanted and set(wanted) <= targets, f'{doc}: {command!r}: no such make target'
            continue
        tool = _tool_and_args(doc, command, argv)
        if tool is None:
            continue
        module_name, args = tool
        _check_repo_files(command, args)
        parse_args = ['x' if _placeholder(a) else a for a in args]
        try:
            _parse_with_tool(module_name, parse_args, monkeypatch)
        except (SystemExit, AssertionError) as error:
            pytest.fail(f'{doc}: {command!r}: the parser of {module_name} refused it ({error})')
        checked += 1
    assert checked >= 30


def test_the_quick_start_commands_are_the_tools_real_flags(monkeypatch):
    # An independent check of the parsing above on two commands with known values.
    args = _parse_with_tool('tools.test', ['c.py', 'k.pth', '--eval', 'mIoU', '--eval-options',
                                           'imgfile_prefix=labelIds', 'to_label_id=True'],
                            monkeypatch)
    assert args.eval == ['mIoU']
    assert dict(args.eval_options) == {'imgfile_prefix': 'labelIds', 'to_label_id': True}
    with pytest.raises(AssertionError, match='--eval-option'):
        _parse_with_tool('tools.test', ['c.py', 'k.pth', '--eval-option', 'a=1'], monkeypatch)
    with pytest.raises(SystemExit):
        _parse_with_tool('tools.test', ['c.py', 'k.pth', '--no-such-flag'], monkeypatch)
    args = _parse_with_tool('run_experiments', ['--exp', '80'], monkeypatch)
    assert args.exp == 80


def test_toy_commands_are_run_by_existing_tests():
    shown = [command for command, _ in _commands('docs/get_started.md')
             if 'toy' in command or command.startswith('python tools/make_toy')]
    for prefix, test in TOY_COMMANDS_RUN_BY.items():
        assert any(c.startswith(prefix) for c in shown), f'{prefix} no longer in get_started'
        path, name = test.split('::')
        assert re.search(rf'^def {name}\(', (REPO / path).read_text(), flags=re.M), test
    for command in shown:
        assert any(command.startswith(p) for p in TOY_COMMANDS_RUN_BY), \
            f'{command!r}: name the test that runs it in TOY_COMMANDS_RUN_BY'


@pytest.mark.slow
def test_the_toy_data_command_makes_what_the_next_commands_read(tmp_path):
    """`python tools/make_toy_data.py` as shown (default arguments), run in an empty folder: the
    data/toy paths that get_started's later commands name exist afterwards."""
    command = 'python tools/make_toy_data.py'
    shown = [argv for c, argv in _commands('docs/get_started.md')]
    assert shlex.split(command) in shown
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    run = subprocess.run([sys.executable, str(REPO / 'tools/make_toy_data.py')], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    named = {a for argv in shown for a in argv if a.startswith('data/toy/')}
    assert 'data/toy/cityscapes/leftImg8bit/val' in named
    for path in named - {'data/toy/mittiny_toygta.pth'}:  # made by make_toy_pretrained.py
        assert (tmp_path / path).exists(), path
    # What the toy configs read: converted labels and the rare-class statistics.
    gta = tmp_path / 'data/toy/gta'
    assert len(list((gta / 'labels').glob('*_labelTrainIds.png'))) == \
        len(list((gta / 'images').glob('*.png'))) > 0
    for name in ('sample_class_stats.json', 'samples_with_class.json'):
        assert (gta / name).is_file(), name


def test_slug_follows_github():
    assert _slug('Slow on a busy machine: `OMP_NUM_THREADS`') == \
        'slow-on-a-busy-machine-omp_num_threads'
    assert _slug('`tools/train.py` and `run_experiments.py`') == \
        'toolstrainpy-and-run_experimentspy'
    assert _slug('9. Published results') == '9-published-results'


@pytest.mark.parametrize('doc', LINKED_DOCS)
def test_relative_links_resolve(doc):
    path = REPO / doc
    text = re.sub(r'^```.*?^```', '', path.read_text(), flags=re.S | re.M)
    text = re.sub(r'`[^`\n]*`', '', text)
    broken = []
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'[a-z]+:', target):
            continue
        file_part, _, anchor = target.partition('#')
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f'{target} (no such file)')
        elif anchor and linked.suffix == '.md' and anchor not in _anchors(linked):
            broken.append(f'{target} (no such section)')
    assert broken == [], f'{doc}: {broken}'


def test_readme_is_a_front_page():
    readme = (REPO / 'README.md').read_text()
    assert len(readme.splitlines()) <= 200
    for page in ('get_started', 'dataset_prepare', 'train', 'inference', 'config',
                 'performance', 'troubleshooting', 'toy_benchmark'):
        assert f'(docs/{page}.md' in readme, page

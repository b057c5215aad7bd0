"""tools/find_python.sh (the interpreter `make` builds .venv with) against fake PATHs, and the Makefile."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIND_PYTHON = REPO / 'tools/find_python.sh'


def fake_python(folder, name, version, starts=True, has_venv=True, log=None):
    """A stand-in interpreter: answers find_python.sh's probe as Python `version` would."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    probe_answer = 'exit 1' if not has_venv else f'echo "{version} {path}"; exit 0'
    path.write_text('\n'.join([
        '#!/bin/sh',
        'exit 127' if not starts else '',
        f'echo "{name} $*" >> {log}' if log else '',
        f'case "$*" in *ensurepip*) {probe_answer} ;; esac',
        f'case "$1" in --version) echo "Python {version}.0" ;; esac',
        'exit 0', '']))
    path.chmod(0o755)
    return path


def find(tmp_path, *args, env=None):
    """Run find_python.sh with only tmp_path/bin on the PATH and tmp_path/pyenv as pyenv's root."""
    environ = {'PATH': str(tmp_path / 'bin'), 'PYENV_ROOT': str(tmp_path / 'pyenv'),
               'HOME': str(tmp_path)}
    environ.update(env or {})
    return subprocess.run(['/bin/sh', str(FIND_PYTHON), *args], env=environ,
                          capture_output=True, text=True)


def test_prefers_3_11_then_3_12_3_13_3_10(tmp_path):
    bin_dir = tmp_path / 'bin'
    for version in ('3.10', '3.13', '3.12'):
        fake_python(bin_dir, f'python{version}', version)
    result = find(tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, f'{bin_dir}/python3.12\n', '')
    fake_python(bin_dir, 'python3.11', '3.11')
    assert find(tmp_path).stdout == f'{bin_dir}/python3.11\n'
    (bin_dir / 'python3.11').unlink()
    (bin_dir / 'python3.12').unlink()
    assert find(tmp_path).stdout == f'{bin_dir}/python3.13\n'
    (bin_dir / 'python3.13').unlink()
    assert find(tmp_path).stdout == f'{bin_dir}/python3.10\n'


def test_passes_over_a_shim_that_does_not_start_and_a_python_without_venv(tmp_path):
    bin_dir = tmp_path / 'bin'
    fake_python(bin_dir, 'python3.11', '3.11', starts=False)    # a pyenv shim, version not active
    fake_python(bin_dir, 'python3.12', '3.12', has_venv=False)  # Debian without python3.12-venv
    fake_python(bin_dir, 'python3.13', '3.13')
    assert find(tmp_path).stdout == f'{bin_dir}/python3.13\n'


def test_finds_pythons_installed_by_pyenv_but_not_activated(tmp_path):
    fake_python(tmp_path / 'bin', 'python3.12', '3.12')
    pyenv_311 = fake_python(tmp_path / 'pyenv/versions/3.11.7/bin', 'python3.11', '3.11')
    assert find(tmp_path).stdout == f'{pyenv_311}\n'


def test_a_name_that_answers_with_another_version_is_not_taken(tmp_path):
    fake_python(tmp_path / 'bin', 'python3.11', '3.9')
    fake_python(tmp_path / 'bin', 'python3.10', '3.10')
    assert find(tmp_path).stdout == f'{tmp_path}/bin/python3.10\n'


def test_order_can_be_changed(tmp_path):
    for version in ('3.11', '3.13'):
        fake_python(tmp_path / 'bin', f'python{version}', version)
    result = find(tmp_path, env={'MICSEG_PYTHON_ORDER': '3.13 3.12'})
    assert result.stdout == f'{tmp_path}/bin/python3.13\n'


def test_none_found_is_one_line_saying_which_versions_and_how(tmp_path):
    fake_python(tmp_path / 'bin', 'python3.9', '3.9')
    fake_python(tmp_path / 'bin', 'python3.11', '3.11', starts=False)
    result = find(tmp_path)
    assert result.returncode == 1 and result.stdout == ''
    assert len(result.stderr.splitlines()) == 1
    line = result.stderr
    for what in ('3.11', '3.12', '3.13', '3.10', 'apt install', 'brew install', 'pyenv install',
                 'make PYTHON='):
        assert what in line


def test_the_python_named_by_the_user_wins(tmp_path):
    for version in ('3.11', '3.13'):
        fake_python(tmp_path / 'bin', f'python{version}', version)
    result = find(tmp_path, 'python3.13')
    assert (result.returncode, result.stdout) == (0, f'{tmp_path}/bin/python3.13\n')


def test_a_named_pyenv_shim_falls_back_to_pyenvs_copy(tmp_path):
    fake_python(tmp_path / 'bin', 'python3.12', '3.12', starts=False)
    real = fake_python(tmp_path / 'pyenv/versions/3.12.1/bin', 'python3.12', '3.12')
    assert find(tmp_path, 'python3.12').stdout == f'{real}\n'


@pytest.mark.parametrize('fake, message', [
    (dict(name='python3.9', version='3.9'), 'PYTHON=python3.9 is Python 3.9; mic-seg needs 3.10 to 3.13'),
    (dict(name='python3.12', version='3.12', has_venv=False),
     'PYTHON=python3.12 cannot make a virtual environment (no venv/ensurepip module)'),
    (dict(name='nosuch', version='3.12', starts=False), 'PYTHON=nosuch is not a Python that starts'),
])
def test_a_named_python_that_cannot_be_used_is_one_line(tmp_path, fake, message):
    fake_python(tmp_path / 'bin', **fake)
    fake_python(tmp_path / 'bin', 'python3.11', '3.11')
    result = find(tmp_path, fake['name'])
    assert result.returncode == 1 and result.stdout == ''
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(message)
    assert result.stderr.rstrip().endswith('make PYTHON=/path/to/python3.X')


def test_a_named_newer_python_is_used_with_a_warning(tmp_path):
    fake_python(tmp_path / 'bin', 'python3.14', '3.14')
    result = find(tmp_path, 'python3.14')
    assert result.returncode == 0 and result.stdout == f'{tmp_path}/bin/python3.14\n'
    assert 'not been tested on' in result.stderr


def test_a_real_interpreter_is_found_and_reported_by_its_own_path(tmp_path):
    version = '%d.%d' % sys.version_info[:2]
    (tmp_path / 'bin').mkdir()
    (tmp_path / 'bin' / f'python{version}').symlink_to(sys.executable)
    result = find(tmp_path, env={'MICSEG_PYTHON_ORDER': version})
    assert result.returncode == 0
    found = result.stdout.strip()
    answer = subprocess.run([found, '-c', 'import sys; print(sys.version_info[:2])'],
                            capture_output=True, text=True).stdout.strip()
    assert answer == str(tuple(sys.version_info[:2]))


# ----------------------------------------------------------------------------- the Makefile
def _project_copy(tmp_path):
    """The files `make install` reads, in a folder of their own (no .venv)."""
    project = tmp_path / 'project'
    (project / 'tools').mkdir(parents=True)
    for name in ('Makefile', 'pyproject.toml', 'tools/find_python.sh', 'tools/install_mmcv.py'):
        shutil.copy2(REPO / name, project / name)
    return project


def _make(project, tmp_path, *args):
    env = {'PATH': str(tmp_path / 'bin'), 'PYENV_ROOT': str(tmp_path / 'pyenv'),
           'HOME': str(tmp_path)}
    return subprocess.run([shutil.which('make'), '-s', *args], cwd=project, env=env,
                          capture_output=True, text=True)


def test_make_without_a_supported_python_stops_before_making_the_venv(tmp_path):
    project = _project_copy(tmp_path)
    fake_python(tmp_path / 'bin', 'python3.9', '3.9')
    result = _make(project, tmp_path, 'install')
    assert result.returncode != 0
    assert result.stderr.splitlines()[0].startswith('No usable Python found: mic-seg needs')
    assert not (project / '.venv').exists()


@pytest.mark.parametrize('args, chosen', [((), 'python3.12'), (('PYTHON=python3.13',), 'python3.13')])
def test_make_builds_the_venv_with_the_chosen_python(tmp_path, args, chosen):
    project = _project_copy(tmp_path)
    log = tmp_path / 'calls.log'
    for version in ('3.12', '3.13'):
        fake_python(tmp_path / 'bin', f'python{version}', version, log=log)
    _make(project, tmp_path, 'install', *args)   # stops after the venv: the fake makes none
    calls = [line for line in log.read_text().splitlines() if '-m venv' in line]
    assert calls == [f'{chosen} -m venv .venv']

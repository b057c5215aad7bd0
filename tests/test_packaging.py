"""The installed mic-seg distribution (pyproject.toml) against requirements*.txt and docs/get_started.md."""
import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import Requirement

import mmseg
from mmseg.version import __version__

REPO = Path(__file__).resolve().parents[1]


def _requirement_lines(name):
    lines = (REPO / name).read_text().splitlines()
    return {str(Requirement(ln)) for ln in lines if ln.strip() and not ln.startswith('#')}


def _installed_requirements(extra=None):
    """Requirements of the installed distribution: the runtime ones, or those of one extra."""
    out = set()
    for text in importlib.metadata.requires('mic-seg'):
        requirement = Requirement(text)
        marker = str(requirement.marker) if requirement.marker else ''
        if (extra is None and not marker) or marker == f'extra == "{extra}"':
            requirement.marker = None
            out.add(str(requirement))
    return out


def test_runtime_dependencies_are_requirements_txt_less_pytest():
    from_file = _requirement_lines('requirements.txt')
    assert _installed_requirements() == {r for r in from_file if not r.startswith('pytest')}
    assert {'torch==2.14.1', 'torchvision==0.29.1', 'mmcv==1.7.2'} <= _installed_requirements()


def test_test_extra_is_requirements_test_txt_and_pytest():
    expected = _requirement_lines('requirements-test.txt') | {
        r for r in _requirement_lines('requirements.txt') if r.startswith('pytest')}
    assert _installed_requirements('test') == expected


def test_the_environment_holds_the_pinned_stack():
    for name, specifier in (('torch', '2.14.1'), ('torchvision', '0.29.1'), ('mmcv', '1.7.2')):
        assert importlib.metadata.version(name).split('+')[0] == specifier
    for requirement in map(Requirement, _installed_requirements()):
        installed = importlib.metadata.version(requirement.name).split('+')[0]
        assert requirement.specifier.contains(installed, prereleases=True), (requirement, installed)


def test_version_and_editable_install_point_at_this_checkout():
    assert importlib.metadata.version('mic-seg') == __version__
    assert Path(mmseg.__file__).resolve().parent == REPO / 'mmseg'


def _supported_in_find_python():
    text = (REPO / 'tools/find_python.sh').read_text()
    return re.search(r'^SUPPORTED="([\d. ]+)"', text, flags=re.M).group(1).split()


def test_supported_pythons_agree_in_find_python_pyproject_and_readme():
    supported = _supported_in_find_python()
    metadata = importlib.metadata.metadata('mic-seg')
    classifiers = [c.rsplit(' :: ', 1)[1] for c in metadata.get_all('Classifier')
                   if c.startswith('Programming Language :: Python :: 3.')]
    assert classifiers == supported
    assert metadata['Requires-Python'] == f'>={supported[0]}'
    guide = (REPO / 'docs' / 'get_started.md').read_text()
    section = guide.split('## Supported Python and PyTorch', 1)[1].split('\n## ', 1)[0]
    rows = re.findall(r'^\| (3\.\d+)\b', section, flags=re.M)
    assert sorted(rows, key=lambda v: int(v.split('.')[1])) == supported

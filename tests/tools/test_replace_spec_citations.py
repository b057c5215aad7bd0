"""tools/dev/replace_spec_citations.py and docs/REFERENCE.md: every cited section exists.

replace_spec_citations: skip (this file holds examples of the citations it rewrites)
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.dev.replace_spec_citations import main, rewrite_citations

REPO = Path(__file__).resolve().parents[2]
CITED_TREES = ('mmseg', 'tools', 'configs', 'tests', 'docs', 'experiments.py',
               'run_experiments.py', 'README.md')


@pytest.mark.parametrize('text,expected', [
    ('mean over ALL pixels (SPEC 2.2).', 'mean over ALL pixels (docs/REFERENCE.md §2.2).'),
    ('ClassMix masks (SPEC 3.3.5): B', 'ClassMix masks (docs/REFERENCE.md §3.3.5): B'),
    ('adds (SPEC 7.1/7.3). Standard', 'adds (docs/REFERENCE.md §7.1/§7.3). Standard'),
    ('(SPEC 4, 6, Appendix A): the', '(docs/REFERENCE.md §4, §6, §A): the'),
    ('keys, SPEC Appendix B.', 'keys, docs/REFERENCE.md §B.'),
    ("SPEC 3.2 / 3.5's keys", "docs/REFERENCE.md §3.2 / §3.5's keys"),
    ("from SPEC's floor(x)", "from docs/REFERENCE.md's floor(x)"),
    ('SPEC 3.4.\nNext', 'docs/REFERENCE.md §3.4.\nNext'),
])
def test_citations_are_rewritten(text, expected):
    assert rewrite_citations(text)[0] == expected


@pytest.mark.parametrize('text', ["SPEC_KEYS = ('name',)", 'DACS_SPEC = dict()',
                                  "(root / 'SPEC.md').read_text()", 'SPECIAL', 'a spec 2.2'])
def test_identifiers_and_file_names_are_left_alone(text):
    assert rewrite_citations(text) == (text, 0)


def test_cli_rewrites_a_copy_and_check_mode(tmp_path, capsys):
    tree = tmp_path / 'copy'
    (tree / 'pkg').mkdir(parents=True)
    (tree / 'pkg' / 'a.py').write_text('"""Loss (SPEC 2.2)."""\nSPEC_KEYS = 1  # SPEC 7.1\n')
    (tree / 'notes.md').write_text('See SPEC 4.\n')
    (tree / 'skipped.py').write_text('# replace_spec_citations: ' + 'skip\n# SPEC 1\n')
    with pytest.raises(SystemExit):
        main([str(tree), '--check'])
    assert '3 citation(s) in 2 file(s) would be rewritten' in capsys.readouterr().out
    assert main([str(tree)]) == 3
    assert (tree / 'pkg' / 'a.py').read_text() == (
        '"""Loss (docs/REFERENCE.md §2.2)."""\nSPEC_KEYS = 1  # docs/REFERENCE.md §7.1\n')
    assert (tree / 'notes.md').read_text() == 'See docs/REFERENCE.md §4.\n'
    assert '# SPEC 1' in (tree / 'skipped.py').read_text()
    assert main([str(tree), '--check']) == 0


def _reference_sections():
    text = (REPO / 'docs' / 'REFERENCE.md').read_text()
    sections = set(re.findall(r'^#{2,3} ([0-9A-Z](?:\.[0-9]+)*)[. ]', text, flags=re.M))
    sections |= set(re.findall(r'^- \*\*(\d+\.\d+\.\d+) ', text, flags=re.M))
    return sections


def _cited_sections():
    cited = set()
    pattern = re.compile(r'docs/REFERENCE\.md ((?:§[0-9A-Z][0-9.]*[0-9A-Z](?:\s*(?:/|,)\s*)?|'
                         r'§[0-9A-Z](?:\s*(?:/|,)\s*)?)+)')
    for tree in CITED_TREES:
        paths = [REPO / tree] if (REPO / tree).is_file() else (REPO / tree).rglob('*')
        for path in paths:
            if path.suffix not in ('.py', '.md') or 'replace_spec' in path.name:
                continue
            new_text, _ = rewrite_citations(path.read_text())
            for match in pattern.finditer(new_text):
                cited |= set(re.findall(r'§([0-9A-Z](?:[0-9.]*[0-9])?)', match.group(1)))
    return cited


def test_every_cited_section_exists_in_the_reference():
    sections = _reference_sections()
    assert {'0', '1', '1.1', '2.2', '3.3', '3.3.5', '4', '7.3', '9', 'A', 'B'} <= sections
    cited = _cited_sections()
    assert len(cited) > 20
    assert cited - sections == set()


def test_script_runs_from_the_command_line(tmp_path):
    shutil.copy(REPO / 'docs' / 'ARCHITECTURE.md', tmp_path / 'ARCHITECTURE.md')
    out = subprocess.run([sys.executable, str(REPO / 'tools' / 'dev' /
                                              'replace_spec_citations.py'), str(tmp_path)],
                         capture_output=True, text=True, check=True)
    assert 'citation(s)' in out.stdout
    assert not re.search(r'\bSPEC \d', (tmp_path / 'ARCHITECTURE.md').read_text())

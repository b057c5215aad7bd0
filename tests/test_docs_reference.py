"""docs/REFERENCE.md: every section the code and docs cite exists, and nothing cites a document
that is not in the repository."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CITED_TREES = ('mmseg', 'tools', 'configs', 'tests', 'docs', 'experiments.py',
               'run_experiments.py', 'README.md')


def _files():
    for tree in CITED_TREES:
        paths = [REPO / tree] if (REPO / tree).is_file() else sorted((REPO / tree).rglob('*'))
        yield from (p for p in paths if p.suffix in ('.py', '.md', '.sh') and p.is_file())


def _reference_sections():
    text = (REPO / 'docs' / 'REFERENCE.md').read_text()
    sections = set(re.findall(r'^#{2,3} ([0-9A-Z](?:\.[0-9]+)*)[. ]', text, flags=re.M))
    sections |= set(re.findall(r'^- \*\*(\d+\.\d+\.\d+) ', text, flags=re.M))
    return sections


def _cited_sections():
    cited = set()
    pattern = re.compile(r'docs/REFERENCE\.md((?:\s*(?:/|,)?\s*§[0-9A-Z](?:[0-9.]*[0-9])?)+)')
    for path in _files():
        for match in pattern.finditer(path.read_text()):
            cited |= set(re.findall(r'§([0-9A-Z](?:[0-9.]*[0-9])?)', match.group(1)))
    return cited


def test_every_cited_section_exists_in_the_reference():
    sections = _reference_sections()
    assert {'0', '1', '1.1', '2.2', '3.3', '3.3.5', '4', '7.3', '9', 'A', 'B'} <= sections
    cited = _cited_sections()
    assert len(cited) > 20
    assert cited - sections == set()


def test_no_file_cites_the_internal_fact_sheet():
    # Users have the papers and docs/; a citation of anything else is a dead end for them.
    citing = [str(p.relative_to(REPO)) for p in _files()
              if p.name != 'test_docs_reference.py'
              and re.search(r'\bSPEC(?:\s+(?:\d|Appendix)|\'s)', p.read_text())]
    assert citing == []

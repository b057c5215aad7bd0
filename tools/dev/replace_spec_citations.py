"""Rewrite citations of the internal fact sheet ("SPEC 2.2", "(SPEC 3.3.5)", "SPEC 7.1/7.3",
"SPEC 4, 6, Appendix A") into citations of docs/REFERENCE.md ("docs/REFERENCE.md §2.2", ...),
whose numbered sections carry the same numbers.

    python tools/dev/replace_spec_citations.py mmseg tools configs tests docs README.md \
        experiments.py run_experiments.py [--check]

Only whole-word ``SPEC`` followed by section numbers (or ``SPEC's``) is rewritten: identifiers
such as ``SPEC_KEYS`` / ``DACS_SPEC`` and file names such as ``SPEC.md`` are left alone. Files
holding the line ``replace_spec_citations: skip`` (this script and its test) are skipped.
With ``--check`` nothing is written; the exit status is 1 when a file would change.
"""
import argparse
import os
import os.path as osp
import re
import sys

__all__ = ['rewrite_citations', 'rewrite_file', 'iter_files', 'main']

REFERENCE = 'docs/REFERENCE.md'
SKIP_MARKER = 'replace_spec_citations: ' + 'skip'
SUFFIXES = ('.py', '.md', '.sh', '.txt', '.cfg', '.ini')

_SECTION = r'(?:Appendix\s+[A-C]\b|[A-C]\b(?!\.\w)|\d+(?:\.\d+)*)'
_SEPARATOR = r'(?:\s*/\s*|,\s*|\s+and\s+)'
_CITATION = re.compile(
    rf'\bSPEC\b(?!\.md|_)(?P<sections>\s+{_SECTION}(?:{_SEPARATOR}{_SECTION})*)?'
    r"(?P<possessive>'s)?")


def _section_label(section):
    """'Appendix A' -> '§A', '2.2' -> '§2.2'."""
    section = section.strip()
    if section.startswith('Appendix'):
        section = section.split()[-1]
    return f'§{section}'


def _replace(match):
    sections = match.group('sections')
    possessive = match.group('possessive') or ''
    if not sections:
        return f'{REFERENCE}{possessive}'
    parts = re.split(f'({_SEPARATOR})', sections.strip())
    rewritten = ''.join(part if i % 2 else _section_label(part) for i, part in enumerate(parts))
    return f'{REFERENCE} {rewritten}{possessive}'


def rewrite_citations(text):
    """(new text, number of citations rewritten)."""
    return _CITATION.subn(_replace, text)


def iter_files(paths):
    """Text files under ``paths`` (files or folders) with a known suffix, sorted."""
    for path in paths:
        if osp.isfile(path):
            yield path
            continue
        if not osp.isdir(path):
            raise FileNotFoundError(f'{path} is neither a file nor a folder')
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith('.') and d != '__pycache__')
            for name in sorted(files):
                if name.endswith(SUFFIXES):
                    yield osp.join(folder, name)


def rewrite_file(path, write=True):
    """Rewrite one file in place; returns the number of citations rewritten (0 if skipped)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if SKIP_MARKER in text:
        return 0
    new_text, count = rewrite_citations(text)
    if count and write:
        with open(path, 'w', encoding='utf-8') as f:
            f.write(new_text)
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('paths', nargs='+', help='files or folders to rewrite')
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 when some file would change')
    args = parser.parse_args(argv)
    total, changed = 0, 0
    for path in iter_files(args.paths):
        count = rewrite_file(path, write=not args.check)
        if count:
            changed += 1
            total += count
            print(f'{path}: {count} citation(s)')
    verb = 'would be rewritten' if args.check else 'rewritten'
    print(f'{total} citation(s) in {changed} file(s) {verb}')
    if args.check and total:
        sys.exit(1)
    return total


if __name__ == '__main__':
    main()

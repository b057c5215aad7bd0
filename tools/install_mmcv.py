"""Install mmcv 1.7.2 from its unchanged PyPI sdist on Python 3.13 and newer (`make install` runs it).

mmcv 1.7.2's setup.py reads its version with ``exec`` inside a function and then looks the name up
in ``locals()``. Python 3.13 made ``locals()`` in a function a snapshot (PEP 667, "Defined mutation
semantics for locals()" in What's New in Python 3.13), so the name is never found and the build stops
with ``KeyError: '__version__'``. pip cannot even download the sdist there (it builds the metadata
first), so this script fetches it from the package index (the Simple API, PEP 503/691), checks its
SHA-256, gives ``exec`` a namespace of its own (the fix the PEP recommends) and lets pip build and
install the result. On Python 3.12 and older it does nothing: pip installs the sdist as it is.

    python tools/install_mmcv.py [--force]     # --force: apply the route on any Python
"""
import argparse
import hashlib
import html.parser
import importlib.metadata
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request

VERSION = '1.7.2'
SDIST = f'mmcv-{VERSION}.tar.gz'
SDIST_SHA256 = '2116a1609f9d3f59824074774366fd8b9410437bc95a24d535669b35d55352be'
DEFAULT_INDEX = 'https://pypi.org/simple'

# The two lines of mmcv 1.7.2's get_version() and what they become.
EXEC_LINE = "exec(compile(f.read(), version_file, 'exec'))"
EXEC_FIXED = "exec(compile(f.read(), version_file, 'exec'), version_scope)"
LOOKUP_LINE = "return locals()['__version__']"
LOOKUP_FIXED = "return version_scope['__version__']"
OPEN_LINE = "with open(version_file, encoding='utf-8') as f:"


class SetupPatchError(RuntimeError):
    """setup.py is not the one this fix was written for."""


def patch_get_version(source):
    """Return mmcv's setup.py source with get_version() reading the version into its own dict."""
    for line in (EXEC_LINE, LOOKUP_LINE, OPEN_LINE):
        if source.count(line) != 1:
            raise SetupPatchError(f'expected one {line!r} in setup.py, found {source.count(line)}')
    lines = source.splitlines(keepends=True)
    out = []
    for line in lines:
        indent = line[:len(line) - len(line.lstrip())]
        if line.strip() == OPEN_LINE:
            out.append(f'{indent}version_scope = {{}}\n')
        out.append(line.replace(EXEC_LINE, EXEC_FIXED).replace(LOOKUP_LINE, LOOKUP_FIXED))
    return ''.join(out)


def index_url():
    """The index pip is configured with (PIP_INDEX_URL, pip config), else PyPI."""
    if os.environ.get('PIP_INDEX_URL'):
        return os.environ['PIP_INDEX_URL']
    configured = subprocess.run(
        [sys.executable, '-m', 'pip', 'config', 'get', 'global.index-url'],
        capture_output=True, text=True).stdout.strip()
    return configured or DEFAULT_INDEX


class _LinkParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == 'a':
            self.links.append(dict(attrs).get('href', ''))


def sdist_url(index):
    """URL of mmcv-1.7.2.tar.gz on the project's page of a PEP 503 (HTML) or 691 (JSON) index."""
    page = index.rstrip('/') + '/mmcv/'
    request = urllib.request.Request(page, headers={
        'Accept': 'application/vnd.pypi.simple.v1+json, text/html;q=0.1'})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read().decode('utf-8')
        content_type = response.headers.get('Content-Type', '')
    if 'json' in content_type:
        links = [entry['url'] for entry in json.loads(body)['files']]
    else:
        parser = _LinkParser()
        parser.feed(body)
        links = parser.links
    for link in links:
        link = urllib.parse.urldefrag(link).url  # PEP 503's '#sha256=...': checked in download()
        if urllib.parse.urlsplit(link).path.endswith('/' + SDIST):
            return urllib.parse.urljoin(page, link)
    raise SystemExit(f'install_mmcv: {SDIST} not found on {page}: check PIP_INDEX_URL '
                     f'or pip config global.index-url')


def download(url, folder):
    path = os.path.join(folder, SDIST)
    with urllib.request.urlopen(url, timeout=180) as response:
        data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f'install_mmcv: {url} has SHA-256 {digest}, expected {SDIST_SHA256}: '
                         'the file on the index is not the mmcv 1.7.2 release; do not install it')
    with open(path, 'wb') as f:
        f.write(data)
    return path


def installed_version():
    try:
        return importlib.metadata.version('mmcv')
    except importlib.metadata.PackageNotFoundError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--force', action='store_true', help='apply the route on any Python')
    args = parser.parse_args()
    if sys.version_info < (3, 13) and not args.force:
        return
    if installed_version() == VERSION:
        return
    with tempfile.TemporaryDirectory(prefix='mmcv-sdist-') as folder:
        url = sdist_url(index_url())
        print(f'install_mmcv: Python {sys.version_info[0]}.{sys.version_info[1]}: '
              f'building mmcv {VERSION} from {SDIST} with get_version() fixed for PEP 667')
        with tarfile.open(download(url, folder)) as tar:
            tar.extractall(folder, filter='data')
        setup_py = os.path.join(folder, f'mmcv-{VERSION}', 'setup.py')
        with open(setup_py, encoding='utf-8') as f:
            source = f.read()
        try:
            source = patch_get_version(source)
        except SetupPatchError as error:
            raise SystemExit(f'install_mmcv: {error}: the sdist changed; see docs/INSTALL.md')
        with open(setup_py, 'w', encoding='utf-8') as f:
            f.write(source)
        subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-build-isolation',
                        os.path.dirname(setup_py)], check=True)


if __name__ == '__main__':
    main()

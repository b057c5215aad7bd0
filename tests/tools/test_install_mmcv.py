"""tools/install_mmcv.py: the PEP 667 fix of mmcv 1.7.2's get_version() and the sdist look-up."""
import hashlib
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tools import install_mmcv

REPO = Path(__file__).resolve().parents[2]

# A setup.py of the shape the fix is for: the version file is exec'd inside a function and its
# name looked up in locals() (a common idiom, written here for the test).
SETUP_PY = '''\
import os

def get_version():
    version_file = 'pkg/version.py'
    with open(version_file, encoding='utf-8') as f:
        exec(compile(f.read(), version_file, 'exec'))
    return locals()['__version__']

VERSION = get_version()
'''


def _run_setup(source, folder):
    """Execute a setup.py source in `folder` (which holds pkg/version.py); return its VERSION."""
    (folder / 'pkg').mkdir(exist_ok=True)
    (folder / 'pkg' / 'version.py').write_text("__version__ = '1.7.2'\nshort_version = '1.7'\n")
    script = f'import os; os.chdir({str(folder)!r}); ns = {{}}; exec({source!r}, ns); print(ns["VERSION"])'
    return subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)


def test_patched_get_version_reads_the_version_on_this_python(tmp_path):
    result = _run_setup(install_mmcv.patch_get_version(SETUP_PY), tmp_path)
    assert (result.returncode, result.stdout) == (0, '1.7.2\n')


def test_unpatched_get_version_fails_exactly_from_python_3_13(tmp_path):
    result = _run_setup(SETUP_PY, tmp_path)
    if sys.version_info >= (3, 13):
        assert result.returncode == 1 and "KeyError: '__version__'" in result.stderr
    else:
        assert (result.returncode, result.stdout) == (0, '1.7.2\n')


def test_patch_changes_only_get_version():
    patched = install_mmcv.patch_get_version(SETUP_PY)
    removed = set(SETUP_PY.splitlines()) - set(patched.splitlines())
    added = set(patched.splitlines()) - set(SETUP_PY.splitlines())
    assert removed == {"        exec(compile(f.read(), version_file, 'exec'))",
                       "    return locals()['__version__']"}
    assert added == {'    version_scope = {}',
                     "        exec(compile(f.read(), version_file, 'exec'), version_scope)",
                     "    return version_scope['__version__']"}


@pytest.mark.parametrize('source', [
    SETUP_PY.replace("return locals()['__version__']", "return '1.7.2'"),
    SETUP_PY + SETUP_PY,
])
def test_patch_refuses_a_setup_py_it_was_not_written_for(source):
    with pytest.raises(install_mmcv.SetupPatchError, match='expected one'):
        install_mmcv.patch_get_version(source)


class _Index(http.server.BaseHTTPRequestHandler):
    """A tiny package index: /json/mmcv/ (PEP 691), /html/mmcv/ (PEP 503) and the files."""
    sdist = b'not the real sdist'

    def do_GET(self):
        files = [f'../../files/{install_mmcv.SDIST}', '../../files/mmcv-1.7.1.tar.gz']
        if self.path == '/json/mmcv/':
            body = json.dumps({'files': [{'filename': Path(url).name, 'url': url}
                                         for url in files]}).encode()
            kind = 'application/vnd.pypi.simple.v1+json'
        elif self.path == '/html/mmcv/':
            body = ''.join(f'<a href="{url}#sha256=0">{Path(url).name}</a>'
                           for url in files).encode()
            kind = 'text/html'
        elif self.path == f'/files/{install_mmcv.SDIST}':
            body, kind = self.sdist, 'application/octet-stream'
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Type', kind)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def index():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize('flavour', ['json', 'html'])
def test_sdist_url_is_found_on_a_json_or_html_index(index, flavour):
    url = install_mmcv.sdist_url(f'{index}/{flavour}/')
    assert url == f'{index}/files/{install_mmcv.SDIST}'


def test_a_download_with_another_checksum_is_refused(index, tmp_path):
    with pytest.raises(SystemExit, match='has SHA-256 .* expected 2116a160'):
        install_mmcv.download(f'{index}/files/{install_mmcv.SDIST}', str(tmp_path))
    assert not (tmp_path / install_mmcv.SDIST).exists()


def test_a_download_with_the_pinned_checksum_is_saved(index, tmp_path, monkeypatch):
    monkeypatch.setattr(install_mmcv, 'SDIST_SHA256', hashlib.sha256(_Index.sdist).hexdigest())
    path = install_mmcv.download(f'{index}/files/{install_mmcv.SDIST}', str(tmp_path))
    assert Path(path).read_bytes() == _Index.sdist


def test_index_url_follows_pip_index_url(monkeypatch):
    monkeypatch.setenv('PIP_INDEX_URL', 'https://mirror.example/simple')
    assert install_mmcv.index_url() == 'https://mirror.example/simple'


def test_does_nothing_where_mmcv_1_7_2_is_installed_or_pip_can_build_it():
    # In the test environment mmcv 1.7.2 is installed (on 3.13 by this script), so no network.
    result = subprocess.run([sys.executable, str(REPO / 'tools/install_mmcv.py')],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, '', '')

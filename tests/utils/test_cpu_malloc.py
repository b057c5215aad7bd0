"""cpu_malloc_reuse: freed CPU memory is reused instead of being mapped and zeroed again."""
import os.path as osp
import resource
import subprocess
import sys

import pytest
from mmcv.utils import Config

from mmseg.utils import configure_cpu_malloc, setup_cpu_malloc
from mmseg.utils.cpu_malloc import _glibc

needs_glibc = pytest.mark.skipif(_glibc() is None, reason='the C library is not glibc')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


# Run in a fresh interpreter, so that glibc's state is its default one: prints the minor page
# faults while a 64 MiB block is allocated and written right after one of the same size was freed.
PROBE = """
import ctypes, importlib.util, resource, sys
spec = importlib.util.spec_from_file_location('cpu_malloc', 'mmseg/utils/cpu_malloc.py')
cpu_malloc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cpu_malloc)  # the module alone: no torch to import
if sys.argv[1] == 'reuse':
    assert cpu_malloc.configure_cpu_malloc(True)
libc = ctypes.CDLL('libc.so.6')
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 64 * 2**20  # larger than glibc's largest mmap threshold (32 MiB)
for _ in range(2):
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
block = libc.malloc(size)
ctypes.memset(block, 1, size)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults_of_a_reallocation(mode):
    out = subprocess.run([sys.executable, '-c', PROBE, mode], capture_output=True, text=True,
                         check=True, cwd=REPO)
    return int(out.stdout.split()[-1])


@needs_glibc
def test_reuse_keeps_freed_blocks_where_glibc_maps_them_again():
    pages = 64 * 2**20 // resource.getpagesize()
    # glibc's default: the block is unmapped when freed, and every page faults again.
    assert _page_faults_of_a_reallocation('default') > pages // 2
    assert _page_faults_of_a_reallocation('reuse') < pages // 20


@pytest.fixture
def restore_glibc_defaults():
    yield
    configure_cpu_malloc(False)


@needs_glibc
def test_setup_follows_the_config_key_and_the_device(restore_glibc_defaults):
    assert setup_cpu_malloc(Config(dict()), 'cpu')  # on by default
    assert setup_cpu_malloc(Config(dict(cpu_malloc_reuse=True)), 'cpu')
    assert not setup_cpu_malloc(Config(dict(cpu_malloc_reuse=False)), 'cpu')
    assert not setup_cpu_malloc(Config(dict(cpu_malloc_reuse=True)), 'cuda')


def test_a_non_bool_value_is_refused_naming_the_key():
    with pytest.raises(TypeError, match=r"cpu_malloc_reuse must be True or False, got 'yes'"):
        setup_cpu_malloc(Config(dict(cpu_malloc_reuse='yes')), 'cpu')
    with pytest.raises(TypeError, match='reuse must be True or False'):
        configure_cpu_malloc(1)


def test_the_default_runtime_switches_it_on():
    cfg = Config.fromfile('configs/_base_/default_runtime.py')
    assert cfg.cpu_malloc_reuse is True

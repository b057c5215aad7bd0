"""Reuse of freed CPU memory by glibc's malloc, for training and inference on the CPU.

By default glibc serves every allocation of 32 MiB or more (and, until its threshold adapts, of
128 KiB or more) with a fresh ``mmap`` and gives it back to the kernel with ``munmap`` when it is
freed. A MIC(HRDA) step on the CPU allocates and frees feature maps of that size hundreds of times
(a 2x1024x64x64 float map of the DAFormer fusion is 32 MiB), and every fresh mapping is zeroed by
the kernel page by page on first touch: counted with ``resource.getrusage`` on a 2-core Xeon, one
MiT-B0 training step at 512 crops made about 3.3 million minor page faults and spent a fifth of
its CPU time in the kernel (docs/performance.md).

``configure_cpu_malloc(True)`` sets glibc's ``M_MMAP_MAX`` to 0 (every block comes from the heap)
and ``M_TRIM_THRESHOLD`` to its maximum (freed memory stays with the process), so that the next
step reuses the pages of the previous one. The price is that the process keeps its peak memory
until it exits. This is glibc's documented ``mallopt(3)`` interface; other C libraries (musl,
macOS) are left alone.
"""
import ctypes
import ctypes.util
import functools

__all__ = ['configure_cpu_malloc', 'check_malloc_reuse_option', 'setup_cpu_malloc']

# mallopt(3) parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# glibc's defaults, restored by configure_cpu_malloc(False).
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_DEFAULT_MMAP_MAX = 65536
_MAX_INT = 2**31 - 1


@functools.lru_cache(maxsize=None)
def _glibc():
    """glibc as a ctypes library, or None when the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
        return libc if hasattr(libc, 'mallopt') and hasattr(libc, 'malloc_trim') else None
    except (OSError, AttributeError):
        return None


def check_malloc_reuse_option(value, key='cpu_malloc_reuse'):
    """Return ``value`` if it is a bool; otherwise raise TypeError naming the config ``key``."""
    if not isinstance(value, bool):
        raise TypeError(f'config key {key} must be True or False, got {value!r}')
    return value


def configure_cpu_malloc(reuse=True):
    """Make this process keep and reuse freed memory (``reuse=True``) or restore glibc's defaults.

    Args:
        reuse (bool): True: ``M_MMAP_MAX=0`` and the largest ``M_TRIM_THRESHOLD``; False: glibc's
            default values of both, and the memory kept so far is given back (``malloc_trim``).

    Returns:
        bool: whether the setting was applied (False where the C library is not glibc).

    Raises:
        TypeError: ``reuse`` is not a bool.
    """
    check_malloc_reuse_option(reuse, 'reuse')
    libc = _glibc()
    if libc is None:
        return False
    if reuse:
        ok = libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, _MAX_INT)
    else:
        ok = (libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
              and libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD))
        libc.malloc_trim(0)
    return bool(ok)


def setup_cpu_malloc(cfg, device_type):
    """Apply the config key ``cpu_malloc_reuse`` (default True) to a run on ``device_type``.

    Only CPU runs are changed: on a GPU the feature maps live in CUDA's own caching allocator.

    Returns:
        bool: whether reuse was switched on.

    Raises:
        TypeError: ``cpu_malloc_reuse`` is not a bool.
    """
    reuse = check_malloc_reuse_option(cfg.get('cpu_malloc_reuse', True))
    return bool(reuse and device_type == 'cpu' and configure_cpu_malloc(True))

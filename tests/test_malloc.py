"""The glibc heap tuning of a served worker."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chinwag import malloc

GLIBC = malloc._libc() is not None


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_freed_large_blocks_leave_the_heap_once_the_threshold_is_fixed() -> None:
    """glibc raises its own threshold to a freed block's size; fixed, the next block of that
    size is mapped (and unmapped when freed) again. Run in a fresh process: it is global."""
    script = f"""
import ctypes, sys
sys.path[:0] = {sys.path!r}
from chinwag import malloc
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "fixed":
    assert malloc.fix_mmap_threshold(128)
libc.free(libc.malloc(8 << 20))  # a mapped block: glibc's threshold rises to 8 MiB
block = libc.malloc(1 << 20)  # 1 MiB: from the heap unless the threshold is fixed
maps = open("/proc/self/maps").read()
print(any(line.startswith(f"{{block - 16:x}}") for line in maps.splitlines()))
"""
    mapped = {
        mode: subprocess.run(
            [sys.executable, "-c", script, mode], capture_output=True, text=True, check=True
        ).stdout.strip()
        for mode in ("dynamic", "fixed")
    }
    assert mapped == {"dynamic": "False", "fixed": "True"}


def test_release_free_memory_is_harmless() -> None:
    malloc.release_free_memory()

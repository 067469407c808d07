"""glibc's heap, tuned for a long-lived worker: freed buffers go back to the system."""

from __future__ import annotations

import contextlib
import ctypes
import sys
from functools import cache

M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)


@cache
def _libc() -> ctypes.CDLL | None:
    """glibc, or None elsewhere (macOS, musl: neither has malloc_trim); looked up once."""
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim"):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


def release_free_memory() -> None:
    """Hands the heap's free pages back to the system (glibc): loading the ONNX model leaves
    ~55 MB of freed buffers that would otherwise stay resident for the worker's life."""
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(OSError):
            libc.malloc_trim(0)


def fix_mmap_threshold(kb: int) -> bool:
    """Allocations of `kb` KiB or more get pages of their own, returned to the system when
    freed. glibc's own threshold starts at 128 KiB but rises to the size of each large block
    freed (up to 32 MiB): after the model's load, the per-batch buffers of ONNX Runtime, Arrow
    and Lance come from the heap instead and their freed space stays resident. Setting it
    keeps it where it is. False when there is no glibc to set it in."""
    libc = _libc()
    if libc is None:
        return False
    if not libc.mallopt(M_MMAP_THRESHOLD, kb * 1024):
        raise ValueError(f"glibc refused an mmap threshold of {kb} KiB")
    return True

"""release_free_heap: what the C heap freed leaves resident memory (glibc)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from igd.heap import release_free_heap

BLOCK = 16 * 1024  # below glibc's mmap threshold: from the heap itself
BLOCKS = 2048  # 32 MiB


def resident_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(
    getattr(ctypes.CDLL(None), "malloc_trim", None) is None, reason="not glibc (no malloc_trim)"
)
def test_freed_heap_memory_leaves_resident_memory() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(BLOCK) for _ in range(BLOCKS)]
    assert all(blocks)
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)
    kept = libc.malloc(BLOCK)  # above the others: the heap's top stays in use
    for block in blocks:
        libc.free(block)
    held = resident_kib()

    release_free_heap()

    assert held - resident_kib() > BLOCKS * BLOCK // 1024 // 2
    libc.free(kept)

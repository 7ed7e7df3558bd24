"""Giving the C heap's free pages back to the system after a burst of large temporaries.

glibc keeps what a large operation freed for reuse, in the arena of whichever thread ran it:
after the daemon's start with 10,000 saved mappings, or a listing of 10,000 map elements through
libnftables, tens of MB that resident memory would otherwise keep. musl's malloc returns such
memory by itself and has no malloc_trim, so there this does nothing.
"""

from __future__ import annotations

import ctypes


def release_free_heap() -> None:
    """glibc's malloc_trim(0): every arena's free pages go back to the system (milliseconds)."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)

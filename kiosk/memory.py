"""Keep the C heap from holding on to freed video memory (glibc only).

Decoded frames, decoder contexts and textures are megabytes each and come and go with every
item. With glibc's defaults, buffers above the dynamic mmap threshold end up in the heap
after the first one is freed, and every decoder thread gets an arena of its own: freed
memory stays in the process, and the peak resident set keeps creeping up with the loop.
Measured on the benchmark's mixed loop (720p and 1080p clips, a poster, a QR slide, 1080p
screen), resident set at each item boundary::

    glibc defaults                          110 .. 199 MB
    mmap threshold 128 KiB, 2 arenas        104 .. 142 MB

Big blocks are then mapped on their own and given back when freed; the few small-block
arenas are shared. Elsewhere than glibc this does nothing.

A closed decoder still leaves megabytes of small freed blocks in the arena of the thread that
ran it, where another thread's allocations do not reuse them; ``give_back_free_memory``
(``malloc_trim``) returns them to the system. It takes 0.3-9 ms, so it runs in the decoder
threads, after a decoder closes, never on the screen thread.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024
ARENA_MAX = 2


def _libc_function(name: str) -> Any | None:
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def give_back_free_memory() -> bool:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``); False when
    not glibc."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


def keep_heap_small() -> bool:
    """Set glibc's allocator up for large, short-lived buffers; False when not glibc."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_ARENA_MAX, ARENA_MAX)
    )
    log.debug("glibc allocator tuned for video buffers: %s", applied)
    return applied

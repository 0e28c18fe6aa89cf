"""Keep a long-running server's memory flat without making each read pay for it (glibc only)."""

from __future__ import annotations

import contextlib
import ctypes

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

ARENAS = 2  # one heap per thread by default: reads hop between the pool's ~40 threads and each keeps its own
MMAP_THRESHOLD = 16 << 20  # blocks from 16 MiB (big photos) are mapped and go straight back to the OS
TRIM_THRESHOLD = 64 << 20  # free memory kept at the top of a heap before it is given back


def steady_malloc() -> None:
    """Tune glibc's allocator for a server that reads pictures from a pool of threads.

    By default each thread that allocates gets its own heap ("arena"), and freed image buffers stay behind in
    all of them: RSS crept ~1 MiB per 1,000 reads. Two arenas bound that. Fixed thresholds stop glibc from
    moving them as blocks are freed; they are set high because a low mmap threshold (128 KiB, tried first)
    maps and faults in every image buffer afresh: ~1.1 ms of system time and ~1.5 ms more user time per
    single-digit read. Measured with `python -m benchmarks.serve_load` (memory) and in-process reads.
    Elsewhere than glibc this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_ARENA_MAX, ARENAS)
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (OSError, AttributeError):
        pass


def give_back() -> None:
    """Return free heap memory to the system (glibc's malloc_trim): after a large picture, the heap's free
    blocks would otherwise stay with the process until other reads reuse them. Elsewhere: nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)

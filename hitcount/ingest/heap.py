"""The C heap of a big replay: freed memory kept for the next arrays, not given back.

glibc's malloc gives an allocation above its mmap threshold (128 KiB at first, raised up
to 32 MiB as such blocks are freed) pages of its own, and hands freed memory at the heap's
top back to the system beyond 128 KiB. A replay on every core makes and frees arrays of
megabytes for every range, in the parent and in each worker, so each array's pages fault
in afresh: a third of a 2M-line replay's CPU was the kernel's. `keep_freed_memory` raises
both thresholds (arrays up to `MMAP_THRESHOLD_BYTES` come from the heap, and up to
`TRIM_THRESHOLD_BYTES` of freed heap stays mapped), before the workers fork, so they
inherit it. The process then holds its peak heap until it exits (a few more MiB of
resident memory), for 10-20% less wall time (docs/performance.md).

Only on glibc, and not when the environment already tunes malloc (`MALLOC_*`): the
user's settings win.
"""

from __future__ import annotations

import os

#: `mallopt` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Allocations up to this size come from the heap, reused once freed.
MMAP_THRESHOLD_BYTES = 64 << 20
#: Freed heap kept mapped up to this size.
TRIM_THRESHOLD_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Raise malloc's mmap and trim thresholds for this process and its future children.

    Returns whether both were set (False: not glibc, tuned by the environment, or refused).
    """
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")  # None, or ValueError: another C library
    except (ValueError, OSError, AttributeError):
        return False
    if not glibc:
        return False
    import ctypes  # here: only a replay on every core loads it

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    set_mmap: bool = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    set_trim: bool = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    return set_mmap and set_trim

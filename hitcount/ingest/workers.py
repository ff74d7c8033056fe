"""How a replay reads its input, decided by size without loading numpy.

Big files go to worker processes, small ones line by line, the rest in blocks on this core.

`parallel` (which loads numpy at import) is imported only once this says a file is big
enough, and numpy not at all for a small input, so a small append costs what it adds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hitcount.ingest.reader import GZIP_MAGIC

#: Files smaller than this are decoded in the calling process.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024


def is_gzip(path: str) -> bool:
    """Whether the file starts with the gzip magic bytes.

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def worker_count(path: str) -> int:
    """How many worker processes a replay of `path` should use (0: none, stay serial).

    A gzip file counts from a quarter of the size (it holds about four times its bytes).

    `$HITCOUNT_WORKERS` overrides the core count (0 or 1: always serial).
    """
    try:
        size = Path(path).stat().st_size
        gzipped = is_gzip(path)
    except OSError:
        return 0
    if size < (PARALLEL_MIN_BYTES // 4 if gzipped else PARALLEL_MIN_BYTES):
        return 0
    return stream_workers()


def stream_workers() -> int:
    """How many worker processes a big input should use (0: stay serial), whatever its size.

    `$HITCOUNT_WORKERS` overrides the core count (0 or 1: always serial).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted = os.environ.get("HITCOUNT_WORKERS", "")
    workers = int(wanted) if wanted.isdigit() else min(cores or 1, 8)
    return workers if workers >= 2 else 0


#: Plain inputs smaller than this are read line by line while numpy is not loaded yet:
#: importing it (about 0.1 s) costs more than parsing a few thousand lines in Python, and a
#: cron job appending a minute of log should cost what it adds.
SMALL_INPUT_BYTES = 256 * 1024


def small_without_numpy(sources: list[str], total_bytes: int | None) -> bool:
    """Whether `sources` are few enough plain bytes to read line by line (numpy unloaded)."""
    if total_bytes is None or total_bytes >= SMALL_INPUT_BYTES or "numpy" in sys.modules:
        return False
    return not any(_gzipped(source) for source in sources)


def _gzipped(source: str) -> bool:
    try:
        return is_gzip(source)
    except OSError:  # the replay reports it
        return False

"""A worker's pipes to the parent hold a range's result in a few writes, not a hundred."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import stat
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from hitcount.ingest import parallel

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux pipes")


def _pipe_sizes() -> list[int]:
    fds = [int(name) for name in os.listdir("/proc/self/fd")]
    sizes = []
    for fd in fds:
        try:
            if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode):
                sizes.append(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ))
        except OSError:
            continue
    return sizes


def _echo(size: int) -> bytes:
    return bytes(range(256)) * (size // 256)


def test_the_pool_pipes_are_widened_and_big_results_arrive_whole() -> None:
    most = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=parallel._start_worker, initargs=(os.getpid(),)
    ) as pool:
        sizes = pool.submit(_pipe_sizes).result()
        big = pool.submit(_echo, 7 << 20).result()
    assert sizes and min(sizes) >= min(parallel.PIPE_BYTES, most)
    assert big == bytes(range(256)) * ((7 << 20) // 256)


def test_a_fresh_pipe_is_widened_and_a_closed_one_is_left_alone() -> None:
    read, write = os.pipe()
    try:
        assert fcntl.fcntl(read, fcntl.F_GETPIPE_SZ) < parallel.PIPE_BYTES  # 64 KiB
        parallel._widen_pipe(write)
        assert fcntl.fcntl(read, fcntl.F_GETPIPE_SZ) == parallel.PIPE_BYTES
        parallel._widen_pipe(write)  # already wide: unchanged
        assert fcntl.fcntl(read, fcntl.F_GETPIPE_SZ) == parallel.PIPE_BYTES
    finally:
        os.close(read)
        os.close(write)
    parallel._widen_pipe(write)  # closed now: nothing raised

"""Decoding a big input file on every core: workers read and decode byte ranges.

The file is cut into ranges that end on line boundaries. Each worker opens the file, reads
its range, counts its lines and decodes it into columns (or reports that the range needs the
careful per-line path). The parent gets the results in file order, so hits are recorded in
the order they appear and line numbers stay exact; only columns cross the process boundary
(12 bytes a hit), never the input text.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import fcntl
import multiprocessing
import os
import signal
import stat
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from hitcount.ingest.columnar import decode_ndjson_block
from hitcount.ingest.formats import make_parser
from hitcount.ingest.formats.csv import CsvParser
from hitcount.ingest.formats.keyed import keyed
from hitcount.ingest.heap import keep_freed_memory
from hitcount.ingest.keyed_block import decode_any_block
from hitcount.ingest.lines import fast_format
from hitcount.ingest.reader import BOM, MAX_LINE_BYTES, drop_blank_lines, line_count
from hitcount.ingest.workers import worker_count as worker_count  # re-exported
from hitcount.model.columns import EMPTY_COLUMNS, Columns
from hitcount.model.keys import Keying
from hitcount.sketches.hll import SPARSE_PRECISION
from hitcount.sketches.registers import code_users, reduce_registered, user_registers
from hitcount.strategies.reductions import Reducer

#: Bytes per range handed to a worker.
RANGE_BYTES = 16 * 1024 * 1024
#: Bytes a block of a stream (gzip) carries to a worker: the parent holds a few at once.
STREAM_BYTES = 4 * 1024 * 1024
#: prctl option: the signal a process gets when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def plan_ranges(path: str, size: int, step: int | None = None) -> list[tuple[int, int]] | None:
    """Byte ranges `[start, end)` covering the file, each ending just after a newline.

    `step` (bytes a range, before it is stretched to a line end) defaults to `RANGE_BYTES`.

    Returns None when a line is too long to cut around (the serial reader copes with it).
    """
    step = step or RANGE_BYTES
    ranges: list[tuple[int, int]] = []
    start = 0
    with open(path, "rb") as handle:
        while start < size:
            cut = min(start + step, size)
            handle.seek(cut)
            tail = handle.readline(MAX_LINE_BYTES + 2) if cut < size else b""
            if cut + len(tail) < size and not tail.endswith(b"\n"):
                return None
            ranges.append((start, cut + len(tail)))
            start = cut + len(tail)
    return ranges


def read_range(path: str, start: int, end: int) -> bytes:
    """The bytes of one range (without a leading byte-order mark)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    return data.removeprefix(BOM) if start == 0 else data


class RangeTask(NamedTuple):
    """What a worker decodes, and how the parent wants the users and the order."""

    path: str
    start: int
    end: int
    #: HLL precision of the parent's distinct-users tracker (0: none, users dropped).
    precision: int
    #: The tracker's bucket width, for the registers reduced in the worker.
    bucket_s: float
    #: Whether the parent's strategy records a batch grouped by endpoint (`Columns.order`).
    group: bool
    #: The input format (one whose parser keeps no state from line to line).
    fmt: str = "ndjson"
    #: The bytes themselves, when the parent read them (gzip input); else the range is read.
    data: bytes | None = None
    #: CSV: the header's columns, for a range after the first (None: read from the start).
    csv_columns: tuple[int, int, int | None] | None = None
    #: `--key`/`--where`/`--decode-paths` (None: the endpoints as read).
    keying: Keying | None = None
    #: The strategy's reducer: the worker counts its hits the way the strategy keeps them.
    reducer: Reducer | None = None


def _start_worker(parent: int) -> None:
    """Tie a worker to its parent: it dies with it, and holds none of its files or sockets.

    A forked worker inherits every open file of the parent: the state lock, a Redis socket.
    If the parent is killed, a worker left running would keep them (and the lock) for good.
    Its pipes to the parent are widened (`PIPE_BYTES`).
    """
    _die_with_parent(parent)
    kept = _inherited_fds()
    for fd in kept[0]:
        with contextlib.suppress(OSError):
            os.close(fd)
    for fd in kept[1]:
        _widen_pipe(fd)


#: Bytes a pipe between a worker and the parent holds (Linux; the default is 64 KiB). A
#: range's result is a few MB: with 64 KiB the worker waits for the parent to drain the pipe
#: a hundred times a range (a 6.8 MB result: 11 ms from worker to parent, 6 ms with 1 MiB).
PIPE_BYTES = 1 << 20


def _widen_pipe(fd: int) -> None:
    """Let pipe `fd` hold `PIPE_BYTES` (or the system's most, `/proc/sys/fs/pipe-max-size`)."""
    if not hasattr(fcntl, "F_SETPIPE_SZ"):  # not Linux
        return
    for size in (PIPE_BYTES, _pipe_max_size()):
        with contextlib.suppress(OSError):
            if fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) < size:
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
            return


def _pipe_max_size() -> int:
    try:
        with open("/proc/sys/fs/pipe-max-size") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 0


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux only)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _inherited_fds() -> tuple[list[int], list[int]]:
    """Open descriptors above stderr: those that are not pipes, and the pipes (the pool
    talks through pipes)."""  # noqa: D205, D209
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: keep them (the worker still dies with its parent)
        return [], []
    inherited: list[int] = []
    pipes: list[int] = []
    for fd in fds:
        try:
            if fd > 2:
                (pipes if stat.S_ISFIFO(os.fstat(fd).st_mode) else inherited).append(fd)
        except OSError:  # the descriptor of the listing itself, already closed
            continue
    return inherited, pipes


#: What a worker sends back: the range's lines, its hits (None: parse it in the parent) and
#: its bad lines (line number within the range from 1, reason).
RangeResult = tuple[int, Columns | None, list[tuple[int, str]], bool]
#: ... and whether the range ends inside a quoted CSV field (the next range then starts in it).


def _decode_range(task: RangeTask) -> RangeResult:
    data = task.data if task.data is not None else read_range(task.path, task.start, task.end)
    precision = task.precision
    decoded, carry = None, False
    if data and fast_format(task.fmt):
        parser = make_parser(task.fmt)
        if task.csv_columns is not None:
            parser = CsvParser.after_header(task.csv_columns)
        decoded = decode_any_block(
            data, 1, keyed(parser, task.keying), users=bool(precision), registers=bool(precision)
        )
        carry = bool(getattr(parser, "needs_each_line", False))
    if decoded is not None:
        return (*_reduced(task, decoded.lines, decoded.columns), decoded.bad, carry)
    if task.keying is not None:  # keys the scanner cannot make: the parent reads the lines
        return line_count(data), None, [], False
    columns = decode_ndjson_block(data, users=bool(precision)) if data else None
    blank = 0
    if columns is None and data:
        dense, blank = drop_blank_lines(data)
        if blank:
            columns = decode_ndjson_block(dense, users=bool(precision)) if dense else EMPTY_COLUMNS
    if columns is None:
        return line_count(data), None, [], False
    return (*_reduced(task, len(columns) + blank, columns), [], False)


def _reduced(task: RangeTask, lines: int, columns: Columns) -> tuple[int, Columns]:
    """The columns as they cross to the parent: narrow codes, users coded and reduced."""
    precision = task.precision
    # Users cross the process boundary coded (names once, a code a hit), with their HLL
    # registers reduced per endpoint and bucket (what the parent uses when none is late).
    user_names, user_codes = columns.user_names, columns.user_codes
    table = columns.user_registers if precision else None
    if precision and columns.users is not None:
        user_names, user_codes = code_users(columns.users)
    if precision and table is None and user_names is not None:
        table = user_registers(user_names, SPARSE_PRECISION)
    entries = None
    if table is not None and user_codes is not None:  # names cross as their registers
        entries = reduce_registered(
            columns.codes, columns.ts, table, user_codes, precision, task.bucket_s
        )
        user_codes = _narrow(user_codes, len(table), np.int16)
    else:
        table = user_codes = None
    reducer = task.reducer
    columns = dataclasses.replace(
        columns,
        codes=_narrow(columns.codes, len(columns.names), np.uint16),
        users=None,
        user_names=None,
        user_codes=user_codes,
        user_registers=table,
        user_entries=entries,
        reduced=reducer.reduce(columns.codes, columns.ts) if reducer and len(columns) else None,
    )
    return lines, columns.grouped() if task.group and reducer is None else columns


def _narrow(codes: npt.NDArray[Any], distinct: int, narrow: type[np.integer[Any]]) -> Any:
    """Codes in 2 bytes when they fit (less to pickle), else as they are."""
    return codes.astype(narrow) if distinct <= np.iinfo(narrow).max else codes


@dataclasses.dataclass(frozen=True)
class RangeOptions:
    """How the parent wants the ranges decoded.

    With a `precision`, users arrive coded, with their HLL registers at that precision
    reduced per `bucket_s` bucket (else not at all). `group`: fill in `Columns.order`
    (not needed when a `reducer` reduces the hits for the strategy).
    """

    precision: int = 0
    bucket_s: float = 60.0
    group: bool = True
    fmt: str = "ndjson"
    csv_columns: tuple[int, int, int | None] | None = None
    keying: Keying | None = None
    #: The strategy's `reducer()` (None: the parent records the columns).
    reducer: Reducer | None = None

    def task(
        self, path: str, start: int, end: int, data: bytes | None = None, first: bool = False
    ) -> RangeTask:
        """The task of one range (or of bytes read by the parent); the first reads a header."""
        return RangeTask(
            path, start, end, self.precision, self.bucket_s, self.group, self.fmt, data,
            None if first else self.csv_columns, self.keying, self.reducer,
        )  # fmt: skip


def decode_in_parallel(
    path: str, ranges: list[tuple[int, int]], workers: int, options: RangeOptions | None = None
) -> Iterator[tuple[tuple[int, int], RangeResult]]:
    """Yield `((start, end), (lines, columns or None, bad lines, carry))` for each range.

    Endpoint and user codes may arrive as 16-bit integers.
    """
    options = options or RangeOptions()
    tasks = ((span, options.task(path, *span, first=span[0] == 0)) for span in ranges)
    for span, result in _in_pool(tasks, workers):
        if result is not None:  # always: every range has a task
            yield span, result


def decode_stream_in_parallel(
    blocks: Iterable[tuple[int, bytes | None]], workers: int, options: RangeOptions
) -> Iterator[tuple[tuple[int, bytes | None], RangeResult | None]]:
    """`decode_in_parallel` for a stream read here (gzip): the blocks of `iter_blocks`.

    Yields `((first line number, data), result)` in order, the blocks joined up to about
    `STREAM_BYTES` (at most `RANGE_BYTES`); an over-long line's `(n, None)` comes through
    as it is, with no result.
    The parent decompresses while the workers decode.
    """
    tasks = (
        ((first, data), None if data is None else options.task("", 0, 0, data, first == 1))
        for first, data in _joined(blocks, min(RANGE_BYTES, STREAM_BYTES))
    )
    yield from _in_pool(tasks, workers)


def _joined(
    blocks: Iterable[tuple[int, bytes | None]], limit: int
) -> Iterator[tuple[int, bytes | None]]:
    """Consecutive blocks joined up to about `limit` bytes (an over-long line on its own)."""
    parts: list[bytes] = []
    first, size = 0, 0
    for number, block in blocks:
        if parts and (block is None or size >= limit):
            yield first, b"".join(parts)
            parts, size = [], 0
        if block is None:
            yield number, None
            continue
        if not parts:
            first = number
        parts.append(block)
        size += len(block)
    if parts:
        yield first, b"".join(parts)


_Key = TypeVar("_Key")


def _in_pool(
    tasks: Iterable[tuple[_Key, RangeTask | None]], workers: int
) -> Iterator[tuple[_Key, RangeResult | None]]:
    """Run the tasks on `workers` processes, a few ahead; yield `(key, result)` in order."""
    keep_freed_memory()  # before the workers fork: they inherit it
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(),),
    ) as pool:
        pending: deque[tuple[_Key, Future[RangeResult] | None]] = deque()
        upcoming = iter(tasks)

        def submit(task: RangeTask | None) -> Future[RangeResult] | None:
            return None if task is None else pool.submit(_decode_range, task)

        for key, task in upcoming:
            pending.append((key, submit(task)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            key, future = pending.popleft()
            result = None if future is None else future.result()
            following = next(upcoming, None)
            if following is not None:
                pending.append((following[0], submit(following[1])))
            yield key, result

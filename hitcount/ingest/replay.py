"""Replaying input files through a counter: parse, batch, record, report bad lines."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from hitcount.engine import HitCounter
from hitcount.errors import ConfigurationError
from hitcount.ingest.fast_paths import Block, CsvColumns, range_options, read_ahead
from hitcount.ingest.formats import LOG_FORMAT_PREFIX, format_from_name, make_parser
from hitcount.ingest.formats.csv import CsvParser
from hitcount.ingest.formats.keyed import keyed
from hitcount.ingest.progress import ProgressHandler, input_size
from hitcount.ingest.reader import (
    blocks_after,
    iter_blocks,
    lines_end,
    open_input,
    read_offset,
    refuse_wide_text,
    split_block,
)
from hitcount.ingest.recording import BadLineHandler, Recorder, StopRequestedError
from hitcount.ingest.reports import (
    FIRST_BAD_LINES,
    BadLineInfo,
    ReplayReport,
    refuse_empty,
)
from hitcount.ingest.resuming import Place, opened_place
from hitcount.ingest.sniffing import (
    csv_columns_of,
    csv_header,
    parser_for_file,
    past_csv_header,
)
from hitcount.ingest.workers import (
    PARALLEL_MIN_BYTES,
    is_gzip,
    small_without_numpy,
    stream_workers,
    worker_count,
)
from hitcount.model.arguments import of_type
from hitcount.model.positions import InputPosition, display_name, is_stream

if TYPE_CHECKING:
    from hitcount.ingest.parallel import RangeOptions, RangeResult

    #: Worker processes, and how they decode.
    Pool = tuple[int, RangeOptions]

__all__ = [
    "FIRST_BAD_LINES",
    "BadLineHandler",
    "BadLineInfo",
    "ReplayReport",
    "Replayer",
    "refuse_empty",
    "replay",
]

#: Called after each block with (source, lines of it read so far, whether it is done).
CheckpointHandler = Callable[[str, int, bool], None]


def replay(
    counter: HitCounter,
    sources: Iterable[str],
    *,
    fmt: str | None = None,
    strict: bool = False,
    on_bad_line: BadLineHandler | None = None,
    on_progress: ProgressHandler | None = None,
    on_checkpoint: CheckpointHandler | None = None,
    starts: Mapping[str, InputPosition] | None = None,
    stop: Callable[[], bool] | None = None,
    resume: bool = False,
) -> ReplayReport:
    """Record every hit of `sources` (paths, or `-` for stdin) into `counter`.

    Args:
        counter: where hits go.
        sources: input files, read in order (one path alone is one input).
        fmt: the input format; default: from each file name, else sniffed.
        strict: raise at the first bad line instead of skipping it.
        on_bad_line: called for each bad line (when not strict).
        on_progress: called with a `ReplayProgress` after each block: lines read, and
            bytes read of the inputs' total size.
        on_checkpoint: called after each block, once its hits are all in `counter` (and its
            position in `counter.inputs`).
        starts: where some sources start (their saved positions: resuming).
        stop: asked after each batch recorded; True ends the replay there (the report says
            `stopped`), e.g. at the first alert.
        resume: reading on where an earlier replay left a file that may still be written
            (`--resume`): a plain file's last line without its newline yet is not read, and
            its position ends before it (`report.held` names it).

    Raises:
        InputError: a missing/unreadable file, an unknown format, (strict) a bad line, or
            input without a single valid hit; the counter may then hold part of the input.
        ConfigurationError: `counter` or `sources` of the wrong type.
    """
    of_type(counter, HitCounter, "counter", "a HitCounter")
    replayer = Replayer(counter, fmt, strict, on_bad_line, on_progress)
    replayer.on_checkpoint = on_checkpoint
    replayer.stop = stop
    replayer.hold_unfinished = resume
    sources = _paths(sources)
    replayer.total_bytes = input_size(sources)
    replayer.line_by_line = small_without_numpy(sources, replayer.total_bytes)
    started = time.perf_counter()
    try:
        for source in sources:
            replayer.source(source, (starts or {}).get(source))
        replayer.flush()
    except StopRequestedError:
        replayer.report.stopped = True
    if not starts and not replayer.report.held:  # a line held back: nothing new, yet
        refuse_empty(replayer.report, sources, counter.keying.where)
    replayer.count_lines()
    if on_checkpoint is not None and sources:  # the input last read (a stop ends early)
        on_checkpoint(replayer.current or sources[-1], replayer.source_lines, True)
    replayer.report.elapsed_s = time.perf_counter() - started
    return replayer.report


def _paths(sources: object) -> list[str]:
    """`replay`'s sources as path strings: one path, or an iterable of them.

    Raises:
        ConfigurationError: anything else.
    """
    if isinstance(sources, str | bytes | os.PathLike):
        sources = [sources]
    try:
        return [os.fsdecode(source) for source in sources]  # type: ignore[attr-defined]
    except TypeError as err:
        raise ConfigurationError(
            f"sources must be a path or an iterable of paths (str, bytes or os.PathLike),"
            f" got {sources!r:.60}",
            param="sources",
        ) from err


#: A file changed this recently may have a writer in the middle of its last line.
WRITING_S = 60.0


def being_written(fd: int) -> bool:
    """Whether the file was changed within the last `WRITING_S` seconds."""
    return time.time() - os.fstat(fd).st_mtime < WRITING_S


class Replayer(Recorder):
    """Reads inputs block by block (files in ranges and streams on every core, resumed files
    from their saved position) and hands the blocks to the `Recorder`."""  # noqa: D205, D209

    def __init__(
        self,
        counter: HitCounter,
        fmt: str | None,
        strict: bool,
        on_bad_line: BadLineHandler | None,
        on_progress: ProgressHandler | None,
    ) -> None:
        super().__init__(counter, strict, on_bad_line, on_progress)
        layout = counter.keying.layout  # what the state's keys were read with
        self.fmt = fmt if fmt is not None or layout is None else LOG_FORMAT_PREFIX + layout
        self.on_checkpoint: CheckpointHandler | None = None
        self.source_lines = 0  # lines of the current source read (or skipped) so far
        self._lines_counted = 0  # of `report.lines_read`, those in the counter's metrics
        #: CSV read by workers: the header's columns, and whether a quoted field is open.
        self._csv_columns: tuple[int, int, int | None] | None = None
        self._csv_open = False
        #: The current input file and its position (None: stdin, or not replaying a file).
        self.place: Place | None = None
        self._started = 0  # lines read before the current input, less those it skipped
        self.current = ""  # the input being read (its name as given)
        #: `resume`: a plain file's last line without a newline is left out (`_held`: it was).
        self.hold_unfinished, self._held = False, False

    def source(self, source: str, start: InputPosition | None = None) -> None:
        """Replay one input file (or `-`), after `start` (its saved position, if any)."""
        skip = start.lines if start is not None else 0
        self.current, self._held = source, False
        self._last_bad = 0  # of this source: see `_kept_lines`
        self.begin(source)
        started = self._started = self.report.lines_read - skip
        self.source_lines = skip  # a source read to its end before stays there
        self.place = opened_place(source, self.counter.inputs, start)
        try:
            if start is not None and skip:
                self._resumed(source, start)
            elif not self._in_parallel(source, started):
                self._blocks(source, started)
        except StopRequestedError:  # what is recorded so far is the input's position
            self.source_lines = self._kept_lines(started)
            if self.place is not None:
                self.place.record(self.source_lines)
            raise
        finally:
            if self.place is not None:
                self.place.close()
            self.place = None

    def _resumed(self, source: str, start: InputPosition) -> None:
        """Replay `source` after the lines `start` says were counted, on this core."""
        if self.parser is None and (found := parser_for_file(source, self.name)) is not None:
            self.parser = keyed(found, self._keying())  # the format its head shows
        if self.parser is not None and self.parser.name == "csv":
            past_csv_header(self.parser, source, self.name, start.lines)
        self._blocks(source, self._started, start)

    def _blocks(self, source: str, started: int, start: InputPosition | None = None) -> None:
        """Replay one input block by block, on this core (after `start`, if given)."""
        skip, offset = (start.lines, start.offset) if start is not None else (0, None)
        with open_input(source) as stream:
            self._serial(source, started, stream, blocks_after(stream, self.name, skip, offset))

    def _serial(self, source: str, started: int, stream: BinaryIO, blocks: Iterable[Block]) -> None:
        """Record `blocks`, read from `stream`, on this core."""
        for first, block in blocks:
            if self._holds(first, block):
                continue
            self._offset = read_offset(stream)
            self._placed(first, block)
            self.block(first, block)
            self._checkpoint(source, started)
        self._offset = read_offset(stream)
        self._next_input()

    def _holds(self, first: int, block: bytes | None) -> bool:
        """Whether `block` is a last line without its newline that `resume` leaves out (it
        comes alone: every other block ends a line)."""  # noqa: D205, D209
        if block is None or block.endswith(b"\n") or not self._may_hold():
            return False
        self.report.held.append((self.name, first))
        self._held = True
        return True

    def _may_hold(self) -> bool:
        """Whether `resume` leaves out the current file's unfinished last line: a plain
        file being written (one that simply ends without a newline counts its last line)."""  # noqa: D205, D209
        place = self.place
        return (
            self.hold_unfinished
            and place is not None
            and not place.gzip
            and being_written(place.fd)
        )

    def _placed(self, first: int, block: bytes | None) -> None:
        """The lines from `first` (`block`) are about to be recorded."""
        if self.place is not None:
            self.place.block(first - 1, block)

    def _next_input(self) -> None:
        """The current input is read to its end: its bytes count as done."""
        if self.place is not None:
            lines = self._kept_lines(self._started)
            if lines == self.report.lines_read - self._started and not self._held:
                self.place.finish(lines, self._offset)
            else:  # an unfinished last line that did not count: read again next time
                self.place.record(lines)
            if self.on_checkpoint is not None:  # the end's position (a gzip file's is only now)
                self.on_checkpoint(self.current, lines, False)
        self._done_bytes += self._offset
        self._offset = 0

    def begin(self, source: str) -> None:
        """Start a new input: name it and pick its parser (by --format, else by name)."""
        self.name = display_name(source)
        self.parser = keyed(make_parser(self.fmt), self._keying()) if self.fmt else None
        if self.parser is None and source != "-" and (by_name := format_from_name(source)):
            self.parser = keyed(make_parser(by_name), self._keying())

    def _checkpoint(self, source: str, started: int) -> None:
        """After a block: tell `on_checkpoint` how far `source` is read, all hits recorded."""
        self.source_lines = self._kept_lines(started)
        if self.on_checkpoint is not None:
            self.flush()
            self.count_lines()  # a store saving each batch saves its lines with its hits
            if self.place is not None:
                self.place.record(self.source_lines)
            self.on_checkpoint(source, self.source_lines, False)

    def count_lines(self) -> None:
        """Add the lines read since the last call to the counter's `lines_read` metric."""
        self.counter.metrics.lines_read += self.report.lines_read - self._lines_counted
        self._lines_counted = self.report.lines_read

    def _kept_lines(self, started: int) -> int:
        """The current file's lines read so far that its position may cover.

        An unfinished last line (no newline yet) that was bad or blank stays out: a writer
        may be in the middle of it, and a later `--resume` reads it again once it is whole.
        """
        lines = self.report.lines_read - started
        tail = self.place.unfinished() if self.place is not None else None
        if tail is not None and (self._last_bad == lines or tail.isspace()):
            return lines - 1
        return lines

    def _in_parallel(self, source: str, started: int) -> bool:
        """Decode a big input on every core; False when it cannot be (a small file)."""
        if is_stream(source):  # workers only when asked: see `stream_workers`
            return bool(stream_workers()) and self._read_once(source, started)
        if self.parser is None and (found := parser_for_file(source, self.name)) is not None:
            self.parser = keyed(found, self._keying())
        workers = worker_count(source)  # 0: a small file, `parallel` and numpy not loaded
        options = self._options(lambda: csv_header(source, self.name)) if workers else None
        if options is None:
            return False
        from hitcount.ingest import parallel  # numpy at import: big files only

        if is_gzip(source):  # one stream: decompressed here, decoded by workers
            with open_input(source) as stream:
                self._stream(
                    source, started, stream, iter_blocks(stream, self.name), (workers, options)
                )
            return True
        with open(source, "rb") as head:  # cut into ranges: open_input's check is not met
            refuse_wide_text(self.name, head.read(4))
        size = Path(source).stat().st_size
        whole = lines_end(source, size) if self._may_hold() else size
        ranges = parallel.plan_ranges(source, whole)
        if not ranges:
            return False
        number = 1
        for (start, end), result in parallel.decode_in_parallel(source, ranges, workers, options):
            reread = functools.partial(parallel.read_range, source, start, end)
            self._offset = end
            if self.place is not None:
                self.place.reached(start)
            self._range(source, started, number, reread, result, end)
            number += result[0]
        if whole < size:  # a last line without its newline: see `_holds`
            self.report.held.append((self.name, number))
        self._next_input()
        return True

    def _read_once(self, source: str, started: int) -> bool:
        """Stdin or a pipe: to the workers once more than `PARALLEL_MIN_BYTES` come, else on
        this core."""  # noqa: D205, D209
        with open_input(source) as stream:
            blocks = iter_blocks(stream, self.name)
            head, whole = read_ahead(blocks, PARALLEL_MIN_BYTES)
            first, sample = next(((n, b) for n, b in head if b and not b.isspace()), (1, b""))
            self._sniff(first, sample)
            workers = 0 if whole or not sample else stream_workers()  # asked for: >= 2
            options = self._options(lambda: csv_columns_of(first, sample)) if workers else None
            if options is None:
                self._serial(source, started, stream, chain(head, blocks))
            else:
                self._stream(source, started, stream, chain(head, blocks), (workers, options))
        return True

    def _options(self, csv_columns: Callable[[], CsvColumns | None]) -> RangeOptions | None:
        """How workers decode this input (None: they cannot); notes a CSV's columns."""
        options = range_options(self.counter, self.parser, self._keying(), csv_columns)
        if options is not None:
            self._csv_columns, self._csv_open = options.csv_columns, False
        return options

    def _stream(
        self, source: str, started: int, stream: BinaryIO, blocks: Iterable[Block], pool: Pool
    ) -> None:
        """Workers (`pool`: how many, and their options) decode `blocks` read from `stream`."""
        from hitcount.ingest import parallel

        decoded = parallel.decode_stream_in_parallel(blocks, *pool)
        for (first, data), result in decoded:
            self._offset = read_offset(stream)
            self._range(source, started, first, data, result, None)
        self._next_input()

    def _range(
        self,
        source: str,
        started: int,
        number: int,
        data: bytes | Callable[[], bytes] | None,
        result: RangeResult | None,
        end: int | None,
    ) -> None:
        """Record what a worker decoded from the lines from `number` (`data`: their bytes,
        ending at byte `end` of the file when known)."""  # noqa: D205, D209
        if result is None:  # an over-long line
            self._placed(number, None)
            self.block(number, None)
        elif self._csv_open and self._csv_columns is not None:
            # the worker assumed no quoted field open at its start: read the range here
            self.parser = CsvParser.after_header(self._csv_columns, in_quotes=True)
            block = data() if callable(data) else data
            self._placed(number, block)
            self.block(number, block)
            self._csv_open = bool(getattr(self.parser, "needs_each_line", False))
        else:
            lines, columns, bad, self._csv_open = result
            if columns is not None:
                if self.place is not None and end is not None:
                    self.place.reached(end)
                self.report.lines_read += lines - len(columns)  # blank and bad lines
                for offset, reason in bad:
                    self._bad(number + offset - 1, reason)
                self._record_columns(columns)
            else:
                block = data() if callable(data) else data
                self._placed(number, block)
                for line_number, line in split_block(number, block):
                    self._line(line_number, line)
            self._progress()
        self._checkpoint(source, started)

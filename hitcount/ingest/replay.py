"""Replaying input files through a counter: parse, batch, record, report bad lines."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hitcount.engine import HitCounter
from hitcount.ingest.formats import LineParser, format_from_name, make_parser, sniff_format
from hitcount.ingest.formats.csv import CsvParser
from hitcount.ingest.formats.keyed import keyed
from hitcount.ingest.progress import ProgressHandler, ReplayProgress, input_size
from hitcount.ingest.reader import (
    MAX_LINE_BYTES,
    blocks_after,
    drop_blank_lines,
    iter_blocks,
    line_count,
    open_input,
    read_offset,
    split_block,
)
from hitcount.ingest.reports import (
    FIRST_BAD_LINES,
    BadLineInfo,
    ReplayReport,
    bad_line,
    refuse_empty,
)
from hitcount.ingest.resuming import Place, opened_place
from hitcount.ingest.sniffing import (
    csv_header,
    parser_for_block,
    parser_for_file,
    past_csv_header,
)
from hitcount.ingest.workers import is_gzip, small_without_numpy, worker_count
from hitcount.model.hits import BadLine, Hit
from hitcount.model.keys import Keying
from hitcount.model.positions import InputPosition, display_name

if TYPE_CHECKING:
    from hitcount.ingest.lines import DecodedBlock
    from hitcount.ingest.parallel import RangeResult
    from hitcount.model.columns import Columns

__all__ = ["FIRST_BAD_LINES", "BadLineInfo", "ReplayReport", "refuse_empty", "replay"]

#: Formats whose files workers decode in ranges (CSV: its header read first, see `_range`).
_PARALLEL_FORMATS = frozenset({"ndjson", "combined", "common", "csv"})
#: Hits recorded per `record_many` call.
BATCH_SIZE = 8192


BadLineHandler = Callable[[BadLineInfo], None]
#: Called after each block with (source, lines of it read so far, whether it is done).
CheckpointHandler = Callable[[str, int, bool], None]


class _StopRequestedError(Exception):
    """Raised inside a replay when its `stop` callback says so; caught by `replay`."""


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
) -> ReplayReport:
    """Record every hit of `sources` (paths, or `-` for stdin) into `counter`.

    Args:
        counter: where hits go.
        sources: input files, read in order.
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

    Raises:
        InputError: a missing/unreadable file, an unknown format, (strict) a bad line, or
            input without a single valid hit; the counter may then hold part of the input.
    """
    replayer = Replayer(counter, fmt, strict, on_bad_line, on_progress)
    replayer.on_checkpoint = on_checkpoint
    replayer.stop = stop
    sources = list(sources)
    replayer.total_bytes = input_size(sources)
    replayer.line_by_line = small_without_numpy(sources, replayer.total_bytes)
    started = time.perf_counter()
    try:
        for source in sources:
            replayer.source(source, (starts or {}).get(source))
        replayer.flush()
    except _StopRequestedError:
        replayer.report.stopped = True
    if not starts:
        refuse_empty(replayer.report, sources, counter.keying.where)
    counter.metrics.lines_read += replayer.report.lines_read
    if on_checkpoint is not None and sources:  # the input last read (a stop ends early)
        on_checkpoint(replayer.current or sources[-1], replayer.source_lines, True)
    replayer.report.elapsed_s = time.perf_counter() - started
    return replayer.report


class Replayer:
    """Feeds blocks of lines to the counter: columnar when it can, line by line otherwise."""

    def __init__(
        self,
        counter: HitCounter,
        fmt: str | None,
        strict: bool,
        on_bad_line: BadLineHandler | None,
        on_progress: ProgressHandler | None,
    ) -> None:
        self.counter = counter
        self.fmt = fmt
        self.strict = strict
        self.on_bad_line = on_bad_line
        self.on_progress = on_progress
        self.report = ReplayReport()
        self.batch: list[Hit] = []
        self.parser: LineParser | None = None
        self.name = ""
        self.on_checkpoint: CheckpointHandler | None = None
        self.source_lines = 0  # lines of the current source read (or skipped) so far
        self.stop: Callable[[], bool] | None = None
        #: CSV read by workers: the header's columns, and whether a quoted field is open.
        self._csv_columns: tuple[int, int, int | None] | None = None
        self._csv_open = False
        #: The inputs' size in bytes, for progress (None: unknown).
        self.total_bytes: int | None = None
        #: Small input, numpy not loaded: every line through the per-line parser.
        self.line_by_line = False
        self._done_bytes = 0  # of the inputs before the current one
        self._offset = 0  # into the current input (gzip: compressed bytes)
        #: The current input file and its position (None: stdin, or not replaying a file).
        self.place: Place | None = None
        self._started = 0  # lines read before the current input, less those it skipped
        self.current = ""  # the input being read (its name as given)

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop():
            raise _StopRequestedError

    def source(self, source: str, start: InputPosition | None = None) -> None:
        """Replay one input file (or `-`), after `start` (its saved position, if any)."""
        skip = start.lines if start is not None else 0
        self.current = source
        self.begin(source)
        started = self._started = self.report.lines_read - skip
        self.source_lines = skip  # a source read to its end before stays there
        self.place = opened_place(source, self.counter.inputs, start)
        try:
            if start is not None and skip:
                self._resumed(source, start)
            elif not self._in_parallel(source, started):
                self._blocks(source, started)
        except _StopRequestedError:  # what is recorded so far is the input's position
            self.source_lines = self.report.lines_read - started
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
            for first, block in blocks_after(stream, self.name, skip, offset):
                self._offset = read_offset(stream)
                self._placed(first, block)
                self.block(first, block)
                self._checkpoint(source, started)
            self._offset = read_offset(stream)
        self._next_input()

    def _placed(self, first: int, block: bytes | None) -> None:
        """The lines from `first` (`block`) are about to be recorded."""
        if self.place is not None:
            self.place.block(first - 1, block)

    def _next_input(self) -> None:
        """The current input is read to its end: its bytes count as done."""
        if self.place is not None:
            self.place.finish(self.report.lines_read - self._started, self._offset)
        self._done_bytes += self._offset
        self._offset = 0

    def _progress(self) -> None:
        if self.on_progress is not None:
            done = self._done_bytes + self._offset
            self.on_progress(ReplayProgress(self.report.lines_read, done, self.total_bytes))

    def begin(self, source: str) -> None:
        """Start a new input: name it and pick its parser (by --format, else by name)."""
        self.name = display_name(source)
        self.parser = keyed(make_parser(self.fmt), self._keying()) if self.fmt else None
        if self.parser is None and source != "-" and (by_name := format_from_name(source)):
            self.parser = keyed(make_parser(by_name), self._keying())

    def _keying(self) -> Keying | None:
        """The counter's `--key`/`--where` (None: the default, fast paths allowed)."""
        keying = self.counter.keying
        return None if keying.default else keying

    def block(self, first: int, block: bytes | None) -> None:
        """Record a block of lines from `iter_blocks` (`first` is its first line's number)."""
        if block is not None and block.isspace():  # blank lines only: nothing to parse
            self.report.lines_read += line_count(block)
        elif not self._columnar(first, block):
            for number, line in split_block(first, block):
                self._line(number, line)
        self._progress()

    def _checkpoint(self, source: str, started: int) -> None:
        """After a block: tell `on_checkpoint` how far `source` is read, all hits recorded."""
        self.source_lines = self.report.lines_read - started
        if self.on_checkpoint is not None:
            self.flush()
            if self.place is not None:
                self.place.record(self.source_lines)
            self.on_checkpoint(source, self.source_lines, False)

    def _in_parallel(self, source: str, started: int) -> bool:
        """Decode a big file on every core; False when it cannot be (stdin, small file)."""
        if source == "-":
            return False
        keying = self._keying()
        if self.parser is None and (found := parser_for_file(source, self.name)) is not None:
            self.parser = keyed(found, keying)
        if self.parser is None or self.parser.name not in _PARALLEL_FORMATS:
            return False
        if self.counter.wants_each_hit():  # per-hit events need each hit's user as text
            return False
        workers = worker_count(source)
        if not workers:
            return False  # a small file: `parallel` and numpy are not even loaded
        from hitcount.ingest import parallel  # numpy at import: big files only
        from hitcount.ingest.keyed_block import keyed_fast
        from hitcount.ingest.lines import fast_format

        if keying is not None and not keyed_fast(self.parser):
            return False  # a key or filter the C scanner cannot read: line by line
        if self.parser.name != "ndjson" and not fast_format(self.parser.name):
            return False  # no C scanner: only NDJSON has a bulk decoder
        tracker = self.counter.distinct
        options = parallel.RangeOptions(
            precision=tracker.precision if tracker is not None else 0,
            bucket_s=tracker.bucket_s if tracker is not None else 60.0,
            group=self.counter.strategy.groups_batches(),
            fmt=self.parser.name,
            csv_columns=csv_header(source, self.name) if self.parser.name == "csv" else None,
            keying=keying,
            reducer=self.counter.strategy.reducer() if self.counter.max_endpoints is None else None,
        )
        if options.fmt == "csv" and options.csv_columns is None:
            return False
        self._csv_columns, self._csv_open = options.csv_columns, False
        if is_gzip(source):  # one stream: decompressed here, decoded by workers
            with open_input(source) as stream:
                blocks = iter_blocks(stream, self.name)
                for (first, data), result in parallel.decode_stream_in_parallel(
                    blocks, workers, options
                ):
                    self._offset = read_offset(stream)
                    self._range(source, started, first, data, result, None)
            self._next_input()
            return True
        ranges = parallel.plan_ranges(source, Path(source).stat().st_size)
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
        self._next_input()
        return True

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

    def _columnar(self, first: int, block: bytes | None) -> bool:
        """Record a whole block at once; False when it needs the per-line path."""
        if block is None or self.line_by_line:
            return False
        if self.parser is None:
            found = parser_for_block(first, block, self.name)
            self.parser = None if found is None else keyed(found, self._keying())
        if self.parser is None:
            return False
        # numpy at import: only the block paths load it (`query` never does)
        from hitcount.ingest.keyed_block import decode_keyed_block, keyed_fast
        from hitcount.ingest.lines import decode_block, fast_format

        if self._keying() is not None:  # a key, filter or field names: lines the C reads
            if not keyed_fast(self.parser):
                return False
            decoded: DecodedBlock | None = decode_keyed_block(block, first, self.parser)
        elif not fast_format(self.parser.name):
            return self.parser.name == "ndjson" and self._columnar_ndjson(block)
        else:
            decoded = decode_block(block, first, self.parser)
        if decoded is None:
            return False
        self.report.formats[self.name] = self.parser.name
        self.report.lines_read += decoded.lines - len(decoded.columns)
        for number, reason in decoded.bad:
            self._bad(number, reason)
        self._record_columns(decoded.columns)
        return True

    def _columnar_ndjson(self, block: bytes) -> bool:
        """An NDJSON block without the C scanner: the numpy scanner, else msgspec."""
        from hitcount.ingest.columnar import decode_ndjson_block
        from hitcount.model.columns import EMPTY_COLUMNS

        columns, blank = decode_ndjson_block(block), 0
        if columns is None:
            dense, blank = drop_blank_lines(block)
            if not blank:
                return False
            columns = decode_ndjson_block(dense) if dense else EMPTY_COLUMNS
            if columns is None:
                return False
        self._record_columns(columns)
        self.report.lines_read += blank
        return True

    def _record_columns(self, columns: Columns) -> None:
        self.flush()  # keep arrival order
        if self.parser is not None:
            self.report.formats[self.name] = self.parser.name
        self.report.lines_read += len(columns)
        self.report.hits_read += len(columns)
        if len(columns):
            self.report.oldest_ts = min(self.report.oldest_ts, float(columns.ts.min()))
        self.report.hits_kept += self.counter.record_columns(columns)
        self._check_stop()

    def _line(self, number: int, line: bytes | None) -> None:
        self.report.lines_read += 1
        if line is None:
            self._bad(number, f"line longer than {MAX_LINE_BYTES} bytes")
            return
        if self.parser is None:
            if not line.strip():
                return
            self.parser = keyed(make_parser(sniff_format(line, self.name)), self._keying())
        self.report.formats[self.name] = self.parser.name
        try:
            hit = self.parser.parse(line)
        except BadLine as bad:
            self._bad(number, bad.reason)
            return
        if hit is not None:
            self.batch.append(hit)
            self.batch.extend(getattr(self.parser, "also", ()))  # several --key
            if len(self.batch) >= BATCH_SIZE:
                self.flush()

    def _bad(self, number: int, reason: str) -> None:
        info = BadLineInfo(self.name, number, reason)
        bad_line(self.counter, self.report, info, self.strict, self.on_bad_line)

    def flush(self) -> None:
        """Record the hits gathered line by line."""
        if self.batch:
            self.report.hits_read += len(self.batch)
            oldest = min(hit.ts for hit in self.batch)
            self.report.oldest_ts = min(self.report.oldest_ts, oldest)
            if self.line_by_line and not self.counter.strategy.draws_at_random:  # no numpy
                record = self.counter.record
                kept = sum(1 for hit in self.batch if record(hit.endpoint, hit.ts, hit.user))
            else:
                kept = self.counter.record_many(self.batch)
            self.report.hits_kept += kept
            self.batch.clear()
            self._check_stop()

"""From blocks and lines to hits in the counter: the fast decoders, the per-line parser,
batches, bad lines, the replay's report and its progress."""  # noqa: D205, D209

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hitcount.engine import HitCounter
from hitcount.ingest.formats import LineParser, make_parser, sniff_format
from hitcount.ingest.formats.keyed import keyed
from hitcount.ingest.progress import ProgressHandler, ReplayProgress
from hitcount.ingest.reader import MAX_LINE_BYTES, line_count, split_block
from hitcount.ingest.reports import BadLineInfo, ReplayReport, bad_line
from hitcount.ingest.sniffing import parser_for_block
from hitcount.model.hits import BadLine, Hit
from hitcount.model.keys import Keying

if TYPE_CHECKING:
    from hitcount.ingest.lines import DecodedBlock
    from hitcount.model.columns import Columns

#: Hits recorded per `record_many` call.
BATCH_SIZE = 8192

BadLineHandler = Callable[[BadLineInfo], None]


class StopRequestedError(Exception):
    """Raised inside a replay when its `stop` callback says so; caught by `replay`."""


class Recorder:
    """Records blocks of lines into the counter: columnar when it can, line by line otherwise."""

    def __init__(
        self,
        counter: HitCounter,
        strict: bool,
        on_bad_line: BadLineHandler | None,
        on_progress: ProgressHandler | None,
    ) -> None:
        self.counter = counter
        self.strict = strict
        self.on_bad_line = on_bad_line
        self.on_progress = on_progress
        self.report = ReplayReport()
        self.batch: list[Hit] = []
        self.parser: LineParser | None = None
        self.name = ""  # the input's name in messages
        self.stop: Callable[[], bool] | None = None
        #: The inputs' size in bytes, for progress (None: unknown).
        self.total_bytes: int | None = None
        #: Small input, numpy not loaded: every line through the per-line parser.
        self.line_by_line = False
        self._done_bytes = 0  # of the inputs before the current one
        self._offset = 0  # into the current input (gzip: compressed bytes)
        self._last_bad = 0  # the number of the last bad line

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop():
            raise StopRequestedError

    def _progress(self) -> None:
        if self.on_progress is not None:
            done = self._done_bytes + self._offset
            self.on_progress(ReplayProgress(self.report.lines_read, done, self.total_bytes))

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

    def _sniff(self, first: int, block: bytes) -> None:
        """Pick the parser from a block's first lines (line `first` on), unless one is set."""
        if self.parser is None and block:
            found = parser_for_block(first, block, self.name)
            self.parser = None if found is None else keyed(found, self._keying())

    def _columnar(self, first: int, block: bytes | None) -> bool:
        """Record a whole block at once; False when it needs the per-line path."""
        if block is None or self.line_by_line:
            return False
        self._sniff(first, block)
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
        from hitcount.ingest.columnar import ndjson_columns

        found = ndjson_columns(block)
        if found is not None:
            self._record_columns(found[0])
            self.report.lines_read += found[1]  # blank lines
        return found is not None

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
        self._last_bad = number
        info = BadLineInfo(self.name, number, reason)
        bad_line(self.counter, self.report, info, self.strict, self.on_bad_line)

    def flush(self) -> None:
        """Record the hits gathered line by line."""
        if self.batch:
            self.report.hits_read += len(self.batch)
            oldest = min(hit.ts for hit in self.batch)
            self.report.oldest_ts = min(self.report.oldest_ts, oldest)
            if self.line_by_line and not self.counter.strategy.draws_at_random:  # no numpy
                kept = self.counter.record_parsed(self.batch)
            else:
                kept = self.counter.record_many(self.batch)
            self.report.hits_kept += kept
            self.batch.clear()
            self._check_stop()

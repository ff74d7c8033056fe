"""Replaying input files through a counter: parse, batch, record, report bad lines."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from hitcount.engine import HitCounter
from hitcount.errors import InputError
from hitcount.formats import LineParser, format_from_name, make_parser, sniff_format
from hitcount.formats.base import BadLine, Hit
from hitcount.formats.reader import MAX_LINE_BYTES, display_name, iter_lines, open_input

#: Bad lines kept in a report with their line number and reason (the count is always full).
FIRST_BAD_LINES = 5
#: Hits recorded per `record_many` call.
BATCH_SIZE = 8192


@dataclass(frozen=True, slots=True)
class BadLineInfo:
    """One rejected line: where it is and why."""

    source: str
    line: int
    reason: str


@dataclass(slots=True)
class ReplayReport:
    """What a replay read, kept and rejected."""

    lines_read: int = 0
    hits_read: int = 0
    hits_kept: int = 0
    bad_lines: int = 0
    first_bad: list[BadLineInfo] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def late_hits(self) -> int:
        """Hits read but dropped because their time had already been pruned."""
        return self.hits_read - self.hits_kept


BadLineHandler = Callable[[BadLineInfo], None]
ProgressHandler = Callable[[int], None]


def replay(
    counter: HitCounter,
    sources: Iterable[str],
    *,
    fmt: str | None = None,
    strict: bool = False,
    on_bad_line: BadLineHandler | None = None,
    on_progress: ProgressHandler | None = None,
) -> ReplayReport:
    """Record every hit of `sources` (paths, or `-` for stdin) into `counter`.

    Args:
        counter: where hits go.
        sources: input files, read in order.
        fmt: the input format; default: from each file name, else sniffed.
        strict: raise at the first bad line instead of skipping it.
        on_bad_line: called for each bad line (when not strict).
        on_progress: called with the number of lines read, every batch.

    Raises:
        InputError: a missing/unreadable file, an unknown format, or (strict) a bad line.
    """
    report = ReplayReport()
    started = time.perf_counter()
    batch: list[Hit] = []
    for source in sources:
        name = display_name(source)
        with open_input(source) as stream:
            for number, hit in _parse_source(iter_lines(stream, name), source, fmt, report):
                if isinstance(hit, BadLine):
                    _bad_line(
                        counter, report, BadLineInfo(name, number, hit.reason), strict, on_bad_line
                    )
                    continue
                batch.append(hit)
                if len(batch) >= BATCH_SIZE:
                    _flush(counter, batch, report)
                    if on_progress is not None:
                        on_progress(report.lines_read)
    _flush(counter, batch, report)
    counter.metrics.lines_read += report.lines_read
    report.elapsed_s = time.perf_counter() - started
    return report


def _parse_source(
    lines: Iterator[tuple[int, bytes | None]], source: str, fmt: str | None, report: ReplayReport
) -> Iterator[tuple[int, Hit | BadLine]]:
    parser: LineParser | None = make_parser(fmt) if fmt else None
    if parser is None and source != "-" and (by_name := format_from_name(source)):
        parser = make_parser(by_name)
    name = display_name(source)
    for number, line in lines:
        report.lines_read += 1
        if line is None:
            yield number, BadLine(f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if parser is None:
            if not line.strip():
                continue
            parser = make_parser(sniff_format(line, name))
        report.formats[name] = parser.name
        try:
            hit = parser.parse(line)
        except BadLine as bad:
            yield number, bad
            continue
        if hit is not None:
            yield number, hit


def _bad_line(
    counter: HitCounter,
    report: ReplayReport,
    info: BadLineInfo,
    strict: bool,
    on_bad_line: BadLineHandler | None,
) -> None:
    if strict:
        raise InputError(
            info.source,
            info.reason,
            line=info.line,
            hint="nothing was saved; fix or remove the line, or drop --strict to skip bad lines",
        )
    report.bad_lines += 1
    counter.metrics.bad_lines += 1
    if len(report.first_bad) < FIRST_BAD_LINES:
        report.first_bad.append(info)
    if on_bad_line is not None:
        on_bad_line(info)


def _flush(counter: HitCounter, batch: list[Hit], report: ReplayReport) -> None:
    if batch:
        report.hits_read += len(batch)
        report.hits_kept += counter.record_many(batch)
        batch.clear()

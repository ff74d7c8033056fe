"""What a replay read, kept and rejected: its report, and the rules for bad lines."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import msgspec

from hitcount.errors import InputError
from hitcount.model.positions import display_name

if TYPE_CHECKING:
    from hitcount.engine import HitCounter

#: Bad lines kept in a report with their line number and reason (the count is always full).
FIRST_BAD_LINES = 5


class BadLineInfo(msgspec.Struct, frozen=True):
    """One rejected line: where it is and why."""

    source: str
    line: int
    reason: str


class ReplayReport(msgspec.Struct):
    """What a replay read, kept and rejected."""

    lines_read: int = 0
    hits_read: int = 0
    hits_kept: int = 0
    bad_lines: int = 0
    first_bad: list[BadLineInfo] = msgspec.field(default_factory=list)
    formats: dict[str, str] = msgspec.field(default_factory=dict)
    elapsed_s: float = 0.0
    #: The `stop` callback asked to end early (the hits read up to then are recorded).
    stopped: bool = False
    #: The earliest timestamp among the hits read (inf: none).
    oldest_ts: float = math.inf
    #: Under `resume`, the inputs whose last line had no newline yet, `(name, its number)`:
    #: a writer may be in the middle of it, so it is left for the next resume.
    held: list[tuple[str, int]] = msgspec.field(default_factory=list)

    @property
    def late_hits(self) -> int:
        """Hits read but dropped because their time had already been pruned."""
        return self.hits_read - self.hits_kept


def refuse_empty(
    report: ReplayReport, sources: Sequence[str], where: Sequence[object] = ()
) -> None:
    """A replay that found no hit at all is a mistake (wrong --format, empty pipe, a --where
    no line passes: `where` are the filters).

    Raises:
        InputError: no hit was read (the input was empty, every line was bad, or no line
            passed the filters).
    """  # noqa: D205
    if report.hits_read:
        return
    names = ", ".join(display_name(source) for source in sources) or "no input"
    if where and report.lines_read > report.bad_lines:
        conditions = " ".join(f"--where '{condition}'" for condition in where)
        raise InputError(
            names,
            f"no hits: no line passed {conditions} ({report.lines_read} lines read,"
            f" {report.bad_lines} bad)",
            hint="nothing was saved; check the fields and values of --where (a line"
            " without the field never passes)",
        )
    if not report.bad_lines:
        what = "the input is empty"
        if report.lines_read:
            lines = f"{report.lines_read} line{'s' if report.lines_read != 1 else ''}"
            what = f"{lines} read, none with a hit (blank lines, or a CSV header alone?)"
        raise InputError(
            names,
            f"no hits: {what}",
            hint="nothing was saved; check the file, or the command feeding stdin",
        )
    first = report.first_bad[0]
    which = "its one line is" if report.bad_lines == 1 else f"all {report.bad_lines} lines are"
    raise InputError(
        names,
        f"no hits: {which} bad (line {first.line}: {first.reason})",
        hint=f"nothing was saved; {_what_to_check(report, first.reason)}",
    )


def _what_to_check(report: ReplayReport, reason: str) -> str:
    """The option a replay whose every line was bad most likely got wrong."""
    if "--field" in reason:
        return "map the columns with --field"
    if "log_format" in report.formats.values():
        return "is the --log-format layout the log's?"
    return "is --format right?"


def bad_line(
    counter: HitCounter,
    report: ReplayReport,
    info: BadLineInfo,
    strict: bool,
    on_bad_line: Callable[[BadLineInfo], None] | None,
) -> None:
    """Count a bad line (its first few kept in `report`), or raise it under `strict`."""
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

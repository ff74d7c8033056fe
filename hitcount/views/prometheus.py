"""`hitcount export`: the Prometheus text exposition format (version 0.0.4).

Every metric is a gauge over one window, labelled `endpoint` and `window` (the window's
length, `1m`, `1h30m`). The names, each documented by its HELP line:

- `hitcount_hits`: the estimated hits; `hitcount_hits_low` / `hitcount_hits_high`: bounds
  (`+Inf` when the window reaches past the retained data); `hitcount_hits_exact`: 1 when the
  estimate is the true count.
- `hitcount_hits_per_second`: the estimate over the window's length.
- `hitcount_distinct_users` (and `_low`, `_high`): distinct users, when the state has them.
- `hitcount_window_end_timestamp_seconds`: the window's end (label `window` only).

The file suits node exporter's textfile collector (write it as `NAME.prom`, atomically: the
collector never reads half a file) or a pushgateway (`curl --data-binary @NAME.prom`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from hitcount.engine import HitCounter
from hitcount.engine.ranking import Ranked, rank
from hitcount.errors import ConfigurationError
from hitcount.model.inert import unambiguous
from hitcount.model.timeparse import duration_text
from hitcount.persist.atomic import check_replaceable, write_output

#: (name, help) of each per-endpoint gauge, in the order written.
GAUGES = (
    ("hitcount_hits", "Hits of the endpoint in the window (the estimate)."),
    ("hitcount_hits_low", "Lower bound on the hits of the endpoint in the window."),
    ("hitcount_hits_high", "Upper bound on the hits in the window (+Inf: unknown)."),
    ("hitcount_hits_exact", "1 when hitcount_hits is the true count, else 0."),
    ("hitcount_hits_per_second", "Hits per second over the window (the estimate)."),
    ("hitcount_distinct_users", "Distinct users of the endpoint in the window (estimate)."),
    ("hitcount_distinct_users_low", "Lower bound on distinct users (95% interval)."),
    ("hitcount_distinct_users_high", "Upper bound on distinct users (95% interval; +Inf)."),
)
WINDOW_END = "hitcount_window_end_timestamp_seconds"


@dataclass(frozen=True, slots=True)
class Exposition:
    """What one export says: the rows of a window, its length's name and its end."""

    rows: tuple[Ranked, ...]
    window: str
    end: float | None


def exposition_text(export: Exposition) -> str:
    """The whole exposition: HELP and TYPE once per metric, one sample per endpoint."""
    lines: list[str] = []
    for name, help_text in GAUGES:
        samples = [
            f"{name}{_labels(row.result.endpoint, export.window)} {_value(value)}"
            for row in export.rows
            if (value := _sample(name, row)) is not None
        ]
        if samples:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples]
    if export.end is not None:
        lines += [
            f"# HELP {WINDOW_END} End of the window, in seconds since the epoch (log time).",
            f"# TYPE {WINDOW_END} gauge",
            f'{WINDOW_END}{{window="{_escape(export.window)}"}} {_value(export.end)}',
        ]
    return "".join(line + "\n" for line in lines)


def write_exposition(path: str | os.PathLike[str], text: str) -> None:
    """Replace `path` with `text` atomically (a temporary file renamed over it), if it is
    missing, empty or an export hitcount wrote.

    Raises:
        OutputError: the directory is missing or not writable, or an existing file there is
            not an export.
    """  # noqa: D205
    target = Path(path)
    check_replaceable(target, "export", _is_export, "hitcount.prom")
    write_output(target, [text.encode("utf-8")], what="export")


def _is_export(head: bytes) -> bool:
    """Whether a file beginning with `head` is an export (empty: one of no endpoint)."""
    return not head.strip() or head.startswith(b"# HELP hitcount_")


def _sample(name: str, row: Ranked) -> float | None:
    answer = row.result.answer
    if name.startswith("hitcount_distinct_users"):
        if row.users is None:
            return None
        users = row.users.answer
        return {"": users.estimate, "_low": users.low, "_high": users.high}[
            name.removeprefix("hitcount_distinct_users")
        ]
    values: dict[str, float | None] = {
        "hitcount_hits": answer.count,
        "hitcount_hits_low": answer.low,
        "hitcount_hits_high": answer.high,
        "hitcount_hits_exact": 1.0 if answer.exact else 0.0,
        "hitcount_hits_per_second": None if row.rate is None else row.rate.per_s,
    }
    return values[name]


def _labels(endpoint: str, window: str) -> str:
    return f'{{endpoint="{_escape(endpoint)}",window="{_escape(window)}"}}'


def _escape(value: str) -> str:
    r"""A label value: the text as the tables show it (`unambiguous`: an unprintable
    character as its Python escape, a backslash doubled, so two endpoints never share a
    label), then escaped as the format wants (backslash and double quote)."""  # noqa: D205, D209
    return unambiguous(value).replace("\\", "\\\\").replace('"', '\\"')


def _value(number: float) -> str:
    value = float(number)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def export(
    counter: HitCounter,
    last_s: float,
    end: float | None = None,
    *,
    pattern: str | None = None,
    depth: int | None = None,
) -> Exposition:
    """Every endpoint (or those `pattern` names, rolled up to `depth`) over one window.

    Rows are sorted by endpoint, so successive files diff cleanly; distinct users are
    included when the state keeps them.

    Raises:
        ConfigurationError: a bad window or depth, or a strategy that keeps no time.
    """
    rows = rank(counter, last_s, end, limit=None, pattern=pattern, depth=depth,
                users=counter.has_users())  # fmt: skip
    if any(row.result.answer.all_time for row in rows):
        raise ConfigurationError(
            f"{counter.strategy.name} keeps no time: its counts are of all hits ever recorded,"
            " and a series labelled with a window would pass them off as that window's",
            hint="export a state replayed with a strategy that keeps time, e.g."
            " `hitcount replay FILE -s sliding`",
        )
    ordered = tuple(sorted(rows, key=lambda row: row.result.endpoint))
    window_end = end if end is not None else counter.clock
    return Exposition(ordered, duration_text(last_s), window_end)

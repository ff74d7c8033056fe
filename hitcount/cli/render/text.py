"""Results as short text for humans: endpoint text made inert, durations, answers."""

from __future__ import annotations

import math
import re
from typing import Any

from hitcount.engine import DistinctResult
from hitcount.model.answers import Rate, WindowAnswer
from hitcount.model.metrics import number
from hitcount.model.timeparse import iso

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """Text with control, C1 and bidi characters shown as Python escapes, e.g. ESC as x1b."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def counted(count: float, noun: str, plural: str | None = None) -> str:
    """`1 hit`, `2 hits`, `0 bad lines`: a count with its noun in the right number."""
    return f"{number(count)} {noun if count == 1 else plural or noun + 's'}"


def duration(seconds: float) -> str:
    """`300 s`, `5m`, `2h`: a window length for humans."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{number(seconds)}s"


def window_text(last_s: float, end: float | None, ranged: bool = False) -> str:
    """`in the last 5m`, or for a --since/--until range `in the 5m to 2026-11-27T12:00:00Z`."""
    if ranged and end is not None:
        return f"in the {duration(last_s)} to {iso(end)}"
    return f"in the last {duration(last_s)}"


def answer_text(answer: WindowAnswer, last_s: float, scope_text: str | None = None) -> str:
    """`42 hits in the last 5m (exact)`, or an estimate with its bounds."""
    scope = scope_text or f"in the last {duration(last_s)}"
    if answer.all_time:
        scope = "over all time" if answer.since is None else f"since {iso(answer.since)}"
    if not answer.complete:
        return f"at least {number(answer.low)} {_hits(answer.low)} {scope} (no upper bound)"
    if answer.exact:
        return f"{number(answer.count)} {_hits(answer.count)} {scope} (exact)"
    kind = "certain" if answer.confidence is None else f"{answer.confidence:.0%} interval"
    bounds = f"{number(answer.low)}..{number(answer.high)}, {kind}"
    return f"~{number(answer.count)} {_hits(answer.count)} {scope} ({bounds})"


def rate_text(rate: Rate | None) -> str:
    """`0.0125` hits per second (four significant digits), or `-` when it covers all time."""
    if rate is None:
        return "-"
    return f"{rate.per_s:.4g}" if rate.per_s else "0"


def rate_line(rate: Rate | None) -> str:
    """`0.0125/s (0.0125..0.0125)`: the rate and its bounds, `no upper bound` when unknown."""
    if rate is None:
        return "no rate: this strategy keeps no time"
    high = f"{rate.high:.4g}" if math.isfinite(rate.high) else "no upper bound"
    return f"{rate_text(rate)} hits/s ({rate.low:.4g}..{high})"


def _hits(count: float) -> str:
    return "hit" if count == 1 else "hits"


def distinct_text(result: DistinctResult, ranged: bool = False) -> str:
    """`~412 distinct users in the last 1h (395..430, 95% interval)`."""
    a = result.answer
    scope = window_text(result.last_s, result.now, ranged)
    if not a.complete:
        return f"at least {a.low:,.0f} distinct users {scope} (no upper bound)"
    bounds = f"{a.low:,.0f}..{a.high:,.0f}, {a.confidence:.0%} interval"
    return f"~{a.estimate:,.0f} distinct users {scope} ({bounds})"


def value_text(value: Any) -> str:
    """A metric or event value: floats without trailing zeros, anything else as `str`."""
    if isinstance(value, float):
        return number(value)
    return str(value)

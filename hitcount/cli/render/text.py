"""Results as short text for humans: endpoint text made inert, durations, answers."""

from __future__ import annotations

from typing import Any

from hitcount.engine import DistinctResult
from hitcount.model.answers import WindowAnswer
from hitcount.model.inert import shown
from hitcount.model.metrics import number
from hitcount.model.timeparse import iso


def safe(text: str) -> str:
    """Text with control, C1 and bidi characters shown as Python escapes, e.g. ESC as x1b.

    The one rule of `model.inert`; the console applies it to everything it prints, so calling
    it again (it is idempotent) only documents where outside text is.
    """
    return shown(text)


def counted(count: float, noun: str, plural: str | None = None) -> str:
    """`1 hit`, `2 hits`, `0 bad lines`: a count with its noun in the right number."""
    return f"{number(count)} {noun if count == 1 else plural or noun + 's'}"


def duration(seconds: float) -> str:
    """`300 s`, `5m`, `2h`: a window length for humans."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{number(seconds)}s"


def answer_text(answer: WindowAnswer, last_s: float) -> str:
    """`42 hits in the last 5m (exact)`, or an estimate with its bounds."""
    scope = f"in the last {duration(last_s)}"
    if answer.all_time:
        scope = "over all time" if answer.since is None else f"since {iso(answer.since)}"
    if not answer.complete:
        return f"at least {number(answer.low)} {_hits(answer.low)} {scope} (no upper bound)"
    if answer.exact:
        return f"{number(answer.count)} {_hits(answer.count)} {scope} (exact)"
    kind = "certain" if answer.confidence is None else f"{answer.confidence:.0%} interval"
    bounds = f"{number(answer.low)}..{number(answer.high)}, {kind}"
    return f"~{number(answer.count)} {_hits(answer.count)} {scope} ({bounds})"


def _hits(count: float) -> str:
    return "hit" if count == 1 else "hits"


def distinct_text(result: DistinctResult) -> str:
    """`~412 distinct users in the last 1h (395..430, 95% interval)`."""
    a = result.answer
    scope = f"in the last {duration(result.last_s)}"
    if not a.complete:
        return f"at least {a.low:,.0f} distinct users {scope} (no upper bound)"
    bounds = f"{a.low:,.0f}..{a.high:,.0f}, {a.confidence:.0%} interval"
    return f"~{a.estimate:,.0f} distinct users {scope} ({bounds})"


def value_text(value: Any) -> str:
    """A metric or event value: floats without trailing zeros, anything else as `str`."""
    if isinstance(value, float):
        return number(value)
    return str(value)

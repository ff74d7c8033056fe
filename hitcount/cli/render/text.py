"""Results as short text for humans: endpoint text made inert, durations, answers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

from hitcount.model.inert import shown
from hitcount.model.metrics import four_digits, number
from hitcount.model.timeparse import iso

if TYPE_CHECKING:
    from hitcount.engine.queries import DistinctResult
    from hitcount.ingest.progress import ReplayProgress
    from hitcount.model.answers import Rate, WindowAnswer


class Styled(NamedTuple):
    """Part of a line with a Rich style (shown on a terminal, dropped when piped)."""

    text: str
    style: str


def safe(text: str) -> str:
    """Text with control, C1 and bidi characters shown as Python escapes, e.g. ESC as x1b.

    The one rule of `model.inert`; the console applies it to everything it prints, so calling
    it again (it is idempotent) only documents where outside text is.
    """
    return shown(text)


def counted(count: float, noun: str, plural: str | None = None) -> str:
    """`1 hit`, `2 hits`, `0 bad lines`: a count with its noun in the right number."""
    return f"{number(count)} {noun if count == 1 else plural or noun + 's'}"


_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


def duration(seconds: float) -> str:
    """`90s`, `5m`, `2h`, `1d2h3m4s`: a window length for humans (as `--last` reads it)."""
    if seconds >= 60 and math.isfinite(seconds):  # to the millisecond: never `1m60.0s`
        seconds = round(seconds, 3)
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if 0 < seconds < 1:  # `1ms`, never `0.0s`
        return f"{number(seconds * 1000)}ms"
    if seconds < 60 or not math.isfinite(seconds):
        return f"{number(seconds)}s"
    parts, rest = [], seconds  # a minute or more, not whole: its parts, largest first
    for unit, size in _UNITS:
        if rest >= size:
            parts.append(f"{int(rest // size)}{unit}")
            rest %= size
    return "".join(parts) + (f"{number(rest)}s" if rest else "")


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
    return four_digits(rate.per_s) if rate.per_s else "0"


def rate_line(rate: Rate | None) -> str:
    """`0.0125/s (0.0125..0.0125)`: the rate and its bounds, `no upper bound` when unknown."""
    if rate is None:
        return "no rate: this strategy keeps no time"
    high = four_digits(rate.high) if math.isfinite(rate.high) else "no upper bound"
    return f"{rate_text(rate)} hits/s ({four_digits(rate.low)}..{high})"


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


def progress_text(verb: str, progress: ReplayProgress, elapsed_s: float) -> str:
    """`replaying: 42% · 1,200 lines · 0:05 elapsed, about 0:07 left · 240 lines/s`.

    The share and the time left come from the bytes read of the inputs' size (gzip by its
    compressed bytes), the time left assuming the rest goes at the pace so far; both are
    left out when the size is unknown (stdin).
    """
    head = f"{verb} ({progress.stage})" if progress.stage else verb
    parts = [f"{progress.lines:,} lines", f"{clock_text(elapsed_s)} elapsed"]
    share = progress.fraction
    if share is not None:
        parts.insert(0, f"{math.floor(share * 100)}%")  # 100% only once all is read
        if 0 < share < 1:
            left = clock_text(elapsed_s * (1 - share) / share, up=True)
            parts[-1] += f", about {left} left"
    if elapsed_s > 0:
        parts.append(f"{progress.lines / elapsed_s:,.0f} lines/s")
    return f"{head}: {' · '.join(parts)}"


def clock_text(seconds: float, *, up: bool = False) -> str:
    """`0:07`, `12:30`, `1:02:03`: a time span as a clock shows it, in whole seconds (rounded
    down, or `up`)."""  # noqa: D205, D209
    whole = (math.ceil if up else math.floor)(max(seconds, 0.0))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

"""Series as charts: sparklines (several endpoints on one scale) or one bar per step."""

from __future__ import annotations

import math

from rich.cells import cell_len
from rich.text import Text

from hitcount.cli.render.console import Output
from hitcount.cli.render.text import duration, rate_text
from hitcount.model.answers import Rate
from hitcount.model.inert import unambiguous
from hitcount.model.metrics import number
from hitcount.model.timeparse import iso
from hitcount.views.series import EndpointSeries, Point, Series, total_text

#: Sparkline levels, lowest first: an empty step is the lowest, the busiest step the highest.
SPARKS = "▁▂▃▄▅▆▇█"
#: A step before the retained data: its count is unknown, not zero.
UNKNOWN = "·"
#: Partial blocks for bar ends, one eighth of a character to seven eighths.
_EIGHTHS = "▏▎▍▌▋▊▉"
#: Longest bar when stdout is not a terminal (and no --width).
PIPED_BAR_WIDTH = 40


def draw_series(render: Output, result: Series, *, bars: bool, width: int | None) -> None:
    """The chart of `result` on stdout, then its caveats on stderr."""
    if bars:
        _bars(render, result, width)
    else:
        _sparklines(render, result, width)
    _caveats(render, result, bars)


# -- sparklines ------------------------------------------------------------------------------


def _sparklines(render: Output, result: Series, width: int | None) -> None:
    labels = [unambiguous(s.endpoint) for s in result.series]
    label_width = max(cell_len(label) for label in labels)
    stats = [_stats(s, result.peak(s)) for s in result.series]
    points = len(result.times)
    room = width
    if room is None and render.out.is_terminal:
        used = label_width + 2 + 2 + max(cell_len(text) for text in stats)
        room = max(render.out.width - used, 10)
    per_char = math.ceil(points / room) if room is not None and points > room else 1
    rows = [_merge(_known_counts(s), per_char) for s in result.series]
    top = max((value for row in rows for value in row if not math.isnan(value)), default=0.0)
    merged = f", {per_char} steps a character" if per_char > 1 else ""
    render.line(
        f"{points} steps of {duration(result.step_s)}{merged} ·"
        f" {iso(result.start)} < ts <= {iso(result.now)} · {result.strategy}"
    )
    for label, row, text in zip(labels, rows, stats, strict=True):
        render.line(
            Text(label + " " * (label_width - cell_len(label)), style="bold"),
            "  ",
            Text(sparkline(row, top), style="cyan"),
            "  ",
            text,
        )


def sparkline(values: list[float], top: float) -> str:
    """One character per value, scaled to `top`: `▁` for 0, `█` for `top`, `·` for unknown.

    Any value above 0 is at least `▂`, so a quiet step never looks like an empty one; a
    NaN (a step before the retained data) is drawn apart, so it never looks like zero.
    """
    levels = len(SPARKS) - 1
    return "".join(_spark(value, top, levels) for value in values)


def _spark(value: float, top: float, levels: int) -> str:
    if math.isnan(value):
        return UNKNOWN
    if value <= 0 or top <= 0:
        return SPARKS[0]
    return SPARKS[min(max(round(value / top * levels), 1), levels)]


def _known_counts(s: EndpointSeries) -> list[float]:
    """Each step's estimate, NaN where the step reaches past what the state keeps."""
    return [point.count if point.complete else math.nan for point in s.points]


def _merge(counts: list[float], per_char: int) -> list[float]:
    """Average `per_char` consecutive steps into one value, aligned on the newest step.

    The oldest group may hold fewer steps; averaging keeps it on the same scale.
    """
    if per_char <= 1:
        return list(counts)
    groups: list[list[float]] = []
    for end in range(len(counts), 0, -per_char):
        groups.append(counts[max(end - per_char, 0) : end])
    return [sum(group) / len(group) for group in reversed(groups)]  # NaN stays NaN


def _stats(s: EndpointSeries, peak: Rate | None) -> str:
    counts = [value for value in _known_counts(s) if not math.isnan(value)]
    matched = "" if s.matched == (s.endpoint,) else f" · {len(s.matched)} matched"
    unknown = len(s.points) - len(counts)
    spread = f" · min {number(min(counts))} · max {number(max(counts))}" if counts else ""
    rate = f" · peak {rate_text(peak)}/s" if peak is not None else ""
    gaps = f" · {unknown} steps unknown (·)" if unknown else ""
    return f"total {total_text(s.total)}{spread}{rate}{gaps}{matched}"


# -- bars ------------------------------------------------------------------------------------


def _bars(render: Output, result: Series, width: int | None) -> None:
    top = max((point.count for s in result.series for point in s.points), default=0.0)
    times = [iso(t) or "-" for t in result.times]
    counts = [_count_text(p) for s in result.series for p in s.points]
    count_width = max(len(text) for text in counts)
    bar_width = width
    if bar_width is None:
        bar_width = PIPED_BAR_WIDTH
        if render.out.is_terminal:
            used = 2 + max(len(t) for t in times) + 2 + count_width + 2 + 16
            bar_width = min(max(render.out.width - used, 10), 60)
    render.line(
        f"hits per {duration(result.step_s)} step, each ending at the time shown ·"
        f" {iso(result.start)} < ts <= {iso(result.now)} · {result.strategy}"
    )
    for s in result.series:
        peak = result.peak(s)
        rate = f" · peak {rate_text(peak)}/s" if peak is not None else ""
        render.line(
            Text(unambiguous(s.endpoint), style="bold"), f"  total {total_text(s.total)}{rate}"
        )
        for when, point in zip(times, s.points, strict=True):
            render.line(
                f"  {when}  {_count_text(point):>{count_width}}  ",
                Text(bar(point.count, top, bar_width), style="cyan"),
                _bounds_text(point),
            )


def bar(value: float, top: float, width: int) -> str:
    """A bar of `█` (ending in a partial block) `width * value / top` characters long.

    A value above 0 always shows at least a sliver.
    """
    if top <= 0 or value <= 0:
        return ""
    eighths = max(round(value / top * width * 8), 1)
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest - 1] if rest else "")


def _count_text(point: Point) -> str:
    return number(point.count) if point.exact else f"~{number(point.count)}"


def _bounds_text(point: Point) -> str:
    if not point.complete:
        return f"  (at least {number(point.low)})"
    if point.exact:
        return ""
    return f"  ({number(point.low)}..{number(point.high)})"


def _caveats(render: Output, result: Series, bars: bool) -> None:
    for s in result.series:
        if not s.matched:
            render.warn(f"{s.endpoint} matched no endpoint")
    if not result.complete:
        render.warn(
            "some steps start before the oldest data the strategy keeps, so their true counts"
            " may be higher; use a shorter --last or a longer --max-window / --retention"
        )
    elif not result.exact:
        shown = "their bounds in brackets" if bars else "--bars and --json show the bounds"
        render.note(
            f"~ marks estimates: the strategy's buckets do not line up with the steps ({shown})"
        )

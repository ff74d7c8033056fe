"""The `plot` command: hits per step as sparklines or bars, several endpoints on one scale."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.text import Text

from hitcount.cli import options as opt
from hitcount.cli.app import app
from hitcount.cli.options import context
from hitcount.cli.render import Renderer, duration, safe
from hitcount.errors import ConfigurationError
from hitcount.model.metrics import number
from hitcount.model.timeparse import iso, parse_duration, parse_instant
from hitcount.persist.state import load_counter
from hitcount.persist.stores import Scope
from hitcount.strategies import WindowAnswer
from hitcount.views.series import DEFAULT_STEPS, EndpointSeries, Point, Series, series, total_text

#: Sparkline levels, lowest first: an empty step is the lowest, the busiest step the highest.
SPARKS = "▁▂▃▄▅▆▇█"
#: A step before the retained data: its count is unknown, not zero.
UNKNOWN = "·"
#: Partial blocks for bar ends, one eighth of a character to seven eighths.
_EIGHTHS = "▏▎▍▌▋▊▉"
#: Steps in a window when --step is not given.
#: Longest bar when stdout is not a terminal (and no --width).
PIPED_BAR_WIDTH = 40
#: `--json` lists at most this many endpoints a glob matched (`matched_count` has them all).
MATCHED_SHOWN = 100
#: Widest chart --width accepts.
MAX_WIDTH = 10_000


@app.command()
def plot(
    ctx: typer.Context,
    endpoints: Annotated[
        list[str],
        typer.Argument(
            help="Endpoints, or globs such as '/api/*' (summed); all share one scale.",
            show_default=False,
        ),
    ],
    last: opt.Last = "1h",
    step: opt.Step = None,
    now: opt.Now = None,
    bars: Annotated[
        bool, typer.Option("--bars", help="One line per step with a bar, instead of sparklines.")
    ] = False,
    width: Annotated[
        int | None,
        typer.Option(
            "--width",
            "-w",
            help="Widest chart in characters: sparkline length (steps are merged to fit)"
            " or longest bar (default: fit the terminal; piped: one character per step,"
            f" bars of {PIPED_BAR_WIDTH}).",
            show_default=False,
        ),
    ] = None,
    json_output: opt.JsonFlag = False,
) -> None:
    """Hits per step over the window now - N < ts <= now (default --last 1h).

    Every step (t - step, t] is answered by the strategy, with its bounds.

    Example: hitcount plot /api/login '/static/*' --last 6h --step 30m
    """
    last_s = parse_duration(last)
    step_s = last_s / DEFAULT_STEPS if step is None else parse_duration(step, "--step")
    end = None if now is None else parse_instant(now)
    if width is not None and not 1 <= width <= MAX_WIDTH:
        raise ConfigurationError(f"--width must be between 1 and {MAX_WIDTH}, got {width}")
    scope = Scope(patterns=tuple(endpoints), last_s=last_s, now=end)
    counter = load_counter(context(ctx).store(), lazy_distinct=True, scope=scope)
    result = series(counter, endpoints, last_s, step_s, end)
    render = Renderer(json_output=json_output)
    if json_output:
        render.json(series_json(result))
    elif bars:
        _bars(render, result, width)
    else:
        _sparklines(render, result, width)
    if not json_output:
        _caveats(render, result, bars)


# -- JSON ------------------------------------------------------------------------------------


def series_json(result: Series) -> dict[str, Any]:
    """A series for `--json` (an unknown upper bound is null)."""
    return {
        "last": result.last_s,
        "step": result.step_s,
        "now": result.now,
        "now_iso": iso(result.now),
        "strategy": result.strategy,
        "times": list(result.times),
        "series": [
            {
                "endpoint": s.endpoint,
                "matched": list(s.matched[:MATCHED_SHOWN]),
                "matched_count": len(s.matched),
                "total": _answer_json(s.total),
                "points": [_point_json(point) for point in s.points],
            }
            for s in result.series
        ],
    }


def _point_json(point: Point) -> dict[str, Any]:
    return {"end": point.end, **_answer_json(point.answer)}


def _answer_json(answer: WindowAnswer) -> dict[str, Any]:
    return {
        "count": answer.count,
        "low": answer.low,
        "high": answer.high if math.isfinite(answer.high) else None,
        "exact": answer.exact,
        "complete": answer.complete,
    }


# -- sparklines ------------------------------------------------------------------------------


def _sparklines(render: Renderer, result: Series, width: int | None) -> None:
    labels = [safe(s.endpoint) for s in result.series]
    label_width = max(cell_len(label) for label in labels)
    stats = [_stats(s) for s in result.series]
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


def _stats(s: EndpointSeries) -> str:
    counts = [value for value in _known_counts(s) if not math.isnan(value)]
    matched = "" if s.matched == (s.endpoint,) else f" · {len(s.matched)} matched"
    unknown = len(s.points) - len(counts)
    spread = f" · min {number(min(counts))} · max {number(max(counts))}" if counts else ""
    gaps = f" · {unknown} steps unknown (·)" if unknown else ""
    return f"total {total_text(s.total)}{spread}{gaps}{matched}"


# -- bars ------------------------------------------------------------------------------------


def _bars(render: Renderer, result: Series, width: int | None) -> None:
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
        render.line(Text(safe(s.endpoint), style="bold"), f"  total {total_text(s.total)}")
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


def _caveats(render: Renderer, result: Series, bars: bool) -> None:
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

"""The HTML report: what `hitcount report OUT.html` shows, gathered from a counter.

`build_report` asks the library the same questions `top`, `plot --json` and `metrics --json`
ask (`HitCounter.top`, `series.series`, `HitCounter.metrics_dict`), so the page shows the
same numbers; `hitcount.views.report_html` turns a `Report` into one self-contained page, and
`write_report` saves it atomically.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitcount.engine import HitCounter, QueryResult
from hitcount.errors import ConfigurationError
from hitcount.model.answers import WindowAnswer
from hitcount.model.timeparse import iso
from hitcount.persist.atomic import check_replaceable, write_output
from hitcount.views.series import DEFAULT_STEPS, Series, series, step_count

#: Most steps a report charts: one pixel per bar at the chart's width.
MAX_STEPS = 720
#: Most endpoints a report lists and charts.
MAX_TOP = 100
#: The marker every report carries; only a file that has it is overwritten.
GENERATOR = "hitcount report"
#: How much of an existing file is read to find the marker.


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one report page shows.

    Attributes:
        strategy: the strategy that answered, e.g. `sliding(max_window_s=3600)`.
        summary: what the strategy keeps and how exact it is (its registry summary).
        last_s: window length in seconds; the window is `now - last_s < ts <= now`.
        now: end of the window (None when the state has never seen a hit).
        top: the busiest endpoints in the window, most hits first (as `hitcount top`).
        series: hits per step of each of `top` (as `hitcount plot`); None when the
            strategy keeps no time or no endpoint had a hit in the window.
        metrics: every metric (as `hitcount metrics --json`).
        notes: the accuracy note: how exact the numbers are, sentence by sentence.
        none_certain: with no endpoint in `top`, whether it is certain the window had no
            hit (False: it starts before the data kept, or may hold hits refused as late).
    """

    strategy: str
    summary: str
    last_s: float
    now: float | None
    top: tuple[QueryResult, ...]
    series: Series | None
    metrics: dict[str, Any]
    notes: tuple[str, ...]
    none_certain: bool = True

    @property
    def all_time(self) -> bool:
        """Whether the answers cover all time (a strategy that keeps no time, e.g. morris)."""
        return any(result.answer.all_time for result in self.top)


def build_report(
    counter: HitCounter,
    last_s: float,
    step_s: float | None = None,
    limit: int = 10,
    now: float | None = None,
) -> Report:
    """The top endpoints of `now - last_s < ts <= now`, their hits per step, the metrics.

    Also the accuracy note: which numbers are exact, estimated or unknown.

    Args:
        counter: the counter to report on (not modified).
        last_s: window length in seconds.
        step_s: step length in seconds; `last_s` must be a whole number of steps
            (default: `last_s / DEFAULT_STEPS`).
        limit: how many of the busiest endpoints to list and chart, 1 to `MAX_TOP`.
        now: end of the window in epoch seconds; default: the replay clock.

    Raises:
        ConfigurationError: a bad window, step or limit, or more than `MAX_STEPS` steps.
    """
    if isinstance(limit, bool) or not 1 <= limit <= MAX_TOP:
        raise ConfigurationError(
            f"limit must be between 1 and {MAX_TOP}, got {limit}", param="limit"
        )
    step = last_s / DEFAULT_STEPS if step_s is None else step_s
    step_count(last_s, step, most=MAX_STEPS)  # a chart shows at most MAX_STEPS
    top = tuple(counter.top(last_s, now, limit))
    unheld = counter.unheld_answer(last_s, now)  # with no row: are "no hits" certain?
    timeless = any(result.answer.all_time for result in top)
    chart = None
    if top and not timeless:
        chart = series(counter, [result.endpoint for result in top], last_s, step, now)
    strategy = counter.strategy
    return Report(
        strategy=strategy.describe(),
        summary=strategy.summary,
        last_s=float(last_s),
        now=top[0].now if top else (counter.clock if now is None else now),
        top=top,
        series=chart,
        metrics=counter.metrics_dict(),
        notes=tuple(
            accuracy_notes(strategy.name, top, chart, strategy.horizon, unheld)
            + _refused_note(strategy.name, counter.refused_in(last_s, now))
        ),
        none_certain=unheld.exact and unheld.high == 0,
    )


def accuracy_notes(
    strategy: str,
    top: tuple[QueryResult, ...],
    chart: Series | None,
    horizon: float,
    unheld: WindowAnswer | None = None,
) -> list[str]:
    """How exact the numbers of a report are, one sentence each (`unheld`: what the window
    holds of an endpoint the state keeps nothing of, which the page says as "no hits")."""  # noqa: D205, D209
    answers = [result.answer for result in top]
    if chart is not None:
        answers += [point.answer for s in chart.series for point in s.points]
    if unheld is not None:
        answers.append(unheld)
    notes = [_timeless_note(strategy, answers)] if any(a.all_time for a in answers) else []
    notes.append(_exactness_note(answers))
    unknown = sum(not p.complete for s in (chart.series if chart else ()) for p in s.points)
    if unknown or not all(a.complete for a in answers):
        kept = f" ({iso(horizon)})" if math.isfinite(horizon) else ""
        steps = (
            f"; {unknown} chart step(s) are unknown and drawn hatched, not as zero"
            if chart is not None
            else "; an endpoint with no hit kept there may have had some"
        )
        notes.append(
            f"The window starts before the oldest data the strategy keeps{kept}: those"
            f" counts are lower bounds with no upper bound{steps}."
        )
    return notes


def _refused_note(strategy: str, refused: int) -> list[str]:
    """The hits refused as too late that the window may hold, in no count (QA S8)."""
    if not refused:
        return []
    return [
        f"{strategy} refused {refused:,} hit{'s' if refused != 1 else ''} as too late (more than"
        " --max-lateness behind the latest hit when they came); which endpoint and time each"
        " had is not kept, so every count here whose window may hold them is not exact and"
        " its upper bound takes them in."
    ]


def _timeless_note(strategy: str, answers: list[WindowAnswer]) -> str:
    since = next((answer.since for answer in answers if answer.since is not None), None)
    scope = "every hit ever recorded" if since is None else f"the hits after {iso(since)}"
    return (
        f"{strategy} keeps no time: its counters count {scope}, not hits per window,"
        " so this page shows totals over all time instead of charts."
    )


def _exactness_note(answers: list[WindowAnswer]) -> str:
    """Whether the answers over retained data are exact (the incomplete ones never are)."""
    if all(answer.exact for answer in answers):
        return "Every number on this page is exact."
    if all(answer.exact for answer in answers if answer.complete):
        return "Every count over the data the strategy keeps is exact."
    confidence = next((a.confidence for a in answers if a.confidence is not None), None)
    bounds = (
        "low..high are certain bounds: the true count lies between them"
        if confidence is None
        else f"low..high is a {confidence:.0%} interval"
    )
    return f"Estimates are marked ~ in the charts and exact: no in the tables; {bounds}."


def write_report(path: str | os.PathLike[str], page: str) -> None:
    """Write `page` to `path` atomically (`persist/atomic.py`): all of it or nothing.

    An existing file is replaced only if it is a report hitcount wrote.

    Raises:
        OutputError: the directory is missing or not writable, the path is a directory,
            or an existing file there is not a hitcount report.
    """
    target = Path(path)
    _check_replaceable(target)
    write_output(target, [page.encode("utf-8")], what="report")


def _check_replaceable(target: Path) -> None:
    marker = f'name="generator" content="{GENERATOR}'.encode()
    check_replaceable(target, "report", lambda head: marker in head, "report.html")

"""Hits per step over a window: the time series behind `hitcount plot`.

The window `(now - last, now]` is cut into consecutive steps `(t - step, t]` that end at
`now`; every step is answered by the strategy itself, so each point carries the same
count, bounds and exactness as a `query` over that step would.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hitcount.errors import ConfigurationError, StateError
from hitcount.model.answers import Rate, WindowAnswer
from hitcount.model.metrics import number, plain
from hitcount.model.windows import DEFAULT_STEPS as DEFAULT_STEPS  # re-exported
from hitcount.strategies import Strategy, available_strategies

if TYPE_CHECKING:
    from hitcount.engine.queries import Answering

#: Most points a series may have (per endpoint pattern).
MAX_POINTS = 10_000
#: Relative slack when checking that `last` is a whole number of steps (float rounding).
_TILING_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Point:
    """One step of a series: the hits with `start < ts <= end`.

    Attributes:
        start: left edge of the step (excluded), epoch seconds.
        end: right edge of the step (included), epoch seconds.
        answer: the strategy's answer for the step (bounds, exactness, completeness).
    """

    start: float
    end: float
    answer: WindowAnswer

    @property
    def count(self) -> float:
        """The estimate (the true count when `exact`)."""
        return self.answer.count

    @property
    def low(self) -> float:
        """Lower bound on the true count."""
        return self.answer.low

    @property
    def high(self) -> float:
        """Upper bound on the true count (inf when the step reaches past retained data)."""
        return self.answer.high

    @property
    def exact(self) -> bool:
        """Whether `count` is the true count."""
        return self.answer.exact

    @property
    def complete(self) -> bool:
        """False when the step starts before the oldest data the strategy keeps."""
        return self.answer.complete


@dataclass(frozen=True, slots=True)
class EndpointSeries:
    """The points of one endpoint pattern (a glob's matches are summed, as in `query`).

    Attributes:
        endpoint: the endpoint or glob asked for.
        matched: the endpoints it matched.
        points: one per step, oldest first.
        total: the whole window asked of the strategy in one query: the same estimate as
            the sum of the points, with bounds at least as tight (a `fixed` bucket cut
            by a step edge but inside the window counts for certain).
    """

    endpoint: str
    matched: tuple[str, ...]
    points: tuple[Point, ...]
    total: WindowAnswer

    @property
    def counts(self) -> list[float]:
        """The estimate of every step, oldest first."""
        return [point.count for point in self.points]


@dataclass(frozen=True, slots=True)
class Series:
    """Hits per step of several endpoint patterns over `(now - last_s, now]`.

    Attributes:
        last_s: window length in seconds.
        step_s: step length in seconds; `last_s` is a whole number of steps.
        now: end of the window (and of the last step), epoch seconds.
        times: the end of every step, oldest first; the last one is `now`.
        series: one per pattern, in the order asked.
        strategy: the strategy that answered, e.g. `sliding(max_window_s=3600)`.
    """

    last_s: float
    step_s: float
    now: float
    times: tuple[float, ...]
    series: tuple[EndpointSeries, ...]
    strategy: str

    @property
    def start(self) -> float:
        """Left edge of the window (excluded): `now - last_s`."""
        return self.now - self.last_s

    @property
    def exact(self) -> bool:
        """Whether every point of every series is exact."""
        return all(point.exact for s in self.series for point in s.points)

    @property
    def complete(self) -> bool:
        """Whether no step reaches past the data the strategy keeps."""
        return all(point.complete for s in self.series for point in s.points)

    def peak(self, one: EndpointSeries) -> Rate | None:
        """The busiest step of `one` as hits per second, with that step's bounds.

        None when no step is known (every step reaches past the data kept, or no time).
        """
        known = [p for p in one.points if p.complete and not p.answer.all_time]
        if not known:
            return None
        busiest = max(known, key=lambda point: (point.count, point.end))
        return Rate.of(busiest.answer, self.step_s)


def series(
    counter: Answering,
    patterns: list[str],
    last_s: float,
    step_s: float,
    now: float | None = None,
) -> Series:
    """Hits per step of each endpoint pattern over the window `now - last_s < ts <= now`.

    The window is cut into `last_s / step_s` consecutive steps `(t - step_s, t]`, the last
    ending at `now`; they tile the window with no gap and no overlap. Each step is answered
    by `counter.strategy` directly, so a strategy's bounds stay honest (a `fixed` step
    that cuts a bucket gets bounds, not a guess), and a step reaching past the retained
    data is marked incomplete with no upper bound, as `HitCounter.query` does.

    Example:
        counter = HitCounter("sliding", max_window_s=3600)
        counter.record_many([("/api", 990.0), ("/api", 1059.0)])
        series(counter, ["/api"], last_s=120, step_s=60).series[0].counts  # [1, 1]

    Args:
        counter: the counter to read (not modified).
        patterns: endpoints or globs such as `/api/*`; a glob's matches are summed.
        last_s: window length in seconds; a whole number of steps.
        step_s: step length in seconds.
        now: end of the window in epoch seconds; default: the replay clock.

    Returns:
        The step end times and one series of points per pattern.

    Raises:
        ConfigurationError: no pattern; a step or window that is not a positive finite
            number; a window shorter than a step or not a whole number of steps; more
            than `MAX_POINTS` steps; a strategy with no time resolution (e.g. `morris`).
        StateError: no `now` given and the state has never seen a hit (no clock).
    """
    if not patterns:
        raise ConfigurationError("give at least one endpoint to plot")
    points = step_count(last_s, step_s)
    end = _window_end(counter, now)
    edges = _edges(end, last_s, step_s, points)
    strategy = counter.strategy
    clock = counter.clock if counter.clock is not None else -math.inf
    answer = counter.answer_between
    matches = [counter.match(pattern) for pattern in patterns]
    _check_time_resolving(strategy, [ep for m in matches for ep in m], edges[0], end, clock)
    return Series(
        last_s=float(last_s),
        step_s=float(step_s),
        now=end,
        times=tuple(edges[1:]),
        series=tuple(
            EndpointSeries(
                pattern,
                tuple(matched),
                tuple(
                    Point(start, stop, answer(matched, start, stop))
                    for start, stop in itertools.pairwise(edges)
                ),
                answer(matched, edges[0], end),
            )
            for pattern, matched in zip(patterns, matches, strict=True)
        ),
        strategy=strategy.describe(),
    )


def step_count(last_s: float, step_s: float, most: int = MAX_POINTS) -> int:
    """How many steps tile the window; checks both lengths.

    Raises:
        ConfigurationError: not positive and finite, `last_s < step_s`, not a whole
            number of steps, or more than `most` of them.
    """
    for option, value in (("step_s", step_s), ("last_s", last_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigurationError(
                f"{option} must be a number of seconds, got {value!r}", param=option
            )
        if not (math.isfinite(value) and value > 0):
            raise ConfigurationError(
                f"{option} must be a positive number of seconds, got {value!r}", param=option
            )
    if last_s < step_s:
        raise ConfigurationError(
            f"--last ({plain(last_s)}s) must be at least one --step ({plain(step_s)}s)",
            hint="use a shorter --step or a longer --last",
        )
    ratio = last_s / step_s
    if ratio > most + 0.5:
        raise ConfigurationError(
            f"--last {plain(last_s)}s in steps of {plain(step_s)}s makes"
            f" {math.ceil(ratio):,} points;"
            f" the most is {most:,}",
            hint=f"use a --step of at least {plain(last_s / most)}s",
        )
    points = round(ratio)
    if abs(points * step_s - last_s) > _TILING_TOLERANCE * last_s:
        raise ConfigurationError(
            f"--last ({plain(last_s)}s) must be a whole number of --step ({plain(step_s)}s)",
            hint=f"use a --step that divides --last, e.g. {plain(last_s / math.floor(ratio))}s"
            f" or {plain(last_s / math.ceil(ratio))}s",
        )
    return points


def _window_end(counter: Answering, now: float | None) -> float:
    if now is not None:
        if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
            raise ConfigurationError(
                f"now must be a finite number of seconds, got {now!r}", param="now"
            )
        return float(now)
    if counter.clock is None:
        raise StateError(
            "the state has not seen a hit yet, so it has no clock to end the plot at",
            hint="replay some traffic first, or pass --now",
        )
    return counter.clock


def _edges(end: float, last_s: float, step_s: float, points: int) -> list[float]:
    """`points + 1` step edges, oldest first: step i is `(edges[i], edges[i + 1]]`.

    Each edge is computed once and shared by the two steps it separates, so the steps
    tile the window exactly whatever the float rounding.
    """
    edges = [end - (points - k) * step_s for k in range(points + 1)]
    edges[0], edges[-1] = end - last_s, end
    return edges


def _check_time_resolving(
    strategy: Strategy, endpoints: list[str], start: float, end: float, clock: float
) -> None:
    """Refuse a strategy whose answers cover all time (it cannot be cut into steps).

    Raises:
        ConfigurationError: the strategy keeps no time.
    """
    if endpoints:
        timeless = strategy.query(endpoints[0], start, end, clock).all_time
    else:  # the rule HitCounter uses for an answer with no endpoint behind it
        timeless = strategy.retention_s() == math.inf and not strategy.is_exact
    if timeless:
        others = ", ".join(name for name in available_strategies() if name != strategy.name)
        raise ConfigurationError(
            f"{strategy.name} keeps no time: its answers count all hits ever recorded, so"
            " they cannot be plotted over time",
            hint=f"replay the traffic with a strategy that keeps time ({others}), e.g."
            " `hitcount replay FILE -s sliding`; swapping away from"
            f" {strategy.name} needs --reset and starts empty",
        )


def total_text(answer: WindowAnswer) -> str:
    """A series total as `plot` and the report print it: exact, `~estimate (low..high)`,
    or `at least low` when part of the window is no longer kept."""  # noqa: D205, D209
    if not answer.complete:
        return f"at least {number(answer.low)}"
    if answer.exact:
        return number(answer.count)
    return f"~{number(answer.count)} ({number(answer.low)}..{number(answer.high)})"

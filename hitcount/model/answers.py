"""Answers every layer passes around: hits and distinct users in a window, with bounds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DistinctAnswer:
    """Distinct users in a window, `start < ts <= end`.

    Attributes:
        estimate: the estimated number of distinct users.
        low, high: bounds at `confidence` (HLL error, plus the boundary buckets' doubt).
        confidence: the confidence of the bounds.
        complete: False when the window starts before the oldest bucket kept.
        buckets_partial: boundary buckets only partly inside the window.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    complete: bool = True
    buckets_partial: int = 0


@dataclass(frozen=True, slots=True)
class WindowAnswer:
    """The answer to "how many hits in `(start, end]`", with how exact it is.

    Attributes:
        count: the estimate.
        low: lower bound on the true count.
        high: upper bound on the true count.
        exact: True when `count` is the true count.
        confidence: None when `low`/`high` hold with certainty, else their confidence (0.95).
        complete: False when the window reaches past what the strategy retains, so the
            true count may be higher than what the state can see.
        all_time: True when the strategy has no time resolution and the answer covers
            all hits ever recorded rather than the window.
        since: with `all_time`, the answer covers only hits after this time (epoch
            seconds) when older ones were pruned before the state became this strategy.
    """

    count: float
    low: float
    high: float
    exact: bool
    confidence: float | None = None
    complete: bool = True
    all_time: bool = False
    since: float | None = None

    @classmethod
    def exactly(cls, count: int, *, complete: bool = True) -> WindowAnswer:
        """An exact answer."""
        return cls(count, count, count, True, complete=complete)

    def __add__(self, other: WindowAnswer) -> WindowAnswer:
        """The answer for the union of two disjoint sets of hits (bounds add up)."""
        confidence = self.confidence or other.confidence
        known = [s for s in (self.since, other.since) if s is not None]
        return WindowAnswer(
            self.count + other.count,
            self.low + other.low,
            self.high + other.high,
            self.exact and other.exact,
            confidence,
            self.complete and other.complete,
            self.all_time or other.all_time,
            max(known) if known else None,
        )


EMPTY_ANSWER = WindowAnswer.exactly(0)


@dataclass(frozen=True, slots=True)
class Rate:
    """Hits per second over a window: the answer's count and bounds divided by its length.

    `high` is inf when the answer has no upper bound.
    """

    per_s: float
    low: float
    high: float

    @classmethod
    def of(cls, answer: WindowAnswer, seconds: float) -> Rate | None:
        """The rate of `answer` over `seconds`; None when it covers all time, not a window."""
        if answer.all_time or not seconds > 0:
            return None
        return cls(answer.count / seconds, answer.low / seconds, answer.high / seconds)

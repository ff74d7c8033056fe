"""Answers every layer passes around: hits and distinct users in a window, with bounds."""

from __future__ import annotations

import math

import msgspec

#: Significant digits an estimate keeps beyond its bounds' spread (see `WindowAnswer`).
_DIGITS_PAST_SPREAD = 3
_FINEST_DIGITS = 6


def settled(count: float, low: float, high: float) -> float:
    """`count` inside `[low, high]`, rounded to what their spread justifies.

    A spread `high - low` of order `10**e` leaves `count` 3 significant digits past it
    (never finer than 0.001 of it, nor than a millionth: counts are of whole hits and
    users), which removes float noise such as 16.999999999992, 1.0000000149 or 2.36e-10
    where the bounds say 0.
    """
    spread = high - low
    if not (spread > 0 and math.isfinite(spread) and math.isfinite(count)):
        return count
    digits = min(_FINEST_DIGITS, max(0, _DIGITS_PAST_SPREAD - math.floor(math.log10(spread))))
    return min(max(round(count, digits) + 0.0, low), high)


class DistinctAnswer(msgspec.Struct, frozen=True):
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

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "estimate", settled(self.estimate, self.low, self.high))


class WindowAnswer(msgspec.Struct, frozen=True):
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

    An estimate (`exact` False) is `settled`: within its bounds and rounded to what their
    spread justifies, so float noise never shows.
    """

    count: float
    low: float
    high: float
    exact: bool
    confidence: float | None = None
    complete: bool = True
    all_time: bool = False
    since: float | None = None

    def __post_init__(self) -> None:
        if not self.exact:
            msgspec.structs.force_setattr(self, "count", settled(self.count, self.low, self.high))

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


class Rate(msgspec.Struct, frozen=True):
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

"""A distinct-users window answer from per-bucket sketches.

Bucket `b` spans `b * width` to `(b + 1) * width`: `(lo, hi]` like the windows (so a window
whose edges are bucket edges is whole buckets, one merged sketch, no estimate between
bounds), or `[lo, hi)` in states saved before. Buckets fully inside the window give the
lower sketch; those plus the boundary buckets partly inside give the upper one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from hitcount.model.answers import DistinctAnswer
from hitcount.sketches.hll import HyperLogLog


class Window(msgspec.Struct, frozen=True):
    """`(start, end]`, the latest hit seen (`clock`), and the buckets' grid."""

    start: float
    end: float
    clock: float | None
    width: float
    closed_right: bool

    def place(self, bucket: int) -> int:
        """0: outside the window, 1: partly inside, 2: inside.

        `clock` lets the bucket holding it count as inside when the window ends at or
        after it (nothing later has been seen).
        """
        lo, hi = bucket * self.width, (bucket + 1) * self.width
        start, end = self.start, self.end
        if hi <= start or lo > end or (self.closed_right and lo == end):
            return 0
        ends_after_clock = self.clock is not None and self.clock <= end
        starts_inside = lo >= start if self.closed_right else lo > start
        return 2 if starts_inside and (hi <= end or ends_after_clock) else 1

    def covered(self, bucket: int) -> float:
        """The share of the bucket that lies in the window."""
        lo, hi = bucket * self.width, (bucket + 1) * self.width
        overlap = min(hi, self.end) - max(lo, self.start)
        return min(1.0, max(0.0, overlap / (hi - lo)))


def window_answer(
    held: Iterable[Mapping[int, HyperLogLog]], window: Window, precision: int, confidence: float
) -> DistinctAnswer:
    """The users of the sketches in `held` (bucket -> sketch, one mapping per endpoint, users
    counted once) in `window`; `complete` is left True for the caller to set."""  # noqa: D205, D209
    inner, outer = HyperLogLog(precision), HyperLogLog(precision)
    partial: set[int] = set()
    for buckets in held:
        for bucket, sketch in buckets.items():
            place = window.place(bucket)
            if place:
                outer.merge(sketch)
            if place == 2:
                inner.merge(sketch)
            elif place == 1:
                partial.add(bucket)
    low_est, high_est = inner.estimate(), outer.estimate()
    low = inner.bounds(confidence)[0] if low_est else 0.0
    high = outer.bounds(confidence)[1]
    estimate = low_est
    if partial:
        share = sum(map(window.covered, partial)) / len(partial)
        estimate = low_est + max(0.0, high_est - low_est) * share
    estimate = min(max(estimate, low), high)
    return DistinctAnswer(
        estimate=estimate,
        low=min(low, estimate),
        high=high,
        confidence=confidence,
        complete=True,
        buckets_partial=len(partial),
    )

"""Answers that every layer passes around: distinct users in a window, with their bounds."""

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

"""What a strategy's state can offer to others: conversions and stores ask for these.

A strategy declares a capability by inheriting it (`class SlidingWindow(Strategy,
KeepsTimestamps)`); a conversion asks `isinstance(source, KeepsTimestamps)`, never for a
concrete class, so strategies never import each other. Each capability is also a typed,
per-endpoint contract: a store reads and writes a strategy's state through it, never
through the strategy's private dictionaries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

from hitcount.strategies.base import Strategy


class KeepsTimestamps(ABC):
    """A strategy that keeps the timestamp of every retained hit (all after its horizon)."""

    @abstractmethod
    def timestamps(self, endpoint: str) -> Sequence[float]:
        """The retained timestamps of `endpoint` (epoch seconds), sorted; empty if none."""

    @abstractmethod
    def set_timestamps(self, endpoint: str, timestamps: Sequence[float]) -> None:
        """Replace `endpoint`'s timestamps with `timestamps` (sorted); empty drops it.

        Values are checked when the state is next loaded (`load_state`), not here.
        """


class KeepsBuckets(ABC):
    """A strategy that keeps, per endpoint, hit counts in buckets of one width.

    Bucket `j` holds the hits with `j * bucket_width_s < ts <= (j + 1) * bucket_width_s`
    (with `<= ts <` instead when `closed_right` is False: states saved before).
    """

    #: The width of every bucket, in seconds.
    bucket_width_s: float
    #: Whether buckets are `(lo, hi]` (else `[lo, hi)`).
    closed_right: bool
    #: When a dict, `prune` notes the buckets it drops, per endpoint (None: it does not).
    pruned_buckets: dict[str, set[int]] | None

    @abstractmethod
    def bucket_counts(self, endpoint: str) -> dict[int, int]:
        """A copy of `endpoint`'s `bucket index -> count` table (counts > 0)."""

    @abstractmethod
    def set_buckets(self, endpoint: str, counts: Mapping[int, int]) -> None:
        """Replace `endpoint`'s buckets with `counts`; an empty table drops the endpoint."""


class KeepsLevels(ABC):
    """A strategy that keeps, per endpoint, a few small counter levels, advanced by a random
    generator whose whole state is one integer (Morris counters)."""  # noqa: D205, D209

    @abstractmethod
    def levels(self, endpoint: str) -> list[int]:
        """A copy of `endpoint`'s counter levels; empty if none."""

    @abstractmethod
    def set_levels(self, endpoint: str, levels: Sequence[int]) -> None:
        """Replace `endpoint`'s levels with `levels`; empty drops the endpoint.

        Values are checked when the state is next loaded (`load_state`), not here.
        """

    @abstractmethod
    def generator_state(self) -> int:
        """The random generator's state (what the next draws start from)."""

    @abstractmethod
    def set_generator_state(self, state: int) -> None:
        """Continue the random draws from `state` (checked at the next `load_state`)."""


_S = TypeVar("_S", bound=Strategy)


def replayed_into(
    target: _S, source: KeepsTimestamps, endpoints: Iterable[str], horizon: float
) -> _S:
    """`target` after recording each timestamp `source` keeps of `endpoints`, in order, and
    then taking `horizon`, the source's (so the target refuses nothing the source kept:
    every retained timestamp is newer than it)."""  # noqa: D205, D209
    for endpoint in endpoints:
        target.record_many(endpoint, source.timestamps(endpoint))
    target.horizon = horizon
    return target


def keeping_buckets(strategy: Strategy) -> KeepsBuckets:
    """`strategy` as one that keeps buckets (a store's layout for it asks no less)."""
    if isinstance(strategy, KeepsBuckets):
        return strategy
    raise _keeps_no(strategy, "buckets")


def keeping_timestamps(strategy: Strategy) -> KeepsTimestamps:
    """`strategy` as one that keeps timestamps (a store's layout for it asks no less)."""
    if isinstance(strategy, KeepsTimestamps):
        return strategy
    raise _keeps_no(strategy, "timestamps")


def keeping_levels(strategy: Strategy) -> KeepsLevels:
    """`strategy` as one that keeps counter levels (a store's layout for it asks no less)."""
    if isinstance(strategy, KeepsLevels):
        return strategy
    raise _keeps_no(strategy, "counter levels")


def _keeps_no(strategy: Strategy, what: str) -> TypeError:
    """The error of a `keeping_*` asked of a strategy without `what`: a layout chosen for
    another strategy (a bug, not bad input)."""  # noqa: D205, D209
    return TypeError(f"the {strategy.name} strategy keeps no {what}")

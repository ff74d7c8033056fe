"""The exact confidence interval of a few Morris counters at small levels.

The normal-approximation interval (`MorrisCounter.interval`) is fine once counters have
risen a few levels, but at the first levels the counters' distribution is far from normal
and the interval can miss: four counters at level 1 estimate 1 hit and give `1..1`, yet
two hits leave all four there one time in sixteen. So while the counters are low (their
levels sum to at most `3 k` or 12, and `k <= 16`), the interval also takes in the exact
one (the query keeps the union, which covers whatever either covers): the hit counts
`n` under which the levels' sum `T` is in neither 2.5% tail, `P(T <= t | n) >= 2.5%` and
`P(T >= t | n) >= 2.5%` at the observed sum `t`. `T` is the sum of `k` independent
counters, each a Markov chain that rises from level `c` with probability `base**-c` per hit,
so both tails are computed exactly, once per base and number of counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate

#: Each tail left out of the interval.
_TAIL = 0.025
#: The most counters the exact interval is worked out for, and the highest sum of levels:
#: `3 k`, at least 12 (beyond, the mean of the counters is close enough to normal).
_MOST_COUNTERS = 16
_MEAN_LEVEL = 3
_LEAST_TOP = 12
#: The most hit counts the exact interval steps through (a large base keeps counters low
#: for thousands of hits: the normal approximation's interval is used there instead).
_MOST_HITS = 64


def small_levels(levels: Sequence[int]) -> bool:
    """Whether the counters are few and low enough for the exact interval."""
    return len(levels) <= _MOST_COUNTERS and sum(levels) <= _top(len(levels))


def exact_interval(base: float, counters: int, total: int) -> tuple[int, int] | None:
    """`(low, high)`: the hit counts under which `counters` counters of `base` sum to
    `total` levels outside either 2.5% tail (`small_levels` ones); None: too many hit
    counts to step through."""  # noqa: D205, D209
    sums = _Sums.of(base, counters)
    if not sums.reach(total):
        return None
    cdfs = sums.cdfs
    below = [1.0 - (cdf[total - 1] if total > 0 else 0.0) >= _TAIL for cdf in cdfs]
    above = [cdf[total] >= _TAIL for cdf in cdfs]
    low = next((hits for hits, fits in enumerate(below) if fits), len(cdfs) - 1)
    high = max((hits for hits, fits in enumerate(above) if fits), default=low)
    return min(low, high), max(low, high)  # a sum no count makes likely: the counts around it


def _top(counters: int) -> int:
    return max(_MEAN_LEVEL * counters, _LEAST_TOP)


class _Sums:
    """`cdfs[n][t] = P(T <= t | n hits)` of one base and number of counters, for `t` up to
    `_top`, worked out for more hits as sums need them (kept for the process)."""  # noqa: D205, D209

    def __init__(self, base: float, counters: int) -> None:
        self.base, self.counters = base, counters
        self.levels = [1.0] + [0.0] * _top(counters)  # one counter's, before any hit
        self.cdfs = [list(accumulate(_summed(self.levels, counters)))]

    @staticmethod
    @lru_cache(maxsize=32)
    def of(base: float, counters: int) -> _Sums:
        """The one of `base` and `counters`."""
        return _Sums(base, counters)

    def reach(self, total: int) -> bool:
        """Step on until `P(T <= total)` is in the lower tail (no later count can then be
        in the interval); False: not within `_MOST_HITS` hits."""  # noqa: D205, D209
        while self.cdfs[-1][total] >= _TAIL:
            if len(self.cdfs) > _MOST_HITS:
                return False
            self.levels = _after_one_hit(self.levels, self.base)
            self.cdfs.append(list(accumulate(_summed(self.levels, self.counters))))
        return True


def _after_one_hit(levels: list[float], base: float) -> list[float]:
    """The level distribution one hit later (mass rising past the last level is dropped:
    a sum above the last is all the caller needs to know of it)."""  # noqa: D205, D209
    after = [0.0] * len(levels)
    for level, chance in enumerate(levels):
        rise = base**-level
        after[level] += chance * (1.0 - rise)
        if level + 1 < len(levels):
            after[level + 1] += chance * rise
    return after


def _summed(levels: list[float], counters: int) -> list[float]:
    """The distribution of the sum of `counters` independent levels, up to the last level."""
    top = len(levels) - 1
    sums = [1.0] + [0.0] * top
    support = [(level, chance) for level, chance in enumerate(levels) if chance > 0.0]
    for _ in range(counters):
        added = [0.0] * (top + 1)
        for total, chance in enumerate(sums):
            if chance > 0.0:
                for level, more in support:
                    if total + level > top:
                        break
                    added[total + level] += chance * more
        sums = added
    return sums

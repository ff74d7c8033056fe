"""The bucket grid of `tiered`: tier parameters, how widths nest, and bucket arithmetic.

Every tier's width is a whole number of fine widths (`steps[k] * fine_s`), and every edge
is computed with the same float products, so an edge of a coarse tier is exactly an edge
of every finer tier. A bucket `j` of tier `k` holds the hits with
`j * width < ts <= (j + 1) * width` (left-open, like windows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import msgspec

from hitcount.errors import ConfigurationError, StateError, SwapRefusedError
from hitcount.model.hits import MAX_TS
from hitcount.model.metrics import plain
from hitcount.strategies.base import Param, decode_state

if TYPE_CHECKING:  # numpy is imported only on the batch ingest path
    import numpy as np
    import numpy.typing as npt

#: Tier names, finest first; parameters are `<tier>_s` and `<tier>_retention_s`.
TIERS = ("fine", "mid", "coarse")
_RATIO_TOLERANCE = 1e-9
#: Partial buckets get a share strictly between 0 and 1, so they always widen the bounds.
_TINY_SHARE = 1e-12


#: Largest per-bucket count accepted from a saved state.
_MAX_COUNT = 2**62


class _TieredState(msgspec.Struct, forbid_unknown_fields=True):
    fine: dict[str, dict[int, int]]
    mid: dict[str, dict[int, int]]
    coarse: dict[str, dict[int, int]]
    fine_horizon: float | None
    mid_horizon: float | None
    closed_until: float | None


class TierCuts(NamedTuple):
    """The strategy-wide times of a tiered state besides its horizon (-inf: unset)."""

    #: Fine buckets ending at or before this are gone.
    fine_horizon: float
    #: Mid buckets ending at or before this are gone.
    mid_horizon: float
    #: Buckets starting before this may hold a hit exactly at their start (from fixed).
    closed_until: float


class Rollup(NamedTuple):
    """Buckets a conversion can regroup: every hit after `horizon` is in `tables`."""

    width_s: float
    tables: Mapping[str, Mapping[int, int]]
    horizon: float
    #: True for buckets holding `[lo, hi)` (`fixed`) rather than `(lo, hi]`.
    closed: bool


def width_param(tier: str, default: float) -> Param:
    """The `<tier>_s` parameter."""
    return Param(f"{tier}_s", float, default, f"{tier} bucket width, in seconds", f"--{tier}",
                 minimum=0.001, maximum=MAX_TS)  # fmt: skip


def retention_param(tier: str, default: float) -> Param:
    """The `<tier>_retention_s` parameter."""
    return Param(f"{tier}_retention_s", float, default, f"how long {tier} buckets are kept,"
                 " in seconds", f"--{tier}-retention", minimum=0, exclusive_minimum=True,
                 maximum=MAX_TS)  # fmt: skip


def whole_multiple(wide: float, narrow: float) -> int | None:
    """`wide / narrow` when it is a whole number >= 1, else None."""
    ratio = wide / narrow
    whole = round(ratio)
    return whole if whole >= 1 and abs(ratio - whole) <= _RATIO_TOLERANCE * whole else None


def nesting(widths: Sequence[float], retentions: Sequence[float]) -> tuple[int, ...]:
    """Fine buckets per bucket of each tier.

    Raises:
        ConfigurationError: a width is not a whole multiple of the finer one, or a
            retention is not longer than the finer tier's.
    """
    steps = [1]
    for k in (1, 2):
        ratio = whole_multiple(widths[k], widths[k - 1])
        if ratio is None:
            raise ConfigurationError(
                f"--{TIERS[k]} ({plain(widths[k])} s) must be a whole multiple of"
                f" --{TIERS[k - 1]} ({plain(widths[k - 1])} s)"
            )
        if retentions[k] <= retentions[k - 1]:
            raise ConfigurationError(
                f"--{TIERS[k]}-retention ({plain(retentions[k])} s) must be longer than"
                f" --{TIERS[k - 1]}-retention ({plain(retentions[k - 1])} s)"
            )
        steps.append(steps[-1] * ratio)
    return tuple(steps)


def time_or_inf(value: float | None, what: str) -> float:
    """A saved time (None: -inf).

    Raises:
        StateError: the time is not finite or beyond the year 9999.
    """
    if value is None:
        return -math.inf
    if not (math.isfinite(value) and -MAX_TS <= value <= MAX_TS):
        raise StateError(f"invalid tiered state: {what} {value!r} out of range")
    return value


def check_nesting(tables: Mapping[str, Sequence[Mapping[int, int]]], steps: Sequence[int]) -> None:
    """Refuse tiers that disagree: a finer tier holds some of the hits of the coarser one, so
    the finer buckets inside a coarser bucket add up to at most its count.

    Raises:
        StateError: naming the endpoint, the two tiers and the bucket.
    """  # noqa: D205
    for endpoint, per_tier in tables.items():
        for k in (0, 1):
            ratio = steps[k + 1] // steps[k]
            inside: dict[int, int] = {}
            for j, count in per_tier[k].items():
                inside[j // ratio] = inside.get(j // ratio, 0) + count
            for big, count in inside.items():
                if count > (held := per_tier[k + 1].get(big, 0)):
                    raise StateError(
                        f"invalid tiered state: tiers disagree for {endpoint!r}: {TIERS[k]}"
                        f" buckets hold {count} hits inside {TIERS[k + 1]} bucket {big}, which"
                        f" holds {held}"
                    )


def decode_tiers(
    raw: bytes, widths: Sequence[float], steps: Sequence[int]
) -> tuple[dict[str, tuple[dict[int, int], dict[int, int], dict[int, int]]], TierCuts]:
    """The tables (per endpoint, per tier `{bucket: count}`) and cuts of a saved state.

    Raises:
        StateError: unknown or missing fields, wrong types, an empty endpoint, a count
            below 1, a bucket index outside 0 .. year 9999, or a horizon out of range.
    """
    decoded: _TieredState = decode_state(raw, _TieredState, "tiered")
    data: dict[str, tuple[dict[int, int], dict[int, int], dict[int, int]]] = {}
    for k, tier in enumerate(TIERS):
        limit = MAX_TS / widths[k] + 1
        for endpoint, buckets in getattr(decoded, tier).items():
            if not endpoint:
                raise StateError(f"invalid tiered state: empty endpoint in {tier}")
            for j, count in buckets.items():
                if not (-1 <= j <= limit and 0 < count <= _MAX_COUNT):
                    raise StateError(
                        f"invalid tiered state: {tier} bucket {j} of {endpoint!r} holds {count}"
                    )
            if buckets:
                data.setdefault(endpoint, ({}, {}, {}))[k].update(buckets)
    check_nesting(data, steps)
    cuts = TierCuts(
        time_or_inf(decoded.fine_horizon, "fine_horizon"),
        time_or_inf(decoded.mid_horizon, "mid_horizon"),
        time_or_inf(decoded.closed_until, "closed_until"),
    )
    return data, cuts


class TierGrid:
    """Bucket edges of the three tiers: `steps[k]` fine buckets of `fine_s` seconds each."""

    def __init__(self, fine_s: float, steps: tuple[int, ...]) -> None:
        self.fine_s = fine_s
        self.steps = steps

    def floor_index(self, t: float) -> int:
        """The fine edge index `i` with `i * fine_s <= t < (i + 1) * fine_s`."""
        i = math.floor(t / self.fine_s)
        if i * self.fine_s > t:
            return i - 1
        return i + 1 if (i + 1) * self.fine_s <= t else i

    def fine_firsts(self, horizons: Iterable[float]) -> list[int | None] | None:
        """Per horizon, the first fine bucket all of whose hits are after it (None: -inf,
        every one); None when one lies between fine edges, where only the hits can tell."""  # noqa: D205, D209
        firsts: list[int | None] = []
        for t in horizons:
            m = round(t / self.fine_s) if math.isfinite(t) else None
            if t != -math.inf and (m is None or m * self.fine_s != t):
                return None
            firsts.append(m)
        return firsts

    def ceil_index(self, t: float) -> int:
        """The fine edge index `i` with `(i - 1) * fine_s < t <= i * fine_s`."""
        i = math.ceil(t / self.fine_s)
        if i * self.fine_s < t:
            return i + 1
        return i - 1 if (i - 1) * self.fine_s >= t else i

    def ceil_indexes(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """`ceil_index` of every element, with the same float products."""
        import numpy as np

        w = self.fine_s
        i = np.ceil(t / w)
        i = i + (i * w < t) - ((i - 1) * w >= t)
        return i.astype(np.int64)

    def bucket(self, tier: int, ts: float) -> int:
        """The bucket of `ts` in a tier: `j` with `lo < ts <= hi`."""
        return (self.ceil_index(ts) - 1) // self.steps[tier]

    def edge(self, tier: int, j: int) -> float:
        """Start of bucket `j` of a tier (seconds); every tier uses these same products."""
        return j * self.steps[tier] * self.fine_s

    def cut_at(self, tier: int, t: float) -> tuple[int, float]:
        """The last edge of `tier` at or before `t`, as (index of the bucket after it, time)."""
        first = self.floor_index(t) // self.steps[tier]
        return first, self.edge(tier, first)

    def align_up(self, tier: int, t: float) -> float:
        """The first edge of `tier` at or after `t` (an edge of every finer tier too)."""
        return self.edge(tier, -(-self.ceil_index(t) // self.steps[tier]))

    def plan(
        self, start: float, end: float, horizons: tuple[float, float, float]
    ) -> list[tuple[int, float, float]]:
        """Split `(start, end]` into `(tier, left, right)` pieces, coarsest first.

        The first piece uses the finest tier covering `start`; each later one starts at an
        edge shared by the tier before it, as soon as the finer tier covers that edge.
        """
        tier = next((k for k in range(3) if horizons[k] <= start), 2)
        pieces = []
        while tier > 0:
            split = self.align_up(tier, max(start, horizons[tier - 1]))
            if split >= end:
                break
            if split > start:
                pieces.append((tier, start, split))
                start = split
            tier -= 1
        if start < end:
            pieces.append((tier, start, end))
        return pieces

    def candidates(
        self, tier: int, table: dict[int, int], start: float, end: float
    ) -> Iterable[int]:
        """The bucket indexes of `table` that `(start, end]` may touch."""
        if math.isfinite(start) and math.isfinite(end):
            first, last = self.bucket(tier, start), self.bucket(tier, end) + 1
            if last - first <= len(table):
                return range(first, last + 1)
        return sorted(table)

    def share_inside(
        self, tier: int, j: int, window: tuple[float, float], clock: float, closed_until: float
    ) -> float:
        """Share of bucket `j`'s hits inside `(start, end]`, judged by their time span.

        The hits lie in `(lo, min(hi, clock)]` (`[lo, ...]` for buckets converted from
        `fixed`, which start before `closed_until`). 1.0: all inside; 0.0: none; in
        between: the covered part of the span.
        """
        start, end = window
        lo, hi = self.edge(tier, j), self.edge(tier, j + 1)
        closed = lo < closed_until
        top = min(hi, clock) if clock > lo else hi
        if top <= start or lo > end or (lo == end and not closed):
            return 0.0
        if (lo > start or (lo == start and not closed)) and top <= end:
            return 1.0
        share = (min(top, end) - max(lo, start)) / (top - lo)
        return min(max(share, _TINY_SHARE), 1.0 - _TINY_SHARE)


class Regrouped(NamedTuple):
    """Tiers filled from other buckets: per endpoint, each tier's table, and the cuts."""

    tables: dict[str, tuple[dict[int, int], dict[int, int], dict[int, int]]]
    #: Per tier: every hit after this time is in the tier.
    cuts: tuple[float, float, float]
    #: Buckets starting before this may hold a hit exactly at their start.
    closed_until: float


def regroup(widths: Sequence[float], rollups: Sequence[Rollup]) -> Regrouped:
    """Fill each tier of `widths` from the coarsest rollup whose width divides it.

    A tier no rollup width divides starts empty at the end of the newest source bucket.

    Raises:
        SwapRefusedError: no rollup width divides the coarse width.
    """
    if _source_for(widths[2], rollups) is None:
        raise SwapRefusedError(
            f"cannot regroup {plain(rollups[0].width_s)} s buckets into"
            f" {'/'.join(f'{plain(w)}' for w in widths)} s tiers: the coarse width must"
            " be a whole multiple of the source's",
            hint="choose tier widths that are multiples of the source's, or --reset",
        )
    newest = max(
        ((max(table) + 1) * r.width_s for r in rollups for table in r.tables.values() if table),
        default=-math.inf,
    )
    tables: dict[str, tuple[dict[int, int], dict[int, int], dict[int, int]]] = {}
    cuts = [newest, newest, newest]
    closed_until = -math.inf
    for k in range(3):
        found = _source_for(widths[k], rollups)
        if found is None:
            continue
        rollup, ratio = found
        cuts[k] = rollup.horizon
        if rollup.closed:
            closed_until = max(closed_until, newest)
        for endpoint, buckets in rollup.tables.items():
            table = tables.setdefault(endpoint, ({}, {}, {}))[k]
            for i, count in buckets.items():
                table[i // ratio] = table.get(i // ratio, 0) + count
    return Regrouped(tables, (cuts[0], cuts[1], cuts[2]), closed_until)


def _source_for(width: float, rollups: Sequence[Rollup]) -> tuple[Rollup, int] | None:
    """The coarsest rollup whose width divides `width`, and the ratio."""
    for rollup in reversed(rollups):
        ratio = whole_multiple(width, rollup.width_s)
        if ratio is not None:
            return rollup, ratio
    return None

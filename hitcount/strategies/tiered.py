"""`tiered`: rollups at three resolutions per endpoint, each tier kept for its own retention.

Every hit is counted in all three tiers (by default 10 s buckets kept 1 h, 60 s kept 1 day,
3600 s kept 31 days), so each tier is exact at its own resolution. Widths nest: each is a
whole multiple of the finer one. A bucket `j` of width `w` holds the hits with
`j * w < ts <= (j + 1) * w` (left-open like the windows `now - N < ts <= now`, unlike
`fixed`'s `[lo, hi)`), so a window whose start lies on a bucket edge covers whole buckets.

Pruning cuts each tier at `clock - lateness - its retention`, aligned down to its width; a
tier's *horizon* is that cut: it holds every kept hit after it. The coarse tier's is the
strategy's `horizon`, and hits at or before it are refused. A query `(start, end]` starts in
the finest tier whose horizon is at or before `start` and moves to finer tiers at edges all
tiers share, so only the window's two ends are uncertain, each by one bucket of the finest
tier there: `low <= true count <= high` with certainty.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from hitcount.model.answers import EMPTY_ANSWER, WindowAnswer
from hitcount.strategies.base import Strategy, answer_from_buckets, same_kind
from hitcount.strategies.capabilities import KeepsBuckets, KeepsTimestamps
from hitcount.strategies.reductions import BucketCounts, BucketReducer
from hitcount.strategies.tiered_grid import (
    TIERS,
    Rollup,
    TierCuts,
    TierGrid,
    decode_tiers,
    nesting,
    regroup,
    width_param,
)
from hitcount.strategies.tiered_grid import retention_param as tier_retention

if TYPE_CHECKING:  # numpy is imported only on the batch ingest path
    import numpy as np
    import numpy.typing as npt

#: Bytes of a compact bucket (int64 index, int64 count), per endpoint, per tier horizon.
_BUCKET_BYTES = 16
_ENDPOINT_OVERHEAD_BYTES = 64
_HORIZON_BYTES = 8 * len(TIERS)
#: The coarse tier's index: only its pruned buckets count in `pruned_events`.
_COARSE = len(TIERS) - 1
#: Batches shorter than this skip numpy in `record_array`.
_SMALL_BATCH = 64

_Tables = tuple[dict[int, int], dict[int, int], dict[int, int]]


class TieredRollups(Strategy):
    """Multi-resolution rollups: fine, mid and coarse buckets per endpoint.

    Time is epoch seconds; a query counts `start < ts <= end`, i.e. `now - N < ts <= now`.
    Bounds are certain (`confidence=None`): a bucket wholly inside the window adds its hits
    to `low`, `high` and `count`; a bucket the window only partly covers adds nothing to
    `low`, all its hits to `high` and to `count` the covered share of its span (the span
    ends at the latest hit seen, so a window ending now covers the newest bucket). A window
    whose start lies on a bucket edge of the tier answering it, and whose end is the clock,
    is exact. Memory per endpoint is about `retention / width + 2` buckets per tier.
    """

    name = "tiered"
    summary = "rollups at --fine/--mid/--coarse widths, each kept for its own retention"
    is_exact = False
    retention_param = "coarse_retention_s"
    params_spec = (
        width_param("fine", 10.0),
        tier_retention("fine", 3600.0),
        width_param("mid", 60.0),
        tier_retention("mid", 86400.0),
        width_param("coarse", 3600.0),
        tier_retention("coarse", 2678400.0),
    )

    def __init__(self, **params: object) -> None:
        """Check that the widths nest and the retentions grow.

        Raises:
            ConfigurationError: a width is not a whole multiple of the finer one, or a
                retention is not longer than the finer tier's.
        """
        super().__init__(**params)
        widths = [float(self.params[f"{tier}_s"]) for tier in TIERS]
        self.retentions = tuple(float(self.params[f"{tier}_retention_s"]) for tier in TIERS)
        steps = nesting(widths, self.retentions)
        self.fine_s = widths[0]
        self.grid = TierGrid(self.fine_s, steps)
        #: Fine buckets per bucket of each tier; tier widths are `step * fine_s` seconds.
        self._steps = steps
        self.widths = tuple(step * self.fine_s for step in self._steps)
        self._data: dict[str, _Tables] = {}
        #: Per tier: buckets ending at or before this time are gone (coarse: see horizon).
        self._cut = [-math.inf, -math.inf, -math.inf]
        #: Per tier, not saved: every bucket index below this is gone (None: unknown).
        self._swept: list[int | None] = [None, None, None]
        #: Buckets starting before this may hold a hit exactly at their start (from fixed).
        self.closed_until = -math.inf
        #: The coarse `(tier, bucket)`s pruned per endpoint, noted only when a store asks
        #: ({}): a store adding this batch to stored buckets does not count them again.
        self.pruned_buckets: dict[str, set[tuple[int, int]]] | None = None

    def first_bucket_after(self, tier: int, t: float) -> int:
        """The index of the first bucket of `tier` that starts at or after the edge `t`."""
        return self.grid.cut_at(tier, t)[0]

    # -- recording -------------------------------------------------------------------

    def retention_s(self) -> float:
        """The coarse retention: queries that far back from the latest hit are complete."""
        return self.retentions[2]

    def prune_grid_s(self) -> float:
        """The fine width: the fine tier's cut moves one fine bucket at a time."""
        return self.fine_s

    def horizons(self) -> tuple[float, float, float]:
        """Per tier (fine, mid, coarse): every kept hit after this time is in the tier."""
        h = self.horizon
        return (max(self._cut[0], h), max(self._cut[1], h), max(self._cut[2], h))

    def record(self, endpoint: str, ts: float) -> bool:
        """Count one hit in every tier still covering `ts`; refuse it at or before the horizon."""
        horizons = self.horizons()
        if ts <= horizons[2]:
            return False
        fine = self.grid.ceil_index(ts) - 1
        for k, table in enumerate(self._tables(endpoint)):
            if ts > horizons[k]:
                j = fine // self._steps[k]
                table[j] = table.get(j, 0) + 1
        return True

    def record_many(self, endpoint: str, timestamps: Sequence[float]) -> int:
        """Count a batch of one endpoint's hits; the same state as `record` one by one."""
        horizons = self.horizons()
        kept = [(self.grid.ceil_index(ts) - 1, ts) for ts in timestamps if ts > horizons[2]]
        if not kept:
            return 0
        for k, table in enumerate(self._tables(endpoint)):
            step, horizon = self._steps[k], horizons[k]
            for j, count in Counter(i // step for i, ts in kept if ts > horizon).items():
                table[j] = table.get(j, 0) + count
        return len(kept)

    def late_mask(
        self, timestamps: npt.NDArray[np.float64], horizons: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """The hits `record` refuses once pruned at these horizons: `ts <= coarse cut`.

        (Hits at or before a horizon set by a conversion are refused by `record_array`.)
        """
        import numpy as np

        values, inverse = np.unique(horizons, return_inverse=True)
        cuts = [self.grid.cut_at(2, h)[1] if math.isfinite(h) else h for h in values.tolist()]
        return timestamps <= np.asarray(cuts, dtype=np.float64)[inverse.reshape(-1)]

    def record_array(self, endpoint: str, timestamps: npt.NDArray[np.float64]) -> int:
        """`record_many` for a numpy array: buckets counted with `np.unique`.

        The state after the batch's prune equals per-hit recording: a hit that a cut made
        during the batch would have kept out of a finer tier lands in a bucket that cut
        removes (`pruned_events` counts only the coarse tier, which takes every hit).
        """
        import numpy as np

        if len(timestamps) < _SMALL_BATCH:  # numpy's per-call cost outweighs its speed
            return self.record_many(endpoint, timestamps.tolist())
        horizons = self.horizons()
        fresh = timestamps[timestamps > horizons[2]]
        if not len(fresh):
            return 0
        fine = self.grid.ceil_indexes(fresh) - 1
        for k, table in enumerate(self._tables(endpoint)):
            chosen = fine[fresh > horizons[k]] if horizons[k] > horizons[2] else fine
            buckets, counts = np.unique(chosen // self._steps[k], return_counts=True)
            for j, count in zip(buckets.tolist(), counts.tolist(), strict=True):
                table[j] = table.get(j, 0) + count
        return len(fresh)

    def reducer(self) -> BucketReducer:
        """Workers count hits per (endpoint, fine bucket); each tier regroups those."""
        return BucketReducer(self.fine_s, closed_right=True)

    def record_reduced(self, names: Sequence[str], reduced: object) -> int | None:
        """Add a worker's fine-bucket counts to each tier after its horizon, as `record_many`
        would (None: another grid's, or a horizon between fine edges: only hits split it)."""  # noqa: D205, D209
        if not isinstance(reduced, BucketCounts) or reduced.made_by != self.reducer():
            return None
        if (firsts := self.grid.fine_firsts(self.horizons())) is None:
            return None
        kept = 0  # the coarse tier's hits, at the end: it takes every hit it does not refuse
        for k, first in enumerate(firsts):  # fine bucket `first` on: its hits are after it
            if kept := (part := reduced.regrouped(first, self._steps[k])).hits():
                part.add_to(partial(self._tier_table, k), names)
        return kept

    def _tier_table(self, tier: int, endpoint: str) -> dict[int, int]:
        return self._tables(endpoint)[tier]

    def _tables(self, endpoint: str) -> _Tables:
        tables = self._data.get(endpoint)
        if tables is None:
            tables = self._data[endpoint] = ({}, {}, {})
        return tables

    def prune(self, horizon: float) -> dict[str, int]:
        """Cut each tier by its own retention; the coarse cut becomes the horizon.

        The engine passes `horizon = clock - coarse retention - lateness`, so `horizon +
        coarse retention` is the clock less the lateness allowance; each tier keeps its
        retention back from there, its cut aligned down to its width. Returns the coarse
        buckets removed per endpoint: a batch fills finer buckets that one hit at a time
        would have found cut already, so their number depends on how hits were batched.
        """
        anchor = horizon + self.retentions[2]
        fine, mid = anchor - self.retentions[0], anchor - self.retentions[1]
        removed = self._cut_tiers((fine, mid, horizon))
        self.horizon = max(self.horizon, self._cut[2])
        return removed

    def drop_behind_cuts(self) -> dict[str, int]:
        """Drop what each tier's cut (or the horizon) left behind, moving no cut: for a state
        put together from parts older than its cuts (`prune` takes the horizon for the clock
        less the coarse retention, which a swapped state's is not)."""  # noqa: D205, D209
        return self._cut_tiers(self.horizons(), again=True)

    def _cut_tiers(self, targets: Sequence[float], again: bool = False) -> dict[str, int]:
        """Move each tier's cut up to its target (`again`: drop below it even if it stays)."""
        removed: Counter[str] = Counter()
        for k, target in enumerate(targets):
            first, cut = self.grid.cut_at(k, target) if math.isfinite(target) else (0, target)
            if cut > self._cut[k] or (again and math.isfinite(cut)):
                self._cut[k] = max(self._cut[k], cut)
                self._drop_below(k, first, removed)
        for endpoint in [ep for ep, tables in self._data.items() if not any(tables)]:
            del self._data[endpoint]
        return dict(removed)

    def _drop_below(self, tier: int, first: int, removed: Counter[str]) -> None:
        swept = self._swept[tier]
        for endpoint, tables in self._data.items():
            table = tables[tier]
            if swept is not None and first - swept <= len(table):
                old = [j for j in range(swept, first) if j in table]
            else:
                old = [j for j in table if j < first]
            for j in old:
                del table[j]
            if old:  # counted in the coarse tier only: the finer tiers' would depend on batching
                coarse = tier == _COARSE
                removed[endpoint] += len(old) if coarse else 0  # 0: still pruned (a save's)
                if coarse and self.pruned_buckets is not None:
                    self.pruned_buckets.setdefault(endpoint, set()).update((tier, j) for j in old)
        self._swept[tier] = first

    # -- answering -------------------------------------------------------------------

    def query(self, endpoint: str, start: float, end: float, clock: float) -> WindowAnswer:
        """Hits with `start < ts <= end` (seconds), from the finest tiers covering the window.

        Args:
            endpoint: the endpoint.
            start: the window's open left edge, `now - N`.
            end: the window's closed right edge, `now`.
            clock: the latest timestamp seen; no bucket holds hits after it.

        Returns:
            `low <= true count <= high` with certainty when `complete`; `complete` is
            False when `start` is before the coarse tier's horizon.
        """
        horizons = self.horizons()
        complete = start >= horizons[2]
        tables = self._data.get(endpoint)
        if tables is None:
            return EMPTY_ANSWER if complete else WindowAnswer.exactly(0, complete=complete)
        pieces = (
            (count, self.grid.share_inside(tier, j, (left, right), clock, self.closed_until))
            for tier, left, right in self.grid.plan(start, end, horizons)
            for j in self.grid.candidates(tier, tables[tier], left, right)
            if (count := tables[tier].get(j, 0))
        )
        return answer_from_buckets(pieces, complete=complete)

    def endpoints(self) -> Iterable[str]:
        """Endpoints with at least one bucket."""
        return self._data.keys()

    def totals(self) -> dict[str, int]:
        """Hits in the coarse tier (every kept hit), per endpoint."""
        return {ep: sum(tables[2].values()) for ep, tables in self._data.items()}

    def data_times(self) -> tuple[float, float] | None:
        """The end of the oldest coarse bucket and the start of the newest (`(lo, hi]`)."""
        tables = [tables[2] for tables in self._data.values() if tables[2]]
        if not tables:
            return None
        oldest, newest = min(map(min, tables)), max(map(max, tables))
        return self.grid.edge(2, oldest + 1), self.grid.edge(2, newest)

    def bucket_counts(self, endpoint: str, tier: str = "coarse") -> dict[int, int]:
        """A copy of one tier's `bucket -> count` table for an endpoint."""
        tables = self._data.get(endpoint)
        return dict(tables[TIERS.index(tier)]) if tables else {}

    def set_bucket_counts(self, endpoint: str, tier: str, counts: Mapping[int, int]) -> None:
        """Replace one tier's buckets of an endpoint (checked by `load_state`, not here)."""
        tables = self._tables(endpoint)
        tables[TIERS.index(tier)].clear()
        tables[TIERS.index(tier)].update(counts)
        self._swept[TIERS.index(tier)] = None
        if not any(tables):
            del self._data[endpoint]

    def cuts(self) -> TierCuts:
        """The fine and mid cuts and `closed_until` (-inf where unset)."""
        return TierCuts(self._cut[0], self._cut[1], self.closed_until)

    def restore_cuts(self, cuts: TierCuts) -> None:
        """Take the times `cuts` returned (the coarse cut is the horizon)."""
        self._cut[0], self._cut[1] = cuts.fine_horizon, cuts.mid_horizon
        self.closed_until = cuts.closed_until

    def tier_entries(self) -> dict[str, int]:
        """Buckets held per tier, all endpoints together."""
        return {tier: sum(len(t[k]) for t in self._data.values()) for k, tier in enumerate(TIERS)}

    def memory_entries(self) -> int:
        """Buckets across all tiers."""
        return sum(self.tier_entries().values())

    def state_bytes(self) -> int:
        """16 bytes per bucket, the endpoint names, and the tier horizons."""
        return _HORIZON_BYTES + sum(
            _BUCKET_BYTES * sum(len(table) for table in tables)
            + len(endpoint)
            + _ENDPOINT_OVERHEAD_BYTES
            for endpoint, tables in self._data.items()
        )

    # -- persistence and swaps -----------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Per tier `{endpoint: {bucket: count}}`, plus the fine and mid horizons."""
        state: dict[str, Any] = {
            tier: {
                ep: dict(sorted(tables[k].items()))
                for ep, tables in sorted(self._data.items())
                if tables[k]
            }
            for k, tier in enumerate(TIERS)
        }
        for key, value in (
            ("fine_horizon", self._cut[0]),
            ("mid_horizon", self._cut[1]),
            ("closed_until", self.closed_until),
        ):
            state[key] = value if math.isfinite(value) else None
        return state

    def load_state(self, raw: bytes) -> None:
        """Load the tiers, checking every endpoint, bucket index, count and horizon.

        Raises:
            StateError: unknown or missing fields, wrong types, an empty endpoint, a count
                below 1, a bucket index outside 0 .. year 9999, or a horizon out of range.
        """
        data, cuts = decode_tiers(raw, self.widths, self._steps)
        self._data, self.closed_until = data, cuts.closed_until
        self._cut = [cuts.fine_horizon, cuts.mid_horizon, -math.inf]
        self._swept = [None, None, None]

    @classmethod
    def convert(
        cls, source: Strategy, params: Mapping[str, object], lateness_s: float = 0.0
    ) -> Strategy:
        """From sliding: exact. From fixed or tiered: regroup whole buckets into each tier.

        A tier is filled from the coarsest source buckets whose width divides its own, and
        then covers what they covered. A tier no source width divides (finer than `fixed`'s
        window) starts empty at the end of the newest source bucket (at most one source
        bucket after the clock), so queries use coarser tiers until it has history.

        Raises:
            SwapRefusedError: no tier can be filled (the coarse width is not a whole
                multiple of any source width), or the source has no timestamps (morris).
        """
        target = cls(**params)
        if isinstance(source, KeepsTimestamps):
            target.horizon = source.horizon
            for endpoint in source.endpoints():
                target.record_many(endpoint, source.timestamps(endpoint))
            return target
        if isinstance(source, KeepsBuckets):
            tables = {ep: source.bucket_counts(ep) for ep in source.endpoints()}
            rollups = [
                Rollup(source.bucket_width_s, tables, source.horizon, not source.closed_right)
            ]
        elif isinstance(source, TieredRollups):
            rollups = source._rollups()
            target.closed_until = source.closed_until
        else:
            return super().convert(source, params, lateness_s)
        target._fill_from(rollups, source)
        return target

    @classmethod
    def merged(cls, parts: Sequence[Strategy]) -> Strategy:
        """Per tier, bucket counts summed: exact, as equal widths give every hit the same
        buckets. Each tier is cut where the latest part cut it; buckets of the other parts
        that end at or before that cut are left out (only some parts still held them).
        """  # noqa: D205
        tiered = same_kind(cls, parts)
        target = cls(**tiered[0].params)
        target.horizon = max(part.horizon for part in tiered)
        target._cut = [max(part._cut[k] for part in tiered) for k in range(len(TIERS))]
        target.closed_until = max(part.closed_until for part in tiered)
        horizons = target.horizons()
        for part in tiered:
            for endpoint, tables in part._data.items():
                merged_tables = target._tables(endpoint)
                for k, (table, buckets) in enumerate(zip(merged_tables, tables, strict=True)):
                    for j, count in buckets.items():
                        if target.grid.edge(k, j + 1) > horizons[k]:
                            table[j] = table.get(j, 0) + count
        for endpoint in [ep for ep, tables in target._data.items() if not any(tables)]:
            del target._data[endpoint]
        return target

    def _rollups(self) -> list[Rollup]:
        return [
            Rollup(self.widths[k], {ep: t[k] for ep, t in self._data.items()}, h, False)
            for k, h in enumerate(self.horizons())
        ]

    def _fill_from(self, rollups: list[Rollup], source: Strategy) -> None:
        regrouped = regroup(self.widths, rollups)
        for endpoint, per_tier in regrouped.tables.items():
            self._data[endpoint] = per_tier
        self._cut = list(regrouped.cuts)
        self.closed_until = max(self.closed_until, regrouped.closed_until)
        self.horizon = max(source.horizon, self._cut[2])

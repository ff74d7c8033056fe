"""`fixed`: hits counted in buckets of `window_s` seconds.

Bucket `j` holds the hits with `j * window_s < ts <= (j + 1) * window_s`, the convention of
windows `(now - N, now]`, so a window whose edges are bucket edges is answered exactly.
States saved before this convention hold `[lo, hi)` buckets (`j = floor(ts / window_s)`);
they load as they are, keep that convention, and say so in their `edges` field.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.errors import MergeRefusedError, StateError, SwapRefusedError
from hitcount.model.answers import EMPTY_ANSWER, WindowAnswer
from hitcount.model.hits import MAX_TS
from hitcount.model.metrics import plain
from hitcount.model.packed import Base64Value, from_little_endian, little_endian
from hitcount.strategies.base import Param, Strategy, answer_from_buckets, decode_state, same_kind
from hitcount.strategies.capabilities import KeepsBuckets, KeepsTimestamps
from hitcount.strategies.reductions import BucketCounts, BucketReducer

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Bytes of a compact bucket: an int64 index and an int64 count.
_BUCKET_BYTES = 16
_ENDPOINT_OVERHEAD_BYTES = 64
#: Largest per-bucket count accepted from a saved state.
_MAX_COUNT = 2**62
#: Partial buckets get a share strictly between 0 and 1, so they always widen the bounds.
_TINY_SHARE = 1e-12
#: The two bucket conventions, as the saved state names them.
RIGHT_CLOSED, LEFT_CLOSED = "(lo, hi]", "[lo, hi)"


class _FixedState(msgspec.Struct, forbid_unknown_fields=True):
    #: `RIGHT_CLOSED`, or absent in states saved with the old `[lo, hi)` buckets.
    edges: str = LEFT_CLOSED
    buckets: dict[str, dict[int, int]] | None = None
    #: The compact form: per endpoint, little-endian int64 `bucket, count` pairs.
    buckets_q: dict[str, bytes] | None = None


def _pair_bytes(buckets: dict[int, int]) -> Base64Value:
    """Little-endian int64 `bucket, count` pairs, buckets ascending; with numpy when a bulk
    replay has loaded it (3-4x faster on big tables), else with `array`."""  # noqa: D205, D209
    if len(buckets) < 256 or "numpy" not in sys.modules:
        return little_endian(
            array("q", [value for pair in sorted(buckets.items()) for value in pair])
        )
    import numpy as np  # already loaded: this costs no import

    keys = np.fromiter(buckets.keys(), dtype=np.int64, count=len(buckets))
    order = np.argsort(keys)  # distinct buckets: one order whatever the sort
    pairs = np.empty(2 * len(keys), dtype="<i8")
    pairs[0::2] = keys[order]
    pairs[1::2] = np.fromiter(buckets.values(), dtype=np.int64, count=len(buckets))[order]
    return Base64Value(pairs)


def _pairs_of(data: bytes, endpoint: str) -> dict[int, int]:
    """The `bucket -> count` table of one endpoint's compact bytes."""
    if len(data) % 16:
        raise StateError(f"invalid fixed state: truncated buckets for {endpoint!r}")
    values = from_little_endian("q", data)
    table = dict(zip(values[0::2], values[1::2], strict=True))
    if len(table) != len(values) // 2:
        raise StateError(f"invalid fixed state: a bucket of {endpoint!r} appears twice")
    return table


class FixedWindow(Strategy, KeepsBuckets):
    """Fixed-window buckets: `bucket -> count` per endpoint, kept for `retention_s`.

    Buckets are `(lo, hi]` like windows (`[lo, hi)` in states saved before; `closed_right`
    says which). A query counts fully covered buckets exactly. A bucket the window only
    partly covers adds nothing to `low`, all its hits to `high`, and to `count` the share
    of its time span that the window covers (a proportional estimate). Its span ends at the
    latest hit seen, so the newest bucket is fully covered by a window ending now.
    """

    name = "fixed"
    summary = "buckets of --window seconds kept for --retention; bounds at the edges"
    is_exact = False
    retention_param = "retention_s"
    params_spec = (
        Param(
            "window_s",
            float,
            60.0,
            "bucket width, in seconds",
            "--window",
            minimum=0.001,
            maximum=MAX_TS,
        ),
        Param(
            "retention_s",
            float,
            86400.0,
            "how long buckets are kept, in seconds",
            "--retention",
            minimum=0,
            exclusive_minimum=True,
            maximum=MAX_TS,
        ),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.window_s = float(self.params["window_s"])
        self.bucket_width_s = self.window_s
        self.closed_right = True
        self._buckets: dict[str, dict[int, int]] = {}
        #: No bucket below this index exists (a lower bound), so most prunes scan nothing.
        self._lowest: float = math.inf
        #: When a dict, `prune` notes the buckets it drops, per endpoint: a store adding this
        #: strategy's buckets as an append's delta counts a bucket it also held once.
        self.pruned_buckets: dict[str, set[int]] | None = None

    def bucket_of(self, ts: float) -> int:
        """`j` with `j * w < ts <= (j + 1) * w` (`[lo, hi)` in older states): the division's
        guess, moved by one where it rounds across an edge (or underflows)."""  # noqa: D205, D209
        w = self.window_s
        if self.closed_right:
            j = math.ceil(ts / w) - 1
            return j - 1 if j * w >= ts else j + 1 if (j + 1) * w < ts else j
        j = math.floor(ts / w)
        return j - 1 if j * w > ts else j + 1 if (j + 1) * w <= ts else j

    def reducer(self) -> BucketReducer:
        """Workers count hits per (endpoint, bucket) on this strategy's grid."""
        return BucketReducer(self.window_s, self.closed_right)

    def record_reduced(self, names: Sequence[str], reduced: object) -> int | None:
        """Add a worker's bucket counts (every hit on time); None if made on another grid."""
        if not isinstance(reduced, BucketCounts) or reduced.made_by != self.reducer():
            return None
        if not len(reduced.counts):
            return 0
        self._lowest = min(self._lowest, reduced.merge_into(self._buckets, names))
        return reduced.hits()

    def _on_time(self, ts: float) -> bool:
        """After the horizon (at it too for `[lo, hi)` buckets, which start there)."""
        return ts > self.horizon if self.closed_right else ts >= self.horizon

    def retention_s(self) -> float:
        """Queries up to `retention_s` back from the latest hit are complete."""
        return float(self.params["retention_s"])

    def prune_grid_s(self) -> float:
        """Prune on bucket boundaries."""
        return self.window_s

    def record(self, endpoint: str, ts: float) -> bool:
        """Add one hit to its bucket; refuse it when it is older than the horizon."""
        if not self._on_time(ts):
            return False
        buckets = self._buckets.get(endpoint)
        if buckets is None:
            buckets = self._buckets[endpoint] = {}
        bucket = self.bucket_of(ts)
        buckets[bucket] = buckets.get(bucket, 0) + 1
        if bucket < self._lowest:
            self._lowest = bucket
        return True

    def record_many(self, endpoint: str, timestamps: Sequence[float]) -> int:
        """Add a batch of one endpoint's hits, counted per bucket first."""
        on_time, bucket_of = self._on_time, self.bucket_of
        counts = Counter(bucket_of(ts) for ts in timestamps if on_time(ts))
        if not counts:
            return 0
        buckets = self._buckets.setdefault(endpoint, {})
        for bucket, count in counts.items():
            buckets[bucket] = buckets.get(bucket, 0) + count
        self._lowest = min(self._lowest, min(counts))
        return counts.total()

    def late_mask(
        self, timestamps: npt.NDArray[np.float64], horizons: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """`ts <= horizon` (`ts < horizon` for `[lo, hi)` buckets, which start at it)."""
        return timestamps <= horizons if self.closed_right else timestamps < horizons

    def record_array(self, endpoint: str, timestamps: npt.NDArray[np.float64]) -> int:
        """Add a numpy batch: buckets counted with `np.unique`, then merged."""
        import numpy as np

        fresh = timestamps[~self.late_mask(timestamps, np.float64(self.horizon))]
        if not len(fresh):
            return 0
        buckets, counts = np.unique(self.reducer().buckets_of(fresh), return_counts=True)
        table = self._buckets.setdefault(endpoint, {})
        for bucket, count in zip(buckets.tolist(), counts.tolist(), strict=True):
            table[int(bucket)] = table.get(int(bucket), 0) + count
        self._lowest = min(self._lowest, int(buckets[0]))
        return len(fresh)

    def record_columns(
        self,
        names: Sequence[str],
        codes: npt.NDArray[np.int32],
        stamps: npt.NDArray[np.float64],
        order: npt.NDArray[np.int32] | None = None,
    ) -> int:
        """Count a whole batch at once: its on-time hits reduced to bucket counts, merged."""
        import numpy as np

        fresh = ~self.late_mask(stamps, np.float64(self.horizon))
        if not fresh.all():
            codes, stamps = codes[fresh], stamps[fresh]
        if not len(stamps):
            return 0
        return self.record_reduced(names, self.reducer().reduce(codes, stamps)) or 0

    def prune(self, horizon: float) -> dict[str, int]:
        """Drop the buckets that end at or before `horizon`."""
        first_kept = math.floor(horizon / self.window_s)
        boundary = first_kept * self.window_s
        if boundary <= self.horizon:
            return {}
        self.horizon = boundary
        if first_kept <= self._lowest:
            return {}
        low, self._lowest = int(self._lowest), first_kept
        removed: dict[str, int] = {}
        noted = self.pruned_buckets
        for endpoint in list(self._buckets):
            buckets = self._buckets[endpoint]
            if noted is not None:
                noted.setdefault(endpoint, set()).update(b for b in buckets if b < first_kept)
            if gone := _drop_before(buckets, low, first_kept):
                removed[endpoint] = gone
            if not buckets:
                del self._buckets[endpoint]
        return removed

    def query(self, endpoint: str, start: float, end: float, clock: float) -> WindowAnswer:
        """Exact over full buckets, bounded and estimated over partial ones."""
        complete = start >= self.horizon
        buckets = self._buckets.get(endpoint)
        if not buckets:
            return EMPTY_ANSWER if complete else WindowAnswer.exactly(0, complete=False)
        pieces = (
            (count, self._share_inside(bucket, start, end, clock))
            for bucket in self._candidate_buckets(buckets, start, end)
            if (count := buckets.get(bucket, 0))
        )
        return answer_from_buckets(pieces, complete=complete)

    def _candidate_buckets(
        self, buckets: dict[int, int], start: float, end: float
    ) -> Iterable[int]:
        first = math.floor(start / self.window_s) - 1 if math.isfinite(start) else None
        last = math.floor(end / self.window_s)
        if first is not None and last - first <= len(buckets):
            return range(first, last + 1)
        return [b for b in buckets if (first is None or b >= first) and b <= last]

    def _share_inside(self, bucket: int, start: float, end: float, clock: float) -> float:
        """Share of a bucket's hits inside `(start, end]`, judged by their time span.

        1.0: every hit is inside; 0.0: none is; in between: a partial bucket, whose share
        is the part of its span `(lo, min(hi, clock)]` the window overlaps.
        """
        lo = bucket * self.window_s
        hi = (bucket + 1) * self.window_s  # hits are in (lo, hi] (or [lo, hi)), by `clock`
        span_end = min(hi, clock)
        if self.closed_right:
            if span_end <= start or lo >= end:
                return 0.0
            if lo >= start and span_end <= end:
                return 1.0
        elif hi <= start or clock <= start or lo > end:
            return 0.0
        elif lo > start and (hi <= end or clock <= end):
            return 1.0
        overlap = min(span_end, end) - max(lo, start)
        share = overlap / (span_end - lo) if span_end > lo else 0.5
        return min(max(share, _TINY_SHARE), 1.0 - _TINY_SHARE)

    def endpoints(self) -> Iterable[str]:
        """Endpoints with at least one bucket."""
        return self._buckets.keys()

    def totals(self) -> dict[str, int]:
        """Hits in retained buckets, per endpoint."""
        return {ep: sum(buckets.values()) for ep, buckets in self._buckets.items()}

    def data_times(self) -> tuple[float, float] | None:
        """The end of the oldest bucket and the start of the newest (`[lo, hi)` buckets)."""
        tables = [buckets for buckets in self._buckets.values() if buckets]
        if not tables:
            return None
        oldest, newest = min(map(min, tables)), max(map(max, tables))
        return (oldest + 1) * self.window_s, newest * self.window_s

    def bucket_counts(self, endpoint: str) -> dict[int, int]:
        """A copy of one endpoint's `bucket -> count` table."""
        return dict(self._buckets.get(endpoint, {}))

    def set_buckets(self, endpoint: str, counts: Mapping[int, int]) -> None:
        """Replace one endpoint's buckets (checked by `load_state`, not here)."""
        if not counts:
            self._buckets.pop(endpoint, None)
            return
        self._buckets[endpoint] = dict(counts)
        self._lowest = min(self._lowest, min(counts))

    def memory_entries(self) -> int:
        """Number of buckets."""
        return sum(len(buckets) for buckets in self._buckets.values())

    def state_bytes(self) -> int:
        """16 bytes per bucket plus the endpoint names."""
        return sum(
            _BUCKET_BYTES * len(buckets) + len(endpoint) + _ENDPOINT_OVERHEAD_BYTES
            for endpoint, buckets in self._buckets.items()
        )

    def to_state(self) -> dict[str, Any]:
        """`{"edges": "(lo, hi]", "buckets": {endpoint: {bucket: count}}}` (keys are strings)."""
        buckets = {ep: dict(sorted(b.items())) for ep, b in self._buckets.items()}
        return {"edges": self.edges, "buckets": buckets}

    @property
    def edges(self) -> str:
        """The bucket convention: `(lo, hi]`, or `[lo, hi)` in a state saved before it."""
        return RIGHT_CLOSED if self.closed_right else LEFT_CLOSED

    def to_compact_state(self) -> dict[str, Any]:
        """`{"buckets_q": {endpoint: base64 of little-endian int64 bucket, count pairs}}`."""
        packed = {endpoint: _pair_bytes(buckets) for endpoint, buckets in self._buckets.items()}
        return {"edges": self.edges, "buckets_q": packed}

    def load_state(self, raw: bytes) -> None:
        """Load bucket tables (either form), checking indexes and counts."""
        decoded: _FixedState = decode_state(raw, _FixedState, self.name)
        if (decoded.buckets is None) == (decoded.buckets_q is None):
            raise StateError("invalid fixed state: needs 'buckets' or 'buckets_q'")
        if decoded.edges not in (RIGHT_CLOSED, LEFT_CLOSED):
            raise StateError(
                f"invalid fixed state: edges {decoded.edges!r} is neither"
                f" {RIGHT_CLOSED!r} nor {LEFT_CLOSED!r}"
            )
        tables = decoded.buckets or {
            endpoint: _pairs_of(data, endpoint)
            for endpoint, data in (decoded.buckets_q or {}).items()
        }
        limit = MAX_TS / self.window_s + 1
        first = -1 if decoded.edges == RIGHT_CLOSED else 0  # a hit at 0 is in (-w, 0]
        for endpoint, buckets in tables.items():
            if not endpoint:
                raise StateError("invalid fixed state: empty endpoint")
            if buckets and not (
                min(buckets) >= first and max(buckets) <= limit
                and min(buckets.values()) > 0 and max(buckets.values()) <= _MAX_COUNT
            ):  # fmt: skip
                bad = next(
                    (b, n) for b, n in buckets.items()
                    if not (first <= b <= limit and 0 < n <= _MAX_COUNT)
                )  # fmt: skip
                raise StateError(
                    f"invalid fixed state: bucket {bad[0]} of {endpoint!r} holds {bad[1]}"
                )
        self._buckets = {ep: b for ep, b in tables.items() if b}
        self.closed_right = decoded.edges == RIGHT_CLOSED
        self._lowest = min((min(b) for b in self._buckets.values()), default=math.inf)

    @classmethod
    def convert(
        cls, source: Strategy, params: Mapping[str, object], lateness_s: float = 0.0
    ) -> Strategy:
        """From sliding, bucket each timestamp; from fixed, merge whole buckets (`edges` kept).

        Raises:
            SwapRefusedError: the new window is not a whole multiple of the old one, or
                the source has no timestamps (morris).
        """
        target = cls(**params)
        target.horizon = source.horizon
        if isinstance(source, KeepsTimestamps):
            for endpoint in source.endpoints():
                target.record_many(endpoint, source.timestamps(endpoint))
            return target
        if isinstance(source, FixedWindow):
            target.closed_right = source.closed_right
            target._merge_buckets_of(source)
            return target
        return super().convert(source, params, lateness_s)

    def _merge_buckets_of(self, source: FixedWindow) -> None:
        width = source.bucket_width_s
        ratio = self.window_s / width
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise SwapRefusedError(
                f"cannot regroup {plain(width)} s buckets into {plain(self.window_s)} s"
                " buckets: the new window must be a whole multiple of the old one",
                hint=f"use a multiple of {plain(width)} s, or --reset to start empty",
            )
        for endpoint in source.endpoints():
            merged = self._buckets.setdefault(endpoint, {})
            for bucket, count in source.bucket_counts(endpoint).items():
                new = math.floor((bucket + 0.5) * width / self.window_s)
                merged[new] = merged.get(new, 0) + count
                self._lowest = min(self._lowest, new)

    @classmethod
    def merged(cls, parts: Sequence[Strategy]) -> Strategy:
        """Bucket counts summed: exact, as equal widths give every hit the same bucket.

        The horizon is the earliest part's; the caller prunes to the latest.
        """
        fixed = same_kind(cls, parts)
        if len({part.closed_right for part in fixed}) > 1:
            raise MergeRefusedError(
                f"cannot merge fixed states with {RIGHT_CLOSED} and {LEFT_CLOSED} buckets",
                hint="replay the older shards again with this hitcount, then merge",
            )
        target = cls(**fixed[0].params)
        target.closed_right = fixed[0].closed_right
        target.horizon = min(part.horizon for part in fixed)
        for part in fixed:
            for endpoint, buckets in part._buckets.items():
                table = target._buckets.setdefault(endpoint, {})
                for bucket, count in buckets.items():
                    table[bucket] = table.get(bucket, 0) + count
                target._lowest = min(target._lowest, min(buckets))
        return target


def _drop_before(buckets: dict[int, int], low: int, first_kept: int) -> int:
    """Delete the buckets before `first_kept` (none is below `low`) and count them: each
    bucket number from `low` is looked up when they are fewer than the buckets held (a
    prune then costs what it drops), else every bucket is scanned."""  # noqa: D205, D209
    if first_kept - low < len(buckets):
        return sum(buckets.pop(b, None) is not None for b in range(low, first_kept))
    old = [bucket for bucket in buckets if bucket < first_kept]
    for bucket in old:
        del buckets[bucket]
    return len(old)

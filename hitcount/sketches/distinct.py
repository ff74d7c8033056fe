"""Distinct users per endpoint and time bucket: one HyperLogLog sketch per (endpoint, bucket).

`DistinctTracker` is kept by `HitCounter` beside whichever counting strategy is chosen. A
hit with a user adds the user to the sketch of its endpoint and of its bucket: bucket `b`
holds `(b * bucket_s, (b + 1) * bucket_s]`, the window's convention, so a window whose
edges are bucket edges is answered from whole buckets (`b = ceil(ts / bucket_s) - 1`;
states saved before keep `[lo, hi)` buckets, `b = floor(ts / bucket_s)`, and say so in
their `edges` field); a window query merges the sketches of the buckets it covers (and of
every endpoint a glob matched: users are counted once across them).

Retention: the counter prunes the tracker with the same rule as its strategy, on the
tracker's own bucket grid: buckets ending at or before
`floor((clock - retention - max_lateness) / bucket_s) * bucket_s` are dropped, where
`retention` is the strategy's `retention_s()`; a strategy that keeps all time (`morris`)
keeps no time to align with, so the tracker then keeps `retention_s` (one day by default).
So the distinct answer covers the windows the counts cover.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.model.answers import DistinctAnswer
from hitcount.model.metrics import plain
from hitcount.sketches.distinct_query import Window, window_answer
from hitcount.sketches.distinct_state import (
    LEFT_CLOSED,
    RIGHT_CLOSED,
    checked_horizon,
    decode_state,
    decoded_sketches,
    encoded_sketches,
    packed_log,
)
from hitcount.sketches.hll import DEFAULT_PRECISION, HyperLogLog, check_precision, hash64

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hitcount.sketches.registers import RegisterEntries
    from hitcount.sketches.sketchlog import RegisterLog

#: Width of a distinct-users bucket, seconds.
DEFAULT_BUCKET_S = 60.0
#: How long buckets are kept when the strategy itself keeps all time, seconds.
DEFAULT_RETENTION_S = 86400.0
#: Confidence of the statistical bounds.
DEFAULT_CONFIDENCE = 0.95
#: The state store packs the sketches (`to_state(compact=True)`) from this many on: below,
#: the per-sketch form loads without numpy, which `query` and `metrics` never import.
PACKED_MIN_SKETCHES = 1024


_HASH_CACHE_LIMIT = 1 << 20


class DistinctTracker:
    """Per endpoint, per time bucket, a HyperLogLog of users.

    Example:
        tracker = DistinctTracker(bucket_s=60)
        tracker.add("/api", 1700000000.0, "u1")
        tracker.query("/api", 1699999000.0, 1700000000.0, clock=1700000000.0).estimate
    """

    def __init__(
        self,
        bucket_s: float = DEFAULT_BUCKET_S,
        precision: int = DEFAULT_PRECISION,
        retention_s: float = DEFAULT_RETENTION_S,
    ) -> None:
        """An empty tracker.

        Raises:
            ValueError: a bucket width or retention that is not a positive finite number,
                or a precision outside 4..16.
        """
        for name, value in (("bucket_s", bucket_s), ("retention_s", retention_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive and finite, got {value!r}")
        self.bucket_s = float(bucket_s)
        self.precision = check_precision(precision)
        self.retention_s = float(retention_s)
        #: Buckets are `(lo, hi]` (else `[lo, hi)`, as states saved before).
        self.closed_right = True
        #: Buckets ending at or before this time are gone (and refused).
        self.horizon = -math.inf
        self._sketches: dict[str, dict[int, HyperLogLog]] = {}
        #: Users already hashed (users repeat a lot); cleared when it grows past its limit.
        self._hashes: dict[str, int] = {}
        #: The oldest bucket index held (or a lower bound of it), so most prunes scan nothing.
        self._lowest: float = -math.inf
        #: Registers added in batches, not yet in `_sketches` (the two together are the state).
        self._log: RegisterLog | None = None

    # -- recording -------------------------------------------------------------------

    @property
    def edges(self) -> str:
        """The bucket convention: `(lo, hi]` or `[lo, hi)`."""
        return RIGHT_CLOSED if self.closed_right else LEFT_CLOSED

    def bucket_of(self, ts: float) -> int:
        """The bucket index of a timestamp."""
        if self.closed_right:
            return math.ceil(ts / self.bucket_s) - 1
        return math.floor(ts / self.bucket_s)

    def _keeps(self, bucket: int) -> bool:
        return (bucket + 1) * self.bucket_s > self.horizon

    def add(self, endpoint: str, ts: float, user: str) -> None:
        """Add `user` to `endpoint`'s bucket of `ts` (ignored if that bucket is pruned)."""
        bucket = self.bucket_of(ts)
        if not self._keeps(bucket):
            return
        self._sketch(endpoint, bucket).add(user)

    def add_many(
        self, endpoint: str, timestamps: Sequence[float], users: Sequence[str | None]
    ) -> None:
        """Add `users[i]` at `timestamps[i]` (None users are skipped)."""
        self.add_grouped(
            (endpoint, self.bucket_of(ts), user)
            for ts, user in zip(timestamps, users, strict=True)
            if user is not None
        )

    def add_grouped(self, items: Iterable[tuple[str, int, str]]) -> None:
        """Add `(endpoint, bucket, user)` triples; each user is hashed once per process."""
        hashes = self._hashes
        if len(hashes) > _HASH_CACHE_LIMIT:
            hashes.clear()
        per_sketch: dict[tuple[str, int], list[str]] = {}
        for endpoint, bucket, user in set(items):
            per_sketch.setdefault((endpoint, bucket), []).append(user)
        for (endpoint, bucket), users in per_sketch.items():
            if not self._keeps(bucket):
                continue
            for user in users:
                if user not in hashes:
                    hashes[user] = hash64(user)
            self._sketch(endpoint, bucket).add_hashes(hashes[user] for user in users)

    def add_columns(
        self,
        names: Sequence[str],
        codes: npt.NDArray[np.int32],
        timestamps: npt.NDArray[np.float64],
        users: Sequence[str | None],
    ) -> None:
        """Add a batch: hit i is `names[codes[i]]` at `timestamps[i]` by `users[i]`."""
        from hitcount.sketches.registers import code_users  # loads numpy

        self.add_users(names, codes, timestamps, *code_users(users))

    def add_users(
        self,
        names: Sequence[str],
        codes: npt.NDArray[np.int32],
        timestamps: npt.NDArray[np.float64],
        user_names: Sequence[str],
        user_codes: npt.NDArray[np.int32],
    ) -> None:
        """Add a batch whose users are coded: hit i by `user_names[user_codes[i]]` (-1: none)."""
        from hitcount.sketches.registers import reduce_users  # loads numpy

        entries = reduce_users(
            codes,
            timestamps,
            user_names,
            user_codes,
            self.precision,
            self.bucket_s,
            self.closed_right,
        )
        self.add_entries(names, entries)

    def add_entries(self, names: Sequence[str], entries: RegisterEntries) -> None:
        """Add a batch already reduced to the largest rank per register (`reduce_users`).

        The same registers as adding hit by hit, kept in bulk until something reads them.

        Raises:
            ValueError: the entries were made for another precision, bucket width or bucket
                convention.
        """
        from hitcount.sketches.sketchlog import RegisterLog  # loads numpy

        made_for = (entries.precision, entries.bucket_s, entries.closed_right)
        if made_for != (self.precision, self.bucket_s, self.closed_right):
            raise ValueError("register entries of another precision, bucket width or edges")
        keep = (entries.buckets + 1) * self.bucket_s > self.horizon
        if not keep.any():
            return
        if self._log is None:
            self._log = RegisterLog(self.precision)
        self._log.add(names, entries, keep)
        self._lowest = min(self._lowest, int(entries.buckets[keep].min()))

    def _settle(self) -> None:
        """Turn the registers added in bulk into sketches (before reading them)."""
        if self._log is None:
            return
        for endpoint, bucket, sketch in self._log.drain():
            held = self._sketches.setdefault(endpoint, {})
            if bucket in held:
                held[bucket].merge(sketch)
            else:
                held[bucket] = sketch
        self._log = None

    def _bulk(self, *, create: bool = False) -> RegisterLog | None:
        """The bulk log holding every sketch (None when nothing was added in bulk, unless
        `create` asks for one)."""  # noqa: D205, D209
        log = self._log
        if log is None and create:
            from hitcount.sketches.sketchlog import RegisterLog  # loads numpy

            log = self._log = RegisterLog(self.precision)
        if log is None:
            return None
        log.add_sketches(
            [(endpoint, bucket, sketch)
             for endpoint, buckets in self._sketches.items()
             for bucket, sketch in buckets.items()]
        )  # fmt: skip
        self._sketches = {}
        return log

    def _sketch(self, endpoint: str, bucket: int) -> HyperLogLog:
        buckets = self._sketches.get(endpoint)
        if buckets is None:
            buckets = self._sketches[endpoint] = {}
        sketch = buckets.get(bucket)
        if sketch is None:
            sketch = buckets[bucket] = HyperLogLog(self.precision)
            self._lowest = min(self._lowest, bucket)
        return sketch

    def prune(self, horizon: float) -> int:
        """Drop buckets ending at or before `horizon`; later adds there are ignored.

        Returns:
            Buckets removed.
        """
        if horizon <= self.horizon:
            return 0
        self.horizon = horizon
        first_kept = math.floor(horizon / self.bucket_s)
        if self._lowest >= first_kept:
            return 0
        gone: set[tuple[str, int]] = set()
        self._lowest = math.inf
        for endpoint in list(self._sketches):
            buckets = self._sketches[endpoint]
            old = [b for b in buckets if b < first_kept]
            self._lowest = min(
                self._lowest, min((b for b in buckets if b >= first_kept), default=math.inf)
            )
            for bucket in old:
                del buckets[bucket]
            gone.update((endpoint, bucket) for bucket in old)
            if not buckets:
                del self._sketches[endpoint]
        if self._log is None:
            return len(gone)
        count, lowest = self._log.prune(first_kept, gone)
        self._lowest = min(self._lowest, lowest)
        return count

    def merge(self, other: DistinctTracker) -> None:
        """Fold `other` in: per endpoint and bucket, the register-wise maximum of the two
        sketches, which is exactly the sketch of the union of their users, at the lower of
        the two precisions (`fold_to`). The later horizon wins (buckets before it are
        dropped), and the longer retention.

        Raises:
            ValueError: the bucket widths or conventions differ.
        """  # noqa: D205
        if other.closed_right != self.closed_right:
            raise ValueError(
                f"cannot merge distinct-users sketches of {other.edges} buckets into"
                f" {self.edges} buckets (a state saved before the buckets became (lo, hi]):"
                " replay the older input again to merge them"
            )
        if other.bucket_s != self.bucket_s:
            raise ValueError(
                f"cannot merge distinct-users sketches in {plain(other.bucket_s)} s buckets"
                f" into {plain(self.bucket_s)} s buckets"
            )
        self.fold_to(other.precision)
        self.retention_s = max(self.retention_s, other.retention_s)
        self.prune(other.horizon)
        self._settle()  # bulk-added registers become sketches on both sides first
        other._settle()
        for endpoint, buckets in other._sketches.items():
            for bucket, sketch in buckets.items():
                if self._keeps(bucket):
                    self._sketch(endpoint, bucket).merge(sketch)

    def fold_to(self, precision: int) -> None:
        """Keep every sketch at `precision` if it is lower than the tracker's: exactly the
        sketches hashing the users at `precision` gives (`HyperLogLog.folded`)."""  # noqa: D205, D209
        if precision >= self.precision:
            return
        self._settle()
        self._sketches = {
            endpoint: {bucket: sketch.folded(precision) for bucket, sketch in buckets.items()}
            for endpoint, buckets in self._sketches.items()
        }
        self.precision = check_precision(precision)

    # -- answering -------------------------------------------------------------------

    def endpoints(self) -> list[str]:
        """Endpoints that have user data, sorted."""
        self._settle()
        return sorted(self._sketches)

    def newest_bucket(self) -> int | None:
        """The newest bucket holding a sketch (None: none), the bulk log's read from its
        pairs (turning them into sketches made loading a day of them take a second)."""  # noqa: D205, D209
        newest = [max(buckets) for buckets in self._sketches.values() if buckets]
        if self._log is not None:
            newest += [bucket for _, bucket in self._log.pairs()]
        return max(newest, default=None)

    def has_data(self) -> bool:
        """Whether any endpoint has user data."""
        return bool(self._sketches) or bool(self._log)

    def query(
        self,
        endpoints: str | Iterable[str],
        start: float,
        end: float,
        clock: float | None = None,
        confidence: float = DEFAULT_CONFIDENCE,
    ) -> DistinctAnswer:
        """Distinct users of one or several endpoints (counted once), `start < ts <= end`
        (see `distinct_query.window_answer`)."""  # noqa: D205, D209
        self._settle()
        names = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        held = [self._sketches.get(name, {}) for name in names]
        window = Window(start, end, clock, self.bucket_s, self.closed_right)
        answer = window_answer(held, window, self.precision, confidence)
        return msgspec.structs.replace(answer, complete=start >= self.horizon)

    # -- size and state --------------------------------------------------------------

    def buckets(self) -> int:
        """Sketches held."""
        log = self._bulk()
        if log is not None:
            return len(log.sizes())
        return sum(len(buckets) for buckets in self._sketches.values())

    def memory_bytes(self) -> int:
        """Bytes of the encoded sketches (sparse ones 4 bytes a register set)."""
        log = self._bulk()
        if log is not None:
            return log.memory_bytes()
        return sum(
            sketch.memory_bytes()
            for buckets in self._sketches.values()
            for sketch in buckets.values()
        )

    def to_state(self, *, compact: bool = False) -> dict[str, Any]:
        """A JSON-ready dict: parameters, horizon, and base64 registers per bucket.

        `compact` packs the registers into a few base64 arrays instead, when there are
        `PACKED_MIN_SKETCHES` sketches or more (the state store's form: far faster to write
        and read than one text per sketch).
        """
        held = self._log.pair_count() if self._log is not None else 0
        if compact and held + sum(map(len, self._sketches.values())) >= PACKED_MIN_SKETCHES:
            packed = self._bulk(create=True)
            assert packed is not None
            return {**self._parameters(), "packed": packed.packed()}
        log = self._bulk()
        if log is not None:
            encoded = log.encoded()
            sketches = {
                endpoint: {str(b): encoded[endpoint][b] for b in sorted(encoded[endpoint])}
                for endpoint in sorted(encoded)
            }
        else:
            sketches = encoded_sketches(self._sketches)
        return {**self._parameters(), "endpoints": sketches}

    def sketch_rows(self) -> list[tuple[str, int, str]]:
        """`(endpoint, bucket, base64)` of every sketch: a store's rows."""
        log = self._bulk()
        if log is not None:
            return log.encoded_rows()
        return [(e, b, h.to_base64()) for e, bs in self._sketches.items() for b, h in bs.items()]

    def _parameters(self) -> dict[str, Any]:
        return {
            "bucket_s": self.bucket_s,
            "precision": self.precision,
            "retention_s": self.retention_s,
            "horizon": self.horizon if math.isfinite(self.horizon) else None,
            "edges": self.edges,
        }

    @classmethod
    def from_state(cls, raw: bytes | Mapping[str, Any]) -> DistinctTracker:
        """A tracker from `to_state` output (JSON bytes or a dict), strictly validated.

        Raises:
            ValueError: a missing, unknown or out-of-range field, or bad registers.
        """
        state = decode_state(raw)
        tracker = cls(state.bucket_s, state.precision, state.retention_s)
        tracker.horizon = checked_horizon(state.horizon)
        tracker.closed_right = state.edges == RIGHT_CLOSED
        if state.packed is not None:
            if state.endpoints:
                raise ValueError("distinct-users state has both endpoints and packed")
            tracker._log = packed_log(tracker.precision, state.packed, tracker._keeps)
        tracker._sketches = decoded_sketches(state.endpoints, tracker.precision, tracker._keeps)
        return tracker

    def load_state(self, raw: bytes | Mapping[str, Any]) -> None:
        """Replace this tracker's contents with `to_state` output.

        Raises:
            ValueError: invalid state (this tracker is then unchanged).
        """
        other = DistinctTracker.from_state(raw)
        self.bucket_s, self.precision, self.retention_s = (
            other.bucket_s,
            other.precision,
            other.retention_s,
        )
        self.horizon, self._sketches = other.horizon, other._sketches
        self.closed_right = other.closed_right
        self._lowest, self._hashes, self._log = -math.inf, {}, other._log

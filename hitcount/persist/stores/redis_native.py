"""Strategies kept in native Redis structures, one key per endpoint, changed in place.

- `fixed` (any strategy that `KeepsBuckets`): a hash, bucket index -> count (`HINCRBY`);
  the `fixed_add` script adds a batch and drops the buckets that end before the horizon,
  atomically.
- `sliding` (any strategy that `KeepsTimestamps`): a sorted set, score = timestamp, member
  = a unique id (`ZADD`, `ZREMRANGEBYSCORE`, and queries read `ZRANGEBYSCORE` of their
  window only).
- `tiered`: a hash, `tier:bucket` -> count, added and pruned per tier by `tiered_add`.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator, Mapping
from typing import Any

from hitcount.persist.stores.redis_checks import finite, whole
from hitcount.persist.stores.redis_layout import Layout, as_kind, reply
from hitcount.persist.stores.redis_scripts import Scripts
from hitcount.strategies.base import Strategy
from hitcount.strategies.capabilities import (
    KeepsTimestamps,
    keeping_buckets,
    keeping_timestamps,
)
from hitcount.strategies.tiered import TieredRollups
from hitcount.strategies.tiered_grid import TIERS, TierCuts

ZADD_CHUNK = 5000


class FixedLayout(Layout):
    """`fixed`: hash of bucket index -> count.

    The meta hash keeps `x:closed_right = 1` for `(lo, hi]` buckets; a state written before
    has no such field and keeps its `[lo, hi)` buckets, in its deltas too.
    """

    strategy_name = "fixed"
    key_type, field_pattern = "hash", "^%-?%d+$"

    def new_delta(self, horizon: float, extras: Mapping[str, float] | None = None) -> Strategy:
        """An empty local strategy, with the stored state's bucket convention, that notes
        the buckets it prunes (a batch counts a bucket Redis also holds once)."""  # noqa: D205, D209
        strategy = super().new_delta(horizon, extras)
        self.restore_extras(strategy, extras or {})
        keeping_buckets(strategy).pruned_buckets = {}
        return strategy

    def restore_extras(self, strategy: Strategy, extras: Mapping[str, float]) -> None:
        """`(lo, hi]` buckets when the meta hash says so, else the old `[lo, hi)`."""
        keeping_buckets(strategy).closed_right = extras.get("closed_right") == 1.0

    def extras_of(self, strategy: Strategy) -> dict[str, float]:
        """`closed_right: 1.0` for `(lo, hi]` buckets (nothing for the old convention)."""
        return {"closed_right": 1.0} if keeping_buckets(strategy).closed_right else {}

    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: Any = None,
    ) -> None:
        """Add the bucket counts and drop buckets that end at or before the horizon."""
        buckets = keeping_buckets(delta)
        width = buckets.bucket_width_s
        first_kept = "" if not math.isfinite(horizon) else str(math.floor(horizon / width))
        counted = sorted((buckets.pruned_buckets or {}).get(endpoint, ()))  # by the delta
        args: list[Any] = [first_kept, len(counted), *counted]
        for bucket, count in buckets.bucket_counts(endpoint).items():
            args += [bucket, count]
        self.run_script(pipe, "fixed_add", key, args)

    def batch_endpoints(self, delta: Strategy) -> list[str]:
        """Those with buckets, and those the delta pruned whole: Redis may hold the buckets
        it pruned, which the batch's `fixed_add` drops without counting them again."""  # noqa: D205, D209
        pruned = keeping_buckets(delta).pruned_buckets or {}
        return sorted({*delta.endpoints(), *pruned})

    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """Every bucket of the endpoint (at most retention / window of them)."""
        pipe.hgetall(key)

    def state_part(self, replies: list[Any]) -> Any:
        """`{bucket: count}`."""
        buckets = {
            whole(bucket, "a bucket", -(2**62), 2**62): whole(count, f"bucket {int(bucket)}")
            for bucket, count in reply(replies[0]).items()
        }
        return {bucket: count for bucket, count in buckets.items() if count > 0} or None

    def put(self, strategy: Strategy, endpoint: str, part: Any) -> None:
        """`set_buckets`."""
        keeping_buckets(strategy).set_buckets(endpoint, part)

    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """HSET every bucket."""
        buckets = keeping_buckets(strategy).bucket_counts(endpoint)
        if buckets:
            pipe.hset(key, mapping={str(b): c for b, c in sorted(buckets.items())})

    def queue_size(self, pipe: Any, key: str) -> None:
        """Number of buckets."""
        pipe.hlen(key)


class SlidingLayout(Layout):
    """`sliding`: sorted set scored by timestamp; members are unique 12-byte ids."""

    strategy_name = "sliding"
    key_type = "zset"
    reads_per_endpoint = 2

    def __init__(self, params: Mapping[str, float | int], scripts: Scripts | None) -> None:
        super().__init__(params, scripts)
        self._ids = _unique_ids()

    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: Any = None,
    ) -> None:
        """ZADD the timestamps (in chunks), then ZREMRANGEBYSCORE up to the horizon."""
        self._queue_zadd(pipe, key, keeping_timestamps(delta), endpoint)
        pipe.zremrangebyscore(key, "-inf", repr(horizon) if math.isfinite(horizon) else "-inf")

    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """The timestamps after `since`, and the newest one before it.

        The window can only contain the first; the second keeps an endpoint whose hits
        are all older among the known ones, as in a state read whole.
        """
        low = f"({since!r}" if math.isfinite(since) else "-inf"
        pipe.zrangebyscore(key, low, "+inf", withscores=True)
        high = repr(since) if math.isfinite(since) else "-inf"
        pipe.zrevrangebyscore(key, high, "-inf", start=0, num=1, withscores=True)

    def state_part(self, replies: list[Any]) -> Any:
        """Sorted timestamps."""
        stamps = [score for each in replies for _, score in reply(each)]
        return sorted(finite(score, "a timestamp") for score in stamps) or None

    def put(self, strategy: Strategy, endpoint: str, part: Any) -> None:
        """`set_timestamps`."""
        keeping_timestamps(strategy).set_timestamps(endpoint, part)

    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """ZADD every retained timestamp."""
        self._queue_zadd(pipe, key, keeping_timestamps(strategy), endpoint)

    def _queue_zadd(self, pipe: Any, key: str, source: KeepsTimestamps, endpoint: str) -> None:
        stamps = list(source.timestamps(endpoint))
        for start in range(0, len(stamps), ZADD_CHUNK):
            pipe.zadd(key, {next(self._ids): ts for ts in stamps[start : start + ZADD_CHUNK]})

    def queue_size(self, pipe: Any, key: str) -> None:
        """Number of timestamps."""
        pipe.zcard(key)


class TieredLayout(Layout):
    """`tiered`: one hash per endpoint, field `TIER:BUCKET` -> count (tiers 0, 1, 2).

    The fine and mid cuts (and `closed_until`) are strategy-wide: the meta hash keeps them.
    """

    strategy_name = "tiered"
    key_type, field_pattern = "hash", "^[0-2]:%-?%d+$"

    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: Any = None,
    ) -> None:
        """Add every tier's bucket counts, then drop each tier's buckets before its cut
        (counting as pruned those the delta did not count already)."""  # noqa: D205, D209
        tiered = as_kind(delta, TieredRollups)
        args: list[Any] = []
        for k, cut in enumerate(tiered.horizons()):
            args.append(tiered.first_bucket_after(k, cut) if math.isfinite(cut) else "")
        counted = sorted((tiered.pruned_buckets or {}).get(endpoint, ()))
        args += [len(counted), *(f"{k}:{j}" for k, j in counted)]
        for k, tier in enumerate(TIERS):
            for bucket, count in tiered.bucket_counts(endpoint, tier).items():
                args += [k, bucket, count]
        self.run_script(pipe, "tiered_add", key, args)

    def new_delta(self, horizon: float, extras: Mapping[str, float] | None = None) -> Strategy:
        """An empty local strategy that notes the buckets it prunes (see `FixedLayout`)."""
        strategy = super().new_delta(horizon, extras)
        as_kind(strategy, TieredRollups).pruned_buckets = {}
        return strategy

    def batch_endpoints(self, delta: Strategy) -> list[str]:
        """Those with buckets, and those the delta pruned whole (see `FixedLayout`)."""
        return sorted({*delta.endpoints(), *(as_kind(delta, TieredRollups).pruned_buckets or {})})

    def prune_read(self, strategy: Strategy, horizon: float) -> None:
        """Drop what each stored cut has left behind (the cuts stay as stored)."""
        tiered = as_kind(strategy, TieredRollups)
        tiered.horizon = max(tiered.horizon, horizon)
        tiered.drop_behind_cuts()

    def shortest_retention(self, clock: float, horizon: float) -> float:
        """The fine tier's retention."""
        return as_kind(self.empty(), TieredRollups).retentions[0]

    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """Every bucket of every tier (each tier is bounded by its retention)."""
        pipe.hgetall(key)

    def state_part(self, replies: list[Any]) -> Any:
        """`{tier index: {bucket: count}}`."""
        part: dict[int, dict[int, int]] = {}
        for field, count in reply(replies[0]).items():
            name = field.decode(errors="replace")
            tier, _, bucket = name.partition(":")
            index = whole(tier, f"the tier of field {name}", 0, len(TIERS) - 1)
            start = whole(bucket, f"the bucket of field {name}", -(2**62), 2**62)
            if whole(count, f"the count of field {name}") > 0:
                part.setdefault(index, {})[start] = int(count)
        return part or None

    def put(self, strategy: Strategy, endpoint: str, part: Any) -> None:
        """`set_bucket_counts` of each tier."""
        tiered = as_kind(strategy, TieredRollups)
        for k, buckets in sorted(part.items()):
            tiered.set_bucket_counts(endpoint, TIERS[k], buckets)

    def restore_extras(self, strategy: Strategy, extras: Mapping[str, float]) -> None:
        """The fine and mid cuts and `closed_until`."""
        cuts = TierCuts(*(extras.get(name, -math.inf) for name in TierCuts._fields))
        as_kind(strategy, TieredRollups).restore_cuts(cuts)

    def extras_of(self, strategy: Strategy) -> dict[str, float]:
        """The fine and mid cuts and `closed_until`, where set."""
        cuts = as_kind(strategy, TieredRollups).cuts()
        return {name: t for name, t in zip(cuts._fields, cuts, strict=True) if math.isfinite(t)}

    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """HSET every bucket of every tier."""
        tiered = as_kind(strategy, TieredRollups)
        fields = {
            f"{k}:{j}": count
            for k, tier in enumerate(TIERS)
            for j, count in sorted(tiered.bucket_counts(endpoint, tier).items())
        }
        if fields:
            pipe.hset(key, mapping=fields)

    def queue_size(self, pipe: Any, key: str) -> None:
        """Buckets of all tiers."""
        pipe.hlen(key)


def _unique_ids() -> Iterator[bytes]:
    """Sorted-set members that no other writer produces: 6 random bytes and a counter."""
    prefix = os.urandom(6)
    number = 0
    while True:
        number += 1
        yield prefix + struct.pack(">Q", number)[2:]

"""How each strategy keeps its state in native Redis structures: one key per endpoint.

- `fixed`: a hash, bucket index -> count (`HINCRBY`); a Lua script adds a batch and
  drops the buckets that end before the horizon, atomically.
- `sliding`: a sorted set, score = timestamp, member = a unique id (`ZADD`,
  `ZREMRANGEBYSCORE`, and queries read `ZRANGEBYSCORE` of their window only).
- `morris`: a hash, counter index -> level; a Lua script advances the levels by `n` hits
  with geometric jumps, so concurrent writers never lose an increment.
- `tiered`: a hash, `tier:bucket` -> count, added and pruned per tier by a Lua script.

Times are the log's, never the server's: nothing expires by TTL, pruning follows the
replay clock. A layout turns a local strategy holding only the new hits (the delta) into
commands, and turns what Redis holds back into the strategy's own state document, so the
engine answers queries exactly as for a file.
"""

from __future__ import annotations

import math
import os
import struct
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hitcount.strategies import get_strategy
from hitcount.strategies.base import Strategy
from hitcount.strategies.fixed import FixedWindow
from hitcount.strategies.morris import MorrisCounter
from hitcount.strategies.sliding import SlidingWindow
from hitcount.strategies.tiered import TieredRollups
from hitcount.strategies.tiered_grid import TIERS

#: Add `ARGV[2..]` (bucket, count pairs) to the hash, then drop buckets below `ARGV[1]`.
FIXED_ADD = """
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
local removed = 0
local first_kept = tonumber(ARGV[1])
if first_kept ~= nil then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if tonumber(field) < first_kept then
      redis.call('HDEL', KEYS[1], field)
      removed = removed + 1
    end
  end
end
return removed
"""

#: Advance each of `ARGV[2]` counters by `ARGV[1]` hits (base `ARGV[3]`, max level
#: `ARGV[4]`), drawing the hits until the next increment from a seeded Park-Miller
#: generator (`ARGV[5]`): exact geometric jumps, one draw per increment.
MORRIS_ADD = """
local hits, k, base, max_level = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local x = tonumber(ARGV[5])
local function uniform()
  x = (x * 16807) % 2147483647
  return x / 2147483647
end
for i = 0, k - 1 do
  local level = tonumber(redis.call('HGET', KEYS[1], i) or '0')
  local remaining = hits
  while level < max_level do
    local p = base ^ (-level)
    local skip = 1
    if p < 1 then
      local q = math.log(1 - p)
      if p < 1e-9 then q = -p - p * p / 2 end
      skip = math.floor(math.log(uniform()) / q) + 1
    end
    if skip > remaining then break end
    remaining = remaining - skip
    level = level + 1
  end
  redis.call('HSET', KEYS[1], i, level)
end
return 0
"""

#: Add `ARGV[4..]` (tier, bucket, count triples) to the hash, then drop each tier's buckets
#: below its first kept index (`ARGV[1..3]`, empty: keep all).
TIERED_ADD = """
local first = {tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])}
for i = 4, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[1], ARGV[i] .. ':' .. ARGV[i + 1], ARGV[i + 2])
end
local removed = 0
if first[1] or first[2] or first[3] then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    local sep = string.find(field, ':', 1, true)
    local tier = tonumber(string.sub(field, 1, sep - 1)) + 1
    if first[tier] and tonumber(string.sub(field, sep + 1)) < first[tier] then
      redis.call('HDEL', KEYS[1], field)
      removed = removed + 1
    end
  end
end
return removed
"""

ZADD_CHUNK = 5000


class Layout(ABC):
    """The Redis form of one strategy's per-endpoint state."""

    #: The strategy this layout stores.
    strategy_name: str
    #: Whether `queue_add` needs the key's current value (a read-modify-write layout).
    needs_current = False

    def __init__(self, params: Mapping[str, float | int]) -> None:
        self.params = dict(params)
        self._cached: tuple[Strategy, dict[str, Any]] | None = None
        #: Outcomes of a read-modify-write layout's `queue_add`s in the current batch:
        #: entries pruned per key, and hits per endpoint the stored state refused (late for
        #: it: older than what it already summarizes). Native layouts leave them empty.
        self.pruned: dict[str, int] = {}
        self.refused: dict[str, int] = {}

    def start_batch(self) -> None:
        """Forget the outcomes of the previous batch (or of a batch being retried)."""
        self.pruned, self.refused = {}, {}

    def state_of(self, strategy: Strategy) -> dict[str, Any]:
        """`strategy.to_state()`, built once for the many endpoints of one batch or save."""
        if self._cached is None or self._cached[0] is not strategy:
            self._cached = (strategy, strategy.to_state())
        return self._cached[1]

    def new_delta(self, horizon: float) -> Strategy:
        """An empty local strategy that gathers the hits of one batch."""
        strategy = get_strategy(self.strategy_name)(**self.params)
        strategy.horizon = horizon
        return strategy

    @abstractmethod
    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: bytes | None = None,
    ) -> None:
        """Queue the commands adding `delta`'s hits of `endpoint`, then pruning to `horizon`.

        The reply of the last command queued is the number of entries pruned (except for
        a layout that `needs_current`: the key's value, read before, is `current`, and
        the entries pruned go to `pruned`).
        """

    #: How many commands `queue_read` queues per endpoint.
    reads_per_endpoint = 1

    @abstractmethod
    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """Queue the reads of what a window starting at `since` needs."""

    @abstractmethod
    def state_part(self, replies: list[Any]) -> Any:
        """One endpoint's entry of the state document (None: no state), from its replies."""

    @abstractmethod
    def state_document(
        self, parts: Mapping[str, Any], extras: Mapping[str, float] | None = None
    ) -> dict[str, Any]:
        """The strategy's whole `to_state` document from per-endpoint parts (and extras)."""

    def extras_of(self, strategy: Strategy) -> dict[str, float]:
        """Strategy-wide times of its state that the meta hash keeps (`x:` fields)."""
        return {}

    @abstractmethod
    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """Queue writing `endpoint`'s whole state (a key that does not exist yet)."""

    @abstractmethod
    def queue_size(self, pipe: Any, key: str) -> None:
        """Queue reading how many entries the key holds."""


class FixedLayout(Layout):
    """`fixed`: hash of bucket index -> count."""

    strategy_name = "fixed"

    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: bytes | None = None,
    ) -> None:
        """Add the bucket counts and drop buckets that end at or before the horizon."""
        assert isinstance(delta, FixedWindow)
        buckets = self.state_of(delta)["buckets"].get(endpoint, {})
        width = float(self.params["window_s"])
        first_kept = "" if not math.isfinite(horizon) else str(math.floor(horizon / width))
        args = [first_kept]
        for bucket, count in buckets.items():
            args += [str(bucket), str(count)]
        pipe.execute_command("EVAL", FIXED_ADD, 1, key, *args)

    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """Every bucket of the endpoint (at most retention / window of them)."""
        pipe.hgetall(key)

    def state_part(self, replies: list[Any]) -> Any:
        """`{bucket: count}`."""
        buckets = {int(bucket): int(count) for bucket, count in replies[0].items()}
        return {bucket: count for bucket, count in buckets.items() if count > 0} or None

    def state_document(
        self, parts: Mapping[str, Any], extras: Mapping[str, float] | None = None
    ) -> dict[str, Any]:
        """`{"buckets": ...}`."""
        return {"buckets": {ep: {str(b): c for b, c in part.items()} for ep, part in parts.items()}}

    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """HSET every bucket."""
        buckets = self.state_of(strategy)["buckets"].get(endpoint) or {}
        if buckets:
            pipe.hset(key, mapping={str(b): c for b, c in buckets.items()})

    def queue_size(self, pipe: Any, key: str) -> None:
        """Number of buckets."""
        pipe.hlen(key)


class SlidingLayout(Layout):
    """`sliding`: sorted set scored by timestamp; members are unique 12-byte ids."""

    strategy_name = "sliding"

    def __init__(self, params: Mapping[str, float | int]) -> None:
        super().__init__(params)
        self._ids = _unique_ids()

    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: bytes | None = None,
    ) -> None:
        """ZADD the timestamps (in chunks), then ZREMRANGEBYSCORE up to the horizon."""
        assert isinstance(delta, SlidingWindow)
        stamps = list(delta.timestamps(endpoint))
        for start in range(0, len(stamps), ZADD_CHUNK):
            chunk = stamps[start : start + ZADD_CHUNK]
            pipe.zadd(key, {next(self._ids): ts for ts in chunk})
        pipe.zremrangebyscore(key, "-inf", repr(horizon) if math.isfinite(horizon) else "-inf")

    reads_per_endpoint = 2

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
        return sorted(score for reply in replies for _, score in reply) or None

    def state_document(
        self, parts: Mapping[str, Any], extras: Mapping[str, float] | None = None
    ) -> dict[str, Any]:
        """`{"timestamps": ...}`."""
        return {"timestamps": {ep: part for ep, part in parts.items() if part}}

    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """ZADD every retained timestamp."""
        assert isinstance(strategy, SlidingWindow)
        stamps = list(strategy.timestamps(endpoint))
        for start in range(0, len(stamps), ZADD_CHUNK):
            pipe.zadd(key, {next(self._ids): ts for ts in stamps[start : start + ZADD_CHUNK]})

    def queue_size(self, pipe: Any, key: str) -> None:
        """Number of timestamps."""
        pipe.zcard(key)


class MorrisTally(MorrisCounter):
    """A local stand-in for `morris` that only counts hits per endpoint (the delta)."""

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.tally: dict[str, int] = {}

    def add_hits(self, endpoint: str, hits: int) -> None:
        """Count `hits` more hits for `endpoint`."""
        self.tally[endpoint] = self.tally.get(endpoint, 0) + hits

    def record(self, endpoint: str, ts: float) -> bool:
        """Count one hit."""
        self.add_hits(endpoint, 1)
        return True

    def endpoints(self) -> Iterable[str]:
        """Endpoints with hits in this batch."""
        return self.tally.keys()


class MorrisLayout(Layout):
    """`morris`: hash of counter index -> level, advanced server-side by a Lua script."""

    strategy_name = "morris"

    def __init__(self, params: Mapping[str, float | int]) -> None:
        super().__init__(params)
        #: The parameters as a counter (k, base, max level, the seed's first state).
        self._model = MorrisCounter(**self.params)
        self._seeds = MorrisCounter(**self.params).rng  # advances: one seed per script call

    def new_delta(self, horizon: float) -> Strategy:
        """A tally of hits per endpoint."""
        tally = MorrisTally(**self.params)
        tally.horizon = horizon
        return tally

    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: bytes | None = None,
    ) -> None:
        """Advance the endpoint's counters by its hits in the batch."""
        assert isinstance(delta, MorrisTally)
        model = self._model
        seed = 1 + self._seeds.next_u64() % 2147483646
        args = [delta.tally[endpoint], model.k, model.base, model.max_level, seed]
        pipe.execute_command("EVAL", MORRIS_ADD, 1, key, *[str(a) for a in args])

    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """The levels."""
        pipe.hgetall(key)

    def state_part(self, replies: list[Any]) -> Any:
        """`[level, ...]`."""
        if not replies[0]:
            return None
        k = self._model.k
        levels = {int(i): int(level) for i, level in replies[0].items()}
        return [levels.get(i, 0) for i in range(k)]

    def state_document(
        self, parts: Mapping[str, Any], extras: Mapping[str, float] | None = None
    ) -> dict[str, Any]:
        """`{"rng_state": ..., "counters": ...}`."""
        return {"rng_state": self._model.rng.state, "counters": dict(parts)}

    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """HSET every level."""
        counters = self.state_of(strategy)["counters"].get(endpoint)
        if counters:
            pipe.hset(key, mapping={str(i): level for i, level in enumerate(counters)})

    def queue_size(self, pipe: Any, key: str) -> None:
        """Number of counters."""
        pipe.hlen(key)


class TieredLayout(Layout):
    """`tiered`: one hash per endpoint, field `TIER:BUCKET` -> count (tiers 0, 1, 2).

    The fine and mid cuts (and `closed_until`) are strategy-wide: the meta hash keeps them.
    """

    strategy_name = "tiered"
    _TIMES = ("fine_horizon", "mid_horizon", "closed_until")

    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: bytes | None = None,
    ) -> None:
        """Add every tier's bucket counts, then drop each tier's buckets before its cut."""
        assert isinstance(delta, TieredRollups)
        state = self.state_of(delta)
        args: list[Any] = []
        for k, cut in enumerate(delta.horizons()):
            args.append(delta.first_bucket_after(k, cut) if math.isfinite(cut) else "")
        for k, tier in enumerate(TIERS):
            for bucket, count in state[tier].get(endpoint, {}).items():
                args += [k, bucket, count]
        pipe.execute_command("EVAL", TIERED_ADD, 1, key, *[str(a) for a in args])

    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """Every bucket of every tier (each tier is bounded by its retention)."""
        pipe.hgetall(key)

    def state_part(self, replies: list[Any]) -> Any:
        """`{tier index: {bucket: count}}`."""
        part: dict[int, dict[int, int]] = {}
        for field, count in replies[0].items():
            tier, _, bucket = field.decode().partition(":")
            if int(count) > 0:
                part.setdefault(int(tier), {})[int(bucket)] = int(count)
        return part or None

    def state_document(
        self, parts: Mapping[str, Any], extras: Mapping[str, float] | None = None
    ) -> dict[str, Any]:
        """Per tier `{endpoint: {bucket: count}}`, plus the strategy-wide times."""
        document: dict[str, Any] = {
            tier: {
                ep: {str(j): c for j, c in sorted(part[k].items())}
                for ep, part in parts.items()
                if part.get(k)
            }
            for k, tier in enumerate(TIERS)
        }
        for name in self._TIMES:
            document[name] = (extras or {}).get(name)
        return document

    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """HSET every bucket of every tier."""
        state = self.state_of(strategy)
        fields = {
            f"{k}:{j}": count
            for k, tier in enumerate(TIERS)
            for j, count in state[tier].get(endpoint, {}).items()
        }
        if fields:
            pipe.hset(key, mapping=fields)

    def queue_size(self, pipe: Any, key: str) -> None:
        """Buckets of all tiers."""
        pipe.hlen(key)

    def extras_of(self, strategy: Strategy) -> dict[str, float]:
        """The fine and mid cuts and `closed_until`, where set."""
        state = self.state_of(strategy)
        return {name: state[name] for name in self._TIMES if state.get(name) is not None}


LAYOUTS: dict[str, type[Layout]] = {
    layout.strategy_name: layout
    for layout in (FixedLayout, SlidingLayout, MorrisLayout, TieredLayout)
}


def layout_for(strategy: str, params: Mapping[str, float | int]) -> Layout:
    """The layout of a strategy: native structures, else one document per endpoint."""
    layout = LAYOUTS.get(strategy)
    if layout is None:
        from hitcount.persist.stores.redis_documents import DocumentLayout

        get_strategy(strategy)  # an unknown name is refused here
        return DocumentLayout(strategy, params)
    return layout(params)


def _unique_ids() -> Iterator[bytes]:
    """Sorted-set members that no other writer produces: 6 random bytes and a counter."""
    prefix = os.urandom(6)
    number = 0
    while True:
        number += 1
        yield prefix + struct.pack(">Q", number)[2:]

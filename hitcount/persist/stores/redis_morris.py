"""`morris` in Redis: a hash per endpoint, counter index -> level, changed read-modify-write.

The update rule has one home, `MorrisCounter.advanced`: a writer reads the endpoint's
levels, advances them by its batch's hits with the strategy's own rule and generator, and
writes the new levels only if the key still holds the ones it read (WATCH and MULTI/EXEC
on a single server, the `morris_set` compare-and-set script on a cluster); when another
writer came first, the batch reads the levels again and draws anew. So every change is
one exact Morris transition from the levels Redis holds: concurrent writers together
leave the counters exactly as one writer fed all their hits in some order would, in
distribution (the geometric jumps are memoryless), and the estimate stays unbiased with
the interval a query reports. Each writer draws from its own stream of the seed (the
`writers` counter of the generation numbers them): writers never share random numbers,
which would make their errors add up instead of cancelling, and a run of appends from one
seed is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hitcount.model.digests import sha256
from hitcount.persist.stores.redis_checks import whole
from hitcount.persist.stores.redis_delta import RawHits
from hitcount.persist.stores.redis_layout import Change, ReadModifyWriteLayout, as_kind, reply
from hitcount.persist.stores.redis_scripts import Scripts
from hitcount.strategies.base import Strategy
from hitcount.strategies.morris import MorrisCounter


class MorrisLayout(ReadModifyWriteLayout):
    """`morris`: hash of counter index -> level."""

    strategy_name = "morris"
    prunes = False  # counters carry no time

    def __init__(self, params: Mapping[str, float | int], scripts: Scripts | None) -> None:
        super().__init__(params, scripts)
        #: The rule and the generator that advance the levels (one generator per writer).
        self._rule = MorrisCounter(**self.params)

    def use_writer(self, number: int) -> None:
        """Draw from the writer's own stream of the seed (`MorrisCounter.use_stream`)."""
        self._rule.use_stream(number)

    def new_delta(self, horizon: float, extras: Mapping[str, float] | None = None) -> Strategy:
        """The batch's hits, kept or refused as the real strategy would."""
        return RawHits.of(self.empty(), horizon)

    def restore_extras(self, strategy: Strategy, extras: Mapping[str, float]) -> None:
        """A state read back draws on from a stream of its own levels: Redis keeps no
        generator state (each writer draws on a stream of its own), and the seed's first
        stream, which the replay that made the state drew on, would repeat its draws in
        the errors of whatever a snapshot of it is given next. Streams past 2**64, which no
        writer's number reaches."""  # noqa: D205, D209
        counters = as_kind(strategy, MorrisCounter)
        levels = repr(sorted((ep, counters.levels(ep)) for ep in counters.endpoints()))
        digest = sha256(levels.encode()).digest()
        counters.use_stream((1 << 64) + int.from_bytes(digest[:8], "big"))

    def queue_read_current(self, pipe: Any, key: str) -> None:
        """The levels."""
        pipe.hgetall(key)

    def _levels(self, current: Any) -> list[int]:
        rule = self._rule
        levels = {
            whole(i, "a counter index", 0, rule.k - 1): whole(level, "a level", 0, rule.max_level)
            for i, level in (reply(current) or {}).items()
        }
        return [levels.get(i, 0) for i in range(rule.k)]

    def applied(self, current: Any, delta: Strategy, endpoint: str) -> Change:
        """The levels after the endpoint's hits of the batch, drawn by the strategy's rule."""
        hits = len(as_kind(delta, RawHits).hits.get(endpoint, ()))
        return Change(self._rule.advanced(self._levels(current), hits))

    def queue_set(self, pipe: Any, key: str, change: Change) -> None:
        """HSET the new levels."""
        pipe.hset(key, mapping={str(i): level for i, level in enumerate(change.value)})

    def queue_compare_and_set(self, pipe: Any, key: str, current: Any, change: Change) -> None:
        """`morris_set`: the new levels, if the key still holds those read."""
        old = self._levels(current)
        self.run_script(pipe, "morris_set", key, [len(old), *old, *change.value])

    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """The levels."""
        pipe.hgetall(key)

    def state_part(self, replies: list[Any]) -> Any:
        """`[level, ...]`."""
        return self._levels(replies[0]) if reply(replies[0]) else None

    def put(self, strategy: Strategy, endpoint: str, part: Any) -> None:
        """`set_levels`."""
        as_kind(strategy, MorrisCounter).set_levels(endpoint, part)

    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """HSET every level."""
        levels = as_kind(strategy, MorrisCounter).levels(endpoint)
        if levels:
            pipe.hset(key, mapping={str(i): level for i, level in enumerate(levels)})

    def queue_size(self, pipe: Any, key: str) -> None:
        """Number of counters."""
        pipe.hlen(key)

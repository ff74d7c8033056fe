"""`ehist` and `auto` in Redis: one JSON document per endpoint, changed read-modify-write.

Their per-endpoint state (exponential-histogram buckets that merge as hits arrive, or an
exact array that may switch to a histogram) cannot be updated by a fixed Redis command, so
each endpoint's key holds the strategy's own state restricted to that endpoint, and a
writer applies a batch with the strategy's own code: read the document, record the hits,
prune, write it back. On a single server the reads are WATCHed and the writes go in the
batch's MULTI/EXEC, so a concurrent change makes the batch retry, and no update is lost.
On a cluster each endpoint is written by a compare-and-set script and retried alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hitcount.persist.stores.redis_layouts import Layout
from hitcount.strategies import get_strategy
from hitcount.strategies.base import Strategy, WindowAnswer

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Replace the document of hash KEYS[1] by ARGV[2] with ARGV[3] entries (delete the key
#: when ARGV[2] is empty) only if it still is ARGV[1] (empty: absent). Returns 1 when
#: written, 0 when another writer came first.
COMPARE_AND_SET = """
local now = redis.call('HGET', KEYS[1], 'doc')
if (now or '') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'entries', ARGV[3])
end
return 1
"""


class RawHits(Strategy):
    """A delta that keeps a batch's raw timestamps, with the real strategy's late rule."""

    name = "raw"
    summary = "the hits of one batch, as they came"
    is_exact = True
    params_spec = ()

    def __init__(self, real: Strategy) -> None:
        super().__init__()
        self.real = real
        self.params = real.params
        self.hits: dict[str, list[float]] = {}

    @classmethod
    def of(cls, real: Strategy) -> RawHits:
        """A delta named like `real` (replay checks compare the strategy's name)."""
        named: type[RawHits] = type(f"Raw{type(real).__name__}", (cls,), {"name": real.name})
        return named(real)

    def retention_s(self) -> float:
        """The real strategy's retention."""
        return self.real.retention_s()

    def prune_grid_s(self) -> float:
        """The real strategy's pruning grid."""
        return self.real.prune_grid_s()

    def late_mask(
        self, timestamps: npt.NDArray[np.float64], horizons: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """The real strategy's rule."""
        return self.real.late_mask(timestamps, horizons)

    def record(self, endpoint: str, ts: float) -> bool:
        """Keep one hit unless the real strategy would refuse it."""
        import numpy as np

        if self.real.late_mask(np.array([ts]), np.array([self.horizon]))[0]:
            return False
        self.hits.setdefault(endpoint, []).append(ts)
        return True

    def record_array(self, endpoint: str, timestamps: npt.NDArray[np.float64]) -> int:
        """Keep a batch of (already checked) hits."""
        self.hits.setdefault(endpoint, []).extend(timestamps.tolist())
        return len(timestamps)

    def prune(self, horizon: float) -> dict[str, int]:
        """Move the horizon; the store prunes what it holds when the batch is applied."""
        self.horizon = max(self.horizon, horizon)
        return {}

    def query(self, endpoint: str, start: float, end: float, clock: float) -> WindowAnswer:
        """Not answerable: a delta is only shipped."""
        raise NotImplementedError("a batch of raw hits answers no query")

    def endpoints(self) -> Iterable[str]:
        """Endpoints with hits in the batch."""
        return self.hits.keys()

    def totals(self) -> dict[str, int]:
        """Hits per endpoint in the batch."""
        return {endpoint: len(times) for endpoint, times in self.hits.items()}

    def memory_entries(self) -> int:
        """Hits held."""
        return sum(len(times) for times in self.hits.values())

    def state_bytes(self) -> int:
        """Eight bytes a hit."""
        return 8 * self.memory_entries()

    def to_state(self) -> dict[str, Any]:
        """The raw hits."""
        return {"hits": self.hits}

    def load_state(self, raw: bytes) -> None:
        """Never loaded."""
        raise NotImplementedError("a batch of raw hits is never loaded")


class DocumentLayout(Layout):
    """Any strategy, one JSON document per endpoint (its state restricted to it)."""

    needs_current = True

    def __init__(self, strategy_name: str, params: Mapping[str, float | int]) -> None:
        self.strategy_name = strategy_name
        super().__init__(params)
        self._entries: tuple[Strategy, dict[str, int]] | None = None

    def new_delta(self, horizon: float) -> Strategy:
        """Raw hits, refused or kept as the real strategy would."""
        real = get_strategy(self.strategy_name)(**self.params)
        real.horizon = horizon
        delta = RawHits.of(real)
        delta.horizon = horizon
        return delta

    def applied(
        self, current: bytes | None, delta: Strategy, endpoint: str
    ) -> tuple[str, int, int]:
        """The endpoint's new document ("" when nothing is left), its entries, and the
        entries pruned."""  # noqa: D205, D209
        assert isinstance(delta, RawHits)
        strategy = get_strategy(self.strategy_name)(**self.params)
        strategy.horizon = delta.real.horizon
        if current:
            strategy.load_state(current)
        hits = delta.hits.get(endpoint, [])
        self.refused[endpoint] = len(hits) - strategy.record_many(endpoint, hits)  # arrival order
        pruned = 0
        if math.isfinite(delta.horizon):
            pruned = sum(strategy.prune(delta.horizon).values())
        if endpoint not in set(strategy.endpoints()):
            return "", 0, pruned
        document = json.dumps(restrict(strategy.to_state(), endpoint, {endpoint}))
        return document, strategy.memory_entries(), pruned

    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: bytes | None = None,
    ) -> None:
        """Write the endpoint's new document (computed from `current`), or delete it."""
        document, entries, pruned = self.applied(current, delta, endpoint)
        if document:
            pipe.hset(key, mapping={"doc": document, "entries": entries})
        else:
            pipe.delete(key)
        self.pruned[key] = pruned

    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """The whole document (the strategy answers from it)."""
        pipe.hget(key, "doc")

    def state_part(self, replies: list[Any]) -> Any:
        """The endpoint's restricted state."""
        return json.loads(replies[0]) if replies[0] else None

    def state_document(
        self, parts: Mapping[str, Any], extras: Mapping[str, float] | None = None
    ) -> dict[str, Any]:
        """The per-endpoint states combined into one (on an empty strategy's, for its shape)."""
        empty = get_strategy(self.strategy_name)(**self.params).to_state()
        return dict(combine([empty, *parts.values()]))

    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """Write the endpoint's restricted state, and its entries."""
        names = set(strategy.endpoints())
        document = json.dumps(restrict(self.state_of(strategy), endpoint, names))
        entries = self._entries_of(strategy).get(endpoint, 0)
        pipe.hset(key, mapping={"doc": document, "entries": entries})

    def _entries_of(self, strategy: Strategy) -> dict[str, int]:
        """Entries per endpoint: the strategy's own count on a one-endpoint copy."""
        if self._entries is None or self._entries[0] is not strategy:
            counts = {}
            state = self.state_of(strategy)
            names = set(strategy.endpoints())
            for endpoint in names:
                alone = get_strategy(self.strategy_name)(**self.params)
                alone.load_state(json.dumps(restrict(state, endpoint, names)).encode())
                counts[endpoint] = alone.memory_entries()
            self._entries = (strategy, counts)
        return self._entries[1]

    def queue_size(self, pipe: Any, key: str) -> None:
        """The entries the endpoint's document holds."""
        pipe.hget(key, "entries")


def restrict(state: Any, endpoint: str, names: set[str]) -> Any:
    """`state` keeping only `endpoint`: maps keyed by endpoint names, and lists of names."""
    if isinstance(state, dict):
        if state and all(key in names for key in state):
            return {endpoint: state[endpoint]} if endpoint in state else {}
        return {key: restrict(value, endpoint, names) for key, value in state.items()}
    if isinstance(state, list) and state and all(isinstance(item, str) for item in state):
        return [endpoint] if endpoint in state else []
    return state


def combine(states: Sequence[Any]) -> Any:
    """Restricted states of different endpoints put back together (the later time wins)."""
    if not states:
        return {}
    first = states[0]
    if isinstance(first, dict):
        keys = {key: None for state in states for key in state}
        return {key: combine([s[key] for s in states if key in s]) for key in keys}
    if isinstance(first, list) and all(isinstance(s, list) for s in states):
        if any(item for s in states for item in s if not isinstance(item, str)):
            return first  # one endpoint's own list (e.g. its buckets): never shared
        return sorted({item for s in states for item in s})
    numbers = [s for s in states if isinstance(s, (int, float)) and not isinstance(s, bool)]
    return max(numbers) if numbers and len(numbers) == len(states) else first

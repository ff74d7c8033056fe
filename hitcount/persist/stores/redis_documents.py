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
from collections.abc import Mapping
from typing import Any

from hitcount.persist.stores.document_parts import combine, restrict
from hitcount.persist.stores.redis_checks import DamagedValueError
from hitcount.persist.stores.redis_delta import RawHits
from hitcount.persist.stores.redis_layout import Change, ReadModifyWriteLayout, as_kind, reply
from hitcount.persist.stores.redis_scripts import Scripts
from hitcount.strategies.base import Strategy


class DocumentLayout(ReadModifyWriteLayout):
    """Any strategy, one JSON document per endpoint (its state restricted to it)."""

    def __init__(
        self, strategy_name: str, params: Mapping[str, float | int], scripts: Scripts | None
    ) -> None:
        self.strategy_name = strategy_name
        super().__init__(params, scripts)
        self._state: tuple[Strategy, dict[str, Any]] | None = None
        self._entries: tuple[Strategy, dict[str, int]] | None = None

    def new_delta(self, horizon: float, extras: Mapping[str, float] | None = None) -> Strategy:
        """Raw hits, refused or kept as the real strategy would."""
        return RawHits.of(self.empty(), horizon)

    def queue_read_current(self, pipe: Any, key: str) -> None:
        """The document."""
        pipe.hget(key, "doc")

    def applied(self, current: Any, delta: Strategy, endpoint: str) -> Change:
        """The endpoint's new document ("" when nothing is left) and its entries."""
        raw = as_kind(delta, RawHits)
        strategy = self.empty()
        if reply(current):  # as written: appends since may have moved the horizon past it
            strategy.load_state(current)
        pruned = 0
        if math.isfinite(raw.real.horizon):  # what the stored horizon has left behind
            pruned = sum(strategy.prune(raw.real.horizon).values())
        strategy.horizon = max(strategy.horizon, raw.real.horizon)
        hits = raw.hits.get(endpoint, [])
        self.refused[endpoint] = len(hits) - strategy.record_many(endpoint, hits)  # arrival order
        if (drain := getattr(strategy, "drain_switches", None)) is not None:
            self.switched.extend(drain())
        if math.isfinite(raw.horizon):
            pruned += sum(strategy.prune(raw.horizon).values())
        if endpoint not in set(strategy.endpoints()):
            return Change(("", 0), pruned)
        document = json.dumps(restrict(strategy.to_state(), endpoint, {endpoint}))
        return Change((document, strategy.memory_entries()), pruned)

    def queue_set(self, pipe: Any, key: str, change: Change) -> None:
        """Write the document and its entries, or delete the key."""
        document, entries = change.value
        if document:
            pipe.hset(key, mapping={"doc": document, "entries": entries})
        else:
            pipe.delete(key)

    def queue_compare_and_set(self, pipe: Any, key: str, current: Any, change: Change) -> None:
        """`document_set`: the new document, if the key still holds the one read."""
        document, entries = change.value
        self.run_script(pipe, "document_set", key, [current or b"", document, entries])

    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """The whole document (the strategy answers from it)."""
        pipe.hget(key, "doc")

    def state_part(self, replies: list[Any]) -> Any:
        """The endpoint's restricted state."""
        raw = reply(replies[0])
        if not raw:
            return None
        self.empty().load_state(raw)  # checked as a snapshot's state is (StateError)
        part = json.loads(raw)
        if not isinstance(part, dict):
            raise DamagedValueError("the document is not a JSON object")
        return part

    def state_document(
        self,
        parts: Mapping[str, Any],
        extras: Mapping[str, float] | None = None,
        horizon: float = -math.inf,
    ) -> dict[str, Any]:
        """The per-endpoint states combined into one (on an empty strategy's, for its shape),
        pruned to `horizon` (see `Layout.state_document`)."""  # noqa: D205, D209
        empty = self.empty().to_state()
        combined = dict(combine([empty, *parts.values()]))
        if not math.isfinite(horizon):
            return combined
        strategy = self.empty()
        strategy.load_state(json.dumps(combined).encode())
        strategy.prune(horizon)
        return strategy.to_compact_state()

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
                alone = self.empty()
                alone.load_state(json.dumps(restrict(state, endpoint, names)).encode())
                counts[endpoint] = alone.memory_entries()
            self._entries = (strategy, counts)
        return self._entries[1]

    def state_of(self, strategy: Strategy) -> dict[str, Any]:
        """`strategy.to_state()`, built once for the many endpoints of one save."""
        if self._state is None or self._state[0] is not strategy:
            self._state = (strategy, strategy.to_state())
        return self._state[1]

    def queue_size(self, pipe: Any, key: str) -> None:
        """The entries the endpoint's document holds."""
        pipe.hget(key, "entries")

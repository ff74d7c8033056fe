"""The Redis form of one strategy's per-endpoint state: the interface every layout keeps.

A layout turns a local strategy holding only the new hits (the delta) into commands, and
turns what Redis holds back into a strategy, through the strategy's typed per-endpoint
methods (`strategies/capabilities.py`), never through its private state. Times are the
log's, never the server's: nothing expires by TTL, pruning follows the replay clock.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hitcount.persist.stores.redis_scripts import Scripts
from hitcount.strategies import get_strategy
from hitcount.strategies.base import Strategy

_T = TypeVar("_T")


def as_kind(strategy: Strategy, kind: type[_T]) -> _T:
    """`strategy`, checked to offer `kind` (a capability or a strategy class)."""
    if not isinstance(strategy, kind):
        raise TypeError(f"the {strategy.name} strategy is not a {kind.__name__}")
    return strategy


class Layout(ABC):
    """The Redis form of one strategy's per-endpoint state."""

    #: The strategy this layout stores.
    strategy_name: str
    #: Whether `queue_add` needs the key's current value (a read-modify-write layout).
    needs_current = False
    #: How many commands `queue_read` queues per endpoint.
    reads_per_endpoint = 1
    #: What a key written by native commands holds, checked (`check.lua`) before a batch is
    #: written: its type, and a Lua pattern of a hash's fields (None: nothing to check, as
    #: for a layout that `needs_current`: it reads and checks the keys itself).
    key_type: str | None = None
    field_pattern = ""
    #: Whether the strategy's entries expire at the horizon (a sweep prunes untouched keys).
    prunes = True

    def __init__(self, params: Mapping[str, float | int], scripts: Scripts | None) -> None:
        self.params = dict(params)
        self.scripts = scripts
        #: Outcomes of a read-modify-write layout's `queue_add`s in the current batch:
        #: entries pruned per key, and hits per endpoint the stored state refused (late for
        #: it: older than what it already summarizes). Native layouts leave them empty.
        self.pruned: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        #: Endpoints an adaptive strategy's copy switched in the current batch (`auto`).
        self.switched: list[tuple[str, float]] = []
        #: The state's lateness allowance: what `empty` strategies keep (see `allow_lateness`).
        self.lateness_s = 0.0

    def batch_endpoints(self, delta: Strategy) -> list[str]:
        """The endpoints a batch of `delta` writes, sorted."""
        return sorted(delta.endpoints())

    def shortest_retention(self, clock: float, horizon: float) -> float:
        """How long the shortest-kept entries live (inf: nothing expires)."""
        return clock - horizon if self.prunes and math.isfinite(horizon) else math.inf

    def start_batch(self) -> None:
        """Forget the outcomes of the previous batch (or of a batch being retried)."""
        self.pruned, self.refused, self.switched = {}, {}, []

    def use_writer(self, number: int) -> None:  # noqa: B027 - most layouts draw nothing
        """This layout writes for the `number`-th writer of the state (random draws differ)."""

    def empty(self) -> Strategy:
        """A new, empty strategy of this layout's kind and parameters."""
        strategy = get_strategy(self.strategy_name)(**self.params)
        strategy.allow_lateness(self.lateness_s)
        return strategy

    def new_delta(self, horizon: float, extras: Mapping[str, float] | None = None) -> Strategy:
        """An empty local strategy that gathers the hits of one batch (`extras`: the meta
        hash's strategy-wide fields, for a layout whose deltas depend on them)."""  # noqa: D205, D209
        strategy = self.empty()
        strategy.horizon = horizon
        return strategy

    def run_script(self, pipe: Any, name: str, key: str, args: list[Any]) -> None:
        """Queue the Lua script `name` (by SHA) on `pipe`, for one key."""
        if self.scripts is None:
            raise RuntimeError("this layout was opened for reading only")
        self.scripts.run(name, [key], [_argument(arg) for arg in args], on=pipe)

    @abstractmethod
    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: Any = None,
    ) -> None:
        """Queue the commands adding `delta`'s hits of `endpoint`, then pruning to `horizon`.

        The reply of the last command queued is the number of entries pruned (except for
        a layout that `needs_current`: the key's value, read before, is `current`, and
        the entries pruned go to `pruned`).
        """

    @abstractmethod
    def queue_read(self, pipe: Any, key: str, since: float) -> None:
        """Queue the reads of what a window starting at `since` needs."""

    @abstractmethod
    def state_part(self, replies: list[Any]) -> Any:
        """One endpoint's state from its replies (None: no state)."""

    def state_document(
        self,
        parts: Mapping[str, Any],
        extras: Mapping[str, float] | None = None,
        horizon: float = -math.inf,
    ) -> dict[str, Any]:
        """The strategy's state document (`load_state` reads it) from per-endpoint parts,
        pruned to `horizon`: an append prunes only the endpoints it touches, so another's
        key may still hold what the horizon has since left behind."""  # noqa: D205, D209
        strategy = self.empty()
        for endpoint, part in parts.items():
            self.put(strategy, endpoint, part)
        self.restore_extras(strategy, extras or {})
        if math.isfinite(horizon):
            self.prune_read(strategy, horizon)
        return strategy.to_compact_state()

    def prune_read(self, strategy: Strategy, horizon: float) -> None:
        """Drop from a state read back what the stored `horizon` has left behind."""
        strategy.prune(horizon)

    def put(self, strategy: Strategy, endpoint: str, part: Any) -> None:
        """Give `strategy` one endpoint's part, as `state_part` read it."""
        raise NotImplementedError(f"{type(self).__name__} builds its document itself")

    def restore_extras(  # noqa: B027 - most strategies have no strategy-wide times
        self, strategy: Strategy, extras: Mapping[str, float]
    ) -> None:
        """Give `strategy` the strategy-wide times the meta hash kept (see `extras_of`)."""

    def extras_of(self, strategy: Strategy) -> dict[str, float]:
        """Strategy-wide times of its state that the meta hash keeps (`x:` fields)."""
        return {}

    @abstractmethod
    def queue_write(self, pipe: Any, key: str, strategy: Strategy, endpoint: str) -> None:
        """Queue writing `endpoint`'s whole state (a key that does not exist yet)."""

    @abstractmethod
    def queue_size(self, pipe: Any, key: str) -> None:
        """Queue reading how many entries the key holds."""


def reply(value: Any) -> Any:
    """A reply of a pipeline run with `raise_on_error=False`; an error reply is raised."""
    if isinstance(value, Exception):
        raise value
    return value


def _argument(value: Any) -> bytes | str:
    return value if isinstance(value, (bytes, str)) else str(value)


@dataclass(frozen=True)
class Change:
    """A read-modify-write layout's new value for one key, computed from its current one."""

    #: What the key will hold (the layout's own form; falsy: delete the key).
    value: Any
    #: Entries the change pruned.
    pruned: int = 0


class ReadModifyWriteLayout(Layout):
    """A layout whose batches are applied in Python to the key's current value.

    On a single server the reads are WATCHed and the writes go in the batch's MULTI/EXEC,
    so a concurrent change makes the batch retry; on a cluster each key is written by a
    compare-and-set script and retried alone. No update is lost either way.
    """

    needs_current = True

    @abstractmethod
    def queue_read_current(self, pipe: Any, key: str) -> None:
        """Queue the read of the key's current value (the `current` of `applied`)."""

    @abstractmethod
    def applied(self, current: Any, delta: Strategy, endpoint: str) -> Change:
        """The key's new value: `delta`'s hits of `endpoint` applied to `current`."""

    @abstractmethod
    def queue_set(self, pipe: Any, key: str, change: Change) -> None:
        """Queue writing `change` (inside the batch's transaction)."""

    @abstractmethod
    def queue_compare_and_set(self, pipe: Any, key: str, current: Any, change: Change) -> None:
        """Queue writing `change` only if the key still holds `current` (reply 1, else 0)."""

    def queue_add(
        self,
        pipe: Any,
        key: str,
        delta: Strategy,
        endpoint: str,
        horizon: float,
        current: Any = None,
    ) -> None:
        """Write the key's new value, computed from `current`."""
        change = self.applied(current, delta, endpoint)
        self.queue_set(pipe, key, change)
        self.pruned[key] = change.pruned

"""Events: named notifications delivered synchronously, in order, to subscribers.

Producers call `bus.wants(name)` before building a payload, so with nobody listening an
event costs one dict lookup and no allocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from hitcount.errors import ConfigurationError

HIT_RECORDED = "hit_recorded"
PRUNED = "pruned"
STRATEGY_SWAPPED = "strategy_swapped"
STRATEGY_RESET = "strategy_reset"
SNAPSHOT_TAKEN = "snapshot_taken"
SNAPSHOT_RESTORED = "snapshot_restored"
METRICS_UPDATED = "metrics_updated"
THRESHOLD_EXCEEDED = "threshold_exceeded"
THRESHOLD_CLEARED = "threshold_cleared"
LATE_DROPPED = "late_dropped"
ENDPOINT_SWITCHED = "endpoint_switched"

#: Every event name hitcount emits, with the payload fields each carries.
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    HIT_RECORDED: ("endpoint", "ts"),
    PRUNED: ("endpoint", "removed"),
    STRATEGY_SWAPPED: ("old", "new"),
    STRATEGY_RESET: ("from", "to", "reason"),
    SNAPSHOT_TAKEN: ("endpoints_count",),
    SNAPSHOT_RESTORED: (),
    METRICS_UPDATED: ("total_hits", "memory_entries"),
    THRESHOLD_EXCEEDED: ("endpoint", "count", "limit", "window", "ts", "rule"),
    THRESHOLD_CLEARED: ("endpoint", "count", "limit", "window", "ts", "rule"),
    LATE_DROPPED: ("endpoint", "ts", "horizon"),
    ENDPOINT_SWITCHED: ("endpoint", "to"),
}
#: Subscribe to this name to receive every event.
#: The events a state remembers for `hitcount events` (per-hit and per-prune ones would
#: crowd out the rest; pruning is counted in `metrics.pruned_events` instead).
REMEMBERED = (
    ENDPOINT_SWITCHED,
    STRATEGY_SWAPPED,
    STRATEGY_RESET,
    SNAPSHOT_TAKEN,
    SNAPSHOT_RESTORED,
    THRESHOLD_EXCEEDED,
    THRESHOLD_CLEARED,
)
ALL = "*"


class Event(msgspec.Struct, frozen=True):
    """One event: its name, its payload and the replay-clock time it happened at."""

    name: str
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    clock: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict: `{"event": name, "clock": ..., **payload}`."""
        return {"event": self.name, "clock": self.clock, **self.payload}


Handler = Callable[[Event], None]


class EventBus:
    """Delivers events to the handlers subscribed to their name (or to `ALL`)."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def subscribe(self, name: str, handler: Handler) -> Callable[[], None]:
        """Call `handler(event)` for each event called `name` (or every event for `ALL`).

        Returns:
            A function that removes this subscription.

        Raises:
            ConfigurationError: `name` is not a known event name nor `ALL`.
        """
        if name != ALL and name not in EVENT_FIELDS:
            known = ", ".join(sorted(EVENT_FIELDS))
            raise ConfigurationError(f"unknown event {name!r}", hint=f"known events: {known}")
        self._handlers.setdefault(name, []).append(handler)
        return lambda: self._unsubscribe(name, handler)

    def _unsubscribe(self, name: str, handler: Handler) -> None:
        handlers = self._handlers.get(name, [])
        if handler in handlers:
            handlers.remove(handler)

    def wants(self, name: str) -> bool:
        """Whether anybody listens to `name`; check before building a payload."""
        return bool(self._handlers.get(name) or self._handlers.get(ALL))

    def emit(self, name: str, payload: dict[str, Any], clock: float | None = None) -> None:
        """Deliver one event to its subscribers, in subscription order."""
        targets = self._handlers.get(name, []) + self._handlers.get(ALL, [])
        if not targets:
            return
        event = Event(name, payload, clock)
        for handler in targets:
            handler(event)

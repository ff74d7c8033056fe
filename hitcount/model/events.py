"""Events: named notifications delivered synchronously, in order, to subscribers.

Producers call `bus.wants(name)` before building a payload, so with nobody listening an
event costs one dict lookup and no allocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from hitcount.errors import ConfigurationError
from hitcount.model.event_names import (
    ENDPOINT_SWITCHED as ENDPOINT_SWITCHED,
)
from hitcount.model.event_names import (
    EVENT_FIELDS as EVENT_FIELDS,
)
from hitcount.model.event_names import (  # re-exported: the bus's names
    HIT_RECORDED as HIT_RECORDED,
)
from hitcount.model.event_names import (
    LATE_DROPPED as LATE_DROPPED,
)
from hitcount.model.event_names import (
    METRICS_UPDATED as METRICS_UPDATED,
)
from hitcount.model.event_names import (
    PRUNED as PRUNED,
)
from hitcount.model.event_names import (
    REMEMBERED as REMEMBERED,
)
from hitcount.model.event_names import (
    SNAPSHOT_RESTORED as SNAPSHOT_RESTORED,
)
from hitcount.model.event_names import (
    SNAPSHOT_TAKEN as SNAPSHOT_TAKEN,
)
from hitcount.model.event_names import (
    STRATEGY_RESET as STRATEGY_RESET,
)
from hitcount.model.event_names import (
    STRATEGY_SWAPPED as STRATEGY_SWAPPED,
)
from hitcount.model.event_names import (
    THRESHOLD_CLEARED as THRESHOLD_CLEARED,
)
from hitcount.model.event_names import (
    THRESHOLD_EXCEEDED as THRESHOLD_EXCEEDED,
)

#: Subscribe to this name to receive every event.
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
            ConfigurationError: `name` is not a known event name nor `ALL`, or `handler` is
                not callable.
        """
        if not callable(handler):
            raise ConfigurationError(
                f"handler must be callable, got {type(handler).__name__}", param="handler"
            )
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

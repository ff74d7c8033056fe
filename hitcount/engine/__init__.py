"""The engine: `HitCounter` (record, prune, swap, clock, metrics, events), queries, alerts."""

from hitcount.engine.counter import (
    DEFAULT_MAX_LATENESS_S,
    RECENT_EVENTS,
    HitCounter,
    default_counter,
)
from hitcount.engine.queries import DistinctResult, QueryResult

__all__ = [
    "DEFAULT_MAX_LATENESS_S",
    "RECENT_EVENTS",
    "DistinctResult",
    "HitCounter",
    "QueryResult",
    "default_counter",
]

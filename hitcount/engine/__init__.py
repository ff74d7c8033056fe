"""The engine: `HitCounter` (record, prune, swap, clock, metrics, events), queries, alerts.

The names below are imported from their modules when first asked for (PEP 562), so a
module that needs only `engine.queries` or `engine.ranking` (rendering an answer) does not
load the counter, its alerts and swaps (start-up time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hitcount.model.lazy import lazy_names

if TYPE_CHECKING:
    from hitcount.engine.counter import DEFAULT_MAX_LATENESS_S, HitCounter, default_counter
    from hitcount.engine.queries import RECENT_EVENTS, DistinctResult, QueryResult

#: Each public name and the module it lives in.
_HOMES = {
    "DEFAULT_MAX_LATENESS_S": "hitcount.engine.counter",
    "RECENT_EVENTS": "hitcount.engine.queries",
    "HitCounter": "hitcount.engine.counter",
    "default_counter": "hitcount.engine.counter",
    "DistinctResult": "hitcount.engine.queries",
    "QueryResult": "hitcount.engine.queries",
}


__getattr__ = lazy_names(__name__, _HOMES)


__all__ = [
    "DEFAULT_MAX_LATENESS_S",
    "RECENT_EVENTS",
    "DistinctResult",
    "HitCounter",
    "QueryResult",
    "default_counter",
]

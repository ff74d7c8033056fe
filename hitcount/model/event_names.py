"""The events hitcount emits: their names, each one's payload fields, those a state remembers.

Plain data, apart from the event bus (`events.py`): a state's remembered events are checked
against it on every load, a query's included.
"""

from __future__ import annotations

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

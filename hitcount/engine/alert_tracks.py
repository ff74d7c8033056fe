"""Saved alert tracks checked field by field (loading a state needs this, not the alerts).

A state that watched `--alert` rules keeps each rule's track (`Alerts.to_state`); every load
checks them, also a read-only one that never runs a rule.
"""

from __future__ import annotations

import math
from typing import Any


def checked_tracks(items: Any) -> list[dict[str, Any]]:
    """Saved alert tracks (`Alerts.to_state`), checked field by field.

    Raises:
        ValueError: not a list of tracks of that shape.
    """
    if not isinstance(items, list):
        raise ValueError("alerts must be a list")
    for item in items:
        if not isinstance(item, dict) or set(item) != _TRACK_FIELDS:
            raise ValueError(f"an alert track must have the fields {sorted(_TRACK_FIELDS)}")
        recent, quiet = item["recent"], item["quiet_from"]
        good = (
            isinstance(item["rule"], str)
            and isinstance(item["endpoint"], str)
            and isinstance(item["firing"], bool)
            and isinstance(recent, list)
            and all(_finite(ts) for ts in recent)
            and (quiet is None or _finite(quiet))
        )
        if not good:
            raise ValueError(f"alert track for {item.get('endpoint')!r} is damaged")
    return list(items)


_TRACK_FIELDS = frozenset({"rule", "endpoint", "recent", "firing", "quiet_from"})


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

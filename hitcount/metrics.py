"""Counters about the counting itself: hits, bad lines, pruning, lateness."""

from __future__ import annotations

from typing import Any

import msgspec


class Metrics(msgspec.Struct, forbid_unknown_fields=True):
    """Running totals, saved with the state and restored with a snapshot.

    Attributes:
        total_hits: hits accepted (every strategy counts these exactly).
        bad_lines: input lines rejected as malformed.
        late_hits: hits that arrived after their time had been pruned; not counted.
        pruned_events: entries (timestamps, buckets) removed by pruning.
        lines_read: input lines read, good or bad.
    """

    total_hits: int = 0
    bad_lines: int = 0
    late_hits: int = 0
    pruned_events: int = 0
    lines_read: int = 0

    def check(self) -> None:
        """Raise ValueError when a counter is negative or absurd."""
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if not 0 <= value < 2**63:
                raise ValueError(f"metric {name} out of range: {value}")

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict."""
        return msgspec.structs.asdict(self)

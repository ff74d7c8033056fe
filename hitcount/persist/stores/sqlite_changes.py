"""What changed in a loaded counter since its last save: the endpoints a SQLite save writes.

A `Changes` watches the counter (a hit observer, and a subscriber to its `pruned` events) and
notes every endpoint a hit reached (kept or late: a superset is safe) or a prune cut. A save
of a layout that tracks changes (`SqliteLayout.write_changed`) then reads and writes only
those endpoints' rows, so a `--follow` commit or an append costs what it added, whatever
the size of the state.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hitcount.model import events as ev

if TYPE_CHECKING:
    from hitcount.engine import HitCounter


class Changes:
    """The endpoints hit or pruned since the counter was loaded or last saved."""

    def __init__(self, tracker: Any = None) -> None:
        self.endpoints: set[str] = set()
        #: The distinct-users tracker watched (None: off), its precision, and the
        #: (endpoint, bucket) sketches hits may have reached (both bucket edge rules).
        self.tracker = tracker
        self.precision = None if tracker is None else tracker.precision
        self.keys: set[tuple[str, int]] = set()
        #: The tracker's pruning horizon when the sketches were last written.
        self.horizon = -math.inf if tracker is None else tracker.horizon

    @classmethod
    def watch(cls, counter: HitCounter) -> Changes:
        """A `Changes` shown every hit and prune of `counter` from now on."""
        changes = cls(counter.distinct)
        counter.observe_hits(changes)
        counter.subscribe(ev.PRUNED, changes.pruned)
        return changes

    def observe(self, endpoint: str, ts: float) -> None:
        """One hit."""
        self.endpoints.add(endpoint)
        if self.tracker is not None:
            width = self.tracker.bucket_s
            self.keys.add((endpoint, math.floor(ts / width)))
            self.keys.add((endpoint, math.ceil(ts / width) - 1))

    def observe_columns(self, names: list[str], codes: Any, stamps: Any) -> None:
        """A batch: the names its codes use."""
        import numpy as np  # loaded already: batches are numpy columns

        from hitcount.model.columns import sorted_distinct  # np.unique would load numpy.ma

        used = np.bincount(codes, minlength=len(names)).nonzero()[0]
        self.endpoints.update(names[code] for code in used.tolist())
        if self.tracker is None or not len(codes):
            return
        scaled = stamps / self.tracker.bucket_s
        buckets = np.concatenate([np.floor(scaled), np.ceil(scaled) - 1]).astype(np.int64)
        low = int(buckets.min())
        span = int(buckets.max()) - low + 1
        pairs = sorted_distinct(
            np.concatenate([codes, codes]).astype(np.int64) * span + buckets - low
        )
        self.keys.update((names[key // span], low + key % span) for key in pairs.tolist())

    def pruned(self, event: Any) -> None:
        """A `pruned` event: its endpoint lost entries."""
        self.endpoints.add(event.payload["endpoint"])

    def sketch_keys(self, counter: HitCounter) -> set[tuple[str, int]] | None:
        """The sketches noted so far (None: the counter's tracker was replaced or folded,
        so every sketch may have changed)."""  # noqa: D205, D209
        tracker = counter.distinct
        if tracker is not self.tracker or (tracker and tracker.precision != self.precision):
            return None
        return self.keys

    def take(self) -> set[str]:
        """The endpoints noted so far; the next ones (and sketches) are noted afresh."""
        taken, self.endpoints, self.keys = self.endpoints, set(), set()
        if self.tracker is not None:
            self.horizon = self.tracker.horizon
        return taken

"""What changed in a loaded counter since its last save: the endpoints a SQLite save writes.

A `Changes` watches the counter (a hit observer, and a subscriber to its `pruned` events) and
notes every endpoint a hit reached (kept or late: a superset is safe) or a prune cut. A save
of a layout that tracks changes (`SqliteLayout.write_changed`) then reads and writes only
those endpoints' rows, so a `--follow` commit or an append costs what it added, whatever
the size of the state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hitcount.model import events as ev

if TYPE_CHECKING:
    from hitcount.engine import HitCounter


class Changes:
    """The endpoints hit or pruned since the counter was loaded or last saved."""

    def __init__(self) -> None:
        self.endpoints: set[str] = set()

    @classmethod
    def watch(cls, counter: HitCounter) -> Changes:
        """A `Changes` shown every hit and prune of `counter` from now on."""
        changes = cls()
        counter.observe_hits(changes)
        counter.subscribe(ev.PRUNED, changes.pruned)
        return changes

    def observe(self, endpoint: str, ts: float) -> None:
        """One hit."""
        self.endpoints.add(endpoint)

    def observe_columns(self, names: list[str], codes: Any, stamps: Any) -> None:
        """A batch: the names its codes use."""
        import numpy as np  # loaded already: batches are numpy columns

        used = np.bincount(codes, minlength=len(names)).nonzero()[0]
        self.endpoints.update(names[code] for code in used.tolist())

    def pruned(self, event: Any) -> None:
        """A `pruned` event: its endpoint lost entries."""
        self.endpoints.add(event.payload["endpoint"])

    def take(self) -> set[str]:
        """The endpoints noted so far; the next ones are noted afresh."""
        taken, self.endpoints = self.endpoints, set()
        return taken

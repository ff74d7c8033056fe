"""`replay --append` into SQLite at the cost of what it adds, not of what the state holds.

The replay runs into a counter loaded without its data (the header: clock, horizon,
metrics, lateness, distinct-users sketches, recent events), so its strategy holds only the
new hits: the delta. The save is one transaction: the delta's rows are added (a new chunk
of timestamps per endpoint, or bucket counts added in place once the chunks holding those
buckets are taken out), the rows the new horizon leaves behind are deleted and counted as
pruned, and the header is rewritten. Writers take turns under the store's lock for the
whole append, so none is lost.

Strategies kept natively by adding rows (`sliding`, `fixed`) take this path; the others,
and states with an endpoint cap, are appended whole (`updating`).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hitcount.engine import HitCounter
from hitcount.errors import StateError
from hitcount.persist.document import from_bytes
from hitcount.persist.state import signals_deferred
from hitcount.persist.stores.base import HEADER_ONLY
from hitcount.persist.stores.sqlite import SqliteStore
from hitcount.persist.stores.sqlite_bucket_chunks import (
    held_before,
    prune_bucket_chunks,
    release,
)
from hitcount.persist.stores.sqlite_documents import layout_for
from hitcount.persist.stores.sqlite_layouts import SlidingLayout
from hitcount.persist.stores.sqlite_sketches import append_sketches
from hitcount.persist.stores.sqlite_versions import meta_json, strategy_spec
from hitcount.strategies.base import Strategy
from hitcount.strategies.capabilities import KeepsBuckets, KeepsTimestamps

#: Strategies whose appends add rows (the rest are appended whole).
ADDS_ROWS = frozenset({"sliding", "fixed"})


def appends_rows(store: SqliteStore) -> bool:
    """Whether an append to `store` can add rows (a sliding or fixed state, no endpoint cap)."""
    meta = store.header()
    if meta is None:
        return False
    with store.errors("reading the state"):  # a damaged row names the file
        name = strategy_spec(meta)["name"]
        return name in ADDS_ROWS and not meta_json(meta, "max_endpoints", "null")


@contextmanager
def appending(
    store: SqliteStore, on_saved: Callable[[], None] | None = None
) -> Iterator[HitCounter]:
    """A counter holding the saved header and no data; its hits are added when the block ends.

    Nothing is written when the block raises. Ctrl-C and SIGTERM wait until the write and
    `on_saved` are done.

    Raises:
        StateError: the state was replaced by one that cannot take rows (retry the append).
    """
    with store.locked():
        if not appends_rows(store):
            raise StateError(
                f"{store.describe()}: the state changed while the append started",
                hint="run the same command again",
            )
        data = store.load_scoped(HEADER_ONLY)
        assert data is not None
        counter = from_bytes(data, store.describe())
        adder = RowAdder(counter)
        yield counter
        with signals_deferred():
            store.write_rows(counter, adder)
            if on_saved is not None:
                on_saved()


class RowAdder:
    """Adds a delta strategy's rows and prunes the stored ones, inside a transaction."""

    def __init__(self, counter: HitCounter) -> None:
        self.counter = counter
        self.delta: Strategy = counter.strategy
        if isinstance(self.delta, KeepsBuckets):  # what it prunes may be stored too: count once
            self.delta.pruned_buckets = {}
        self.start_horizon = self.delta.horizon
        tracker = counter.distinct
        self.start_distinct = tracker.horizon if tracker is not None else -math.inf

    def _pruning(self) -> bool:
        """Whether the horizon moved during the append (else no stored row is older)."""
        return math.isfinite(self.delta.horizon) and self.delta.horizon > self.start_horizon

    def __call__(self, db: sqlite3.Connection) -> int:
        """Add the delta's rows, then prune to its horizon; the stored entries pruned."""
        self._add_sketches(db)
        if isinstance(self.delta, KeepsTimestamps):
            return self._add_timestamps(db, self.delta)
        if isinstance(self.delta, KeepsBuckets):
            return self._add_buckets(db, self.delta)
        raise TypeError(f"the {self.delta.name} strategy is not appended by rows")

    def _add_sketches(self, db: sqlite3.Connection) -> None:
        """Merge the new distinct-users sketches into the stored ones; drop the pruned."""
        tracker = self.counter.distinct
        if tracker is not None:
            append_sketches(db, tracker, self.start_distinct)

    def _add_timestamps(self, db: sqlite3.Connection, delta: KeepsTimestamps) -> int:
        layout = layout_for(self.delta.name, self.delta.params)
        assert isinstance(layout, SlidingLayout)
        pruned = layout.prune_rows(db, self.delta.horizon) if self._pruning() else 0
        layout.add_merged(db, {e: delta.timestamps(e) for e in self.delta.endpoints()})
        return pruned

    def _add_buckets(self, db: sqlite3.Connection, delta: KeepsBuckets) -> int:
        rows = [
            (endpoint, bucket, count)
            for endpoint in self.delta.endpoints()
            for bucket, count in delta.bucket_counts(endpoint).items()
        ]
        release(db, [(endpoint, 0, bucket) for endpoint, bucket, _ in rows])
        db.executemany(
            "INSERT INTO buckets VALUES (?, 0, ?, ?) ON CONFLICT (endpoint, tier, bucket)"
            " DO UPDATE SET count = count + excluded.count",
            rows,
        )
        if not self._pruning():
            return 0
        # the horizon is a bucket edge (first kept * width): round, not floor, its quotient
        first_kept = round(self.delta.horizon / delta.bucket_width_s)
        pruned_here = delta.pruned_buckets
        twice = held_before(db, 0, first_kept, pruned_here) if pruned_here else 0
        chunked = prune_bucket_chunks(db, 0, first_kept)
        deleted = db.execute("DELETE FROM buckets WHERE tier = 0 AND bucket < ?", (first_kept,))
        return chunked + int(deleted.rowcount) - twice  # a bucket the delta pruned: counted there

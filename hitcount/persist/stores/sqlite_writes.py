"""The rows every SQLite save writes besides the strategy's: meta, events, inputs.

Each function runs inside the store's one write transaction (`SqliteStore._writing`).
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from hitcount.persist.decoding import FORMAT
from hitcount.persist.stores.sqlite_layouts import DATA_TABLES, DocumentLayout, SqliteLayout
from hitcount.persist.stores.sqlite_sketches import (
    Sketches,
    distinct_parameters,
    write_sketches,
)
from hitcount.persist.stores.sqlite_versions import LAYOUT_VERSION

if TYPE_CHECKING:
    from hitcount.engine import HitCounter


def spec(strategy: Any) -> dict[str, Any]:
    """The strategy's name and parameters, as meta keeps them."""
    return {"name": strategy.name, "params": dict(strategy.params)}


def clear(db: sqlite3.Connection, *, keep_events: bool = False) -> None:
    """Delete every row (but the event log's, when `keep_events`)."""
    tables = (
        "meta", "inputs", "distinct_sketches", "distinct_chunks", *DATA_TABLES,
        "endpoint_documents", "morris_levels",
    )  # fmt: skip
    for table in tables if keep_events else (*tables, "events"):
        db.execute(f"DELETE FROM {table}")  # fixed table names


def write_events(db: sqlite3.Connection, counter: HitCounter, *, whole: bool) -> None:
    """Append the counter's events since it was loaded or saved; for a `whole` state
    also the remembered ones before them (from a document or another store)."""  # noqa: D205, D209
    new = list(counter.unsaved_events)
    rows = new
    if whole:
        recent = list(counter.recent_events)
        rows = recent[: max(0, len(recent) - len(new))] + new
    db.executemany("INSERT INTO events (event) VALUES (?)", [(json.dumps(e),) for e in rows])


def write_meta(db: sqlite3.Connection, counter: HitCounter, layout: SqliteLayout) -> None:
    """The header: strategy, clock, horizon, metrics, and a whole document's state."""
    strategy = counter.strategy
    horizon = strategy.horizon if math.isfinite(strategy.horizon) else None
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": LAYOUT_VERSION,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "strategy": json.dumps(spec(strategy)),
        "clock": json.dumps(counter.clock),
        "horizon": json.dumps(horizon),
        "max_lateness_s": repr(counter.max_lateness_s),
        "metrics": json.dumps(counter.metrics.as_dict()),
        "extras": json.dumps(layout.extras(strategy)),
        "max_endpoints": json.dumps(counter.max_endpoints),
        "keys": json.dumps(None if counter.keying.default else counter.keying.to_dict()),
        "distinct": json.dumps(distinct_parameters(counter)),
    }
    if isinstance(layout, DocumentLayout):
        meta["state"] = layout.document(strategy)
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())


def write_inputs(db: sqlite3.Connection, counter: HitCounter) -> None:
    """The input positions, and the alert tracks (a `meta` row) kept across runs."""
    rows = [(path, json.dumps(pos.to_dict())) for path, pos in counter.inputs.items()]
    db.execute("DELETE FROM inputs")
    db.executemany("INSERT INTO inputs VALUES (?, ?)", rows)
    db.execute(
        "INSERT OR REPLACE INTO meta VALUES ('alerts', ?)",
        (json.dumps(counter.saved_alerts()),),
    )


def write_all(
    db: sqlite3.Connection, counter: HitCounter, layout: SqliteLayout, *, whole: bool = True
) -> None:
    """Every row of the counter, into empty tables: the events since it was loaded (and,
    `whole`, those it remembers from before)."""  # noqa: D205, D209
    layout.write_whole(db, counter.strategy)
    write_events(db, counter, whole=whole)
    write_sketches(db, counter, None)
    write_meta(db, counter, layout)
    write_inputs(db, counter)


def write_changes(
    db: sqlite3.Connection,
    counter: HitCounter,
    layout: SqliteLayout,
    baseline: Any,
    before: Sketches,
) -> Sketches:
    """The counter's changes since it was loaded or saved: the rows `baseline` (its
    `Changes`, or the layout's baseline) tells apart, new events, the sketches that differ
    from `before`. Returns what the sketch rows now hold."""  # noqa: D205, D209
    from hitcount.persist.stores.sqlite_changes import Changes  # writers only: start-up time

    keys: set[tuple[str, int]] | None = None
    horizon = -math.inf
    if isinstance(baseline, Changes):
        keys, horizon = baseline.sketch_keys(counter), baseline.horizon
        layout.write_changed(db, counter.strategy, baseline.take())
    else:
        layout.write_delta(db, counter.strategy, baseline)
    write_events(db, counter, whole=False)
    sketches = write_sketches(db, counter, before, keys, horizon)
    assert sketches is not None  # compared with `before`, never written blind
    write_meta(db, counter, layout)
    write_inputs(db, counter)
    return sketches


def next_baseline(base: Any, layout: SqliteLayout, counter: HitCounter) -> Any:
    """What the next save of `counter` compares against: the same `Changes` of `base` (what
    the store loaded: strategy, baseline, counter, sketches), or a new baseline (a counter
    saved whole starts noting its changes now)."""  # noqa: D205, D209
    from hitcount.persist.stores.sqlite_changes import Changes

    if base is not None and base[2] is counter and isinstance(base[1], Changes):
        base[1].take()  # a save whole wrote them all
        return base[1]
    if layout.tracks_changes:
        return Changes.watch(counter)
    return layout.baseline(counter.strategy)

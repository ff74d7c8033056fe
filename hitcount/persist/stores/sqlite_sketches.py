"""The distinct-users sketches of a SQLite state: one row per endpoint and minute."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import TYPE_CHECKING, Any

from hitcount.persist.stores.sqlite_layouts import rows_of

if TYPE_CHECKING:
    from hitcount.engine import HitCounter


def read_distinct(
    db: sqlite3.Connection, meta: dict[str, Any], endpoints: list[str] | None, since: float
) -> Any:
    """The distinct-users state: its parameters, and the sketches of `endpoints` (None:
    all) whose minute ends after `since`."""  # noqa: D205, D209
    parameters = json.loads(meta.get("distinct") or "null")
    if parameters is None:
        return None
    width = float(parameters["bucket_s"])
    query = "SELECT endpoint, bucket, sketch FROM distinct_sketches WHERE (bucket + 1) * ? > ?"
    sketches: dict[str, dict[str, str]] = {}
    low = since if math.isfinite(since) else -1e300
    for endpoint, bucket, sketch in rows_of(db, query, endpoints, (width, low)):
        sketches.setdefault(endpoint, {})[str(bucket)] = sketch
    return {**parameters, "endpoints": sketches}


#: Each stored sketch's base64 text by (endpoint, bucket): what a save compares against.
Sketches = dict[tuple[str, int], str]


def sketch_texts(counter: HitCounter) -> Sketches:
    """The counter's sketches as a save will compare them."""
    if counter.distinct is None:
        return {}
    return {(endpoint, bucket): text for endpoint, bucket, text in counter.distinct.sketch_rows()}


def write_sketches(
    db: sqlite3.Connection, counter: HitCounter, before: Sketches | None
) -> Sketches:
    """Write the counter's distinct-users sketches: all of them (`before` None: the table is
    empty), or only those that changed since `before`, deleting the ones gone. Returns what
    the table now holds (the next save's `before`)."""  # noqa: D205, D209
    rows = counter.distinct.sketch_rows() if counter.distinct is not None else []
    now = {(endpoint, bucket): text for endpoint, bucket, text in rows}
    if before is not None:
        gone = [key for key in before if key not in now]
        db.executemany("DELETE FROM distinct_sketches WHERE endpoint = ? AND bucket = ?", gone)
        rows = [(*key, text) for key, text in now.items() if before.get(key) != text]
    rows.sort()  # in key order, the B-tree fills page by page
    db.executemany("INSERT OR REPLACE INTO distinct_sketches VALUES (?, ?, ?)", rows)
    return now


def distinct_parameters(counter: HitCounter) -> dict[str, Any] | None:
    """What the meta table keeps of the distinct-users tracker (None: off)."""
    tracker = counter.distinct
    if tracker is None:
        return None
    horizon = tracker.horizon if math.isfinite(tracker.horizon) else None
    return {
        "bucket_s": tracker.bucket_s,
        "precision": tracker.precision,
        "retention_s": tracker.retention_s,
        "horizon": horizon,
        "edges": tracker.edges,
    }

"""The distinct-users sketches of a SQLite state: one row per endpoint and minute, or chunks.

A row's `sketch` is `HyperLogLog.to_bytes()` as a BLOB; states saved by hitcount before
hold its base64 text instead, and both are read (`stored_bytes`; no HyperLogLog is loaded
here: a query's read path imports this module). A whole save of a tracker holding its
sketches in bulk writes them in `distinct_chunks` instead (`sqlite_chunks.py`); every read
here gives the sketches of both, and every write takes a sketch it changes out of its chunk.
"""

from __future__ import annotations

import binascii
import math
import sqlite3
from typing import TYPE_CHECKING, Any

from hitcount.persist.stores.sqlite_bulk import (
    damaged_row,
    each_endpoint,
    insert_rows,
    present_keys,
)
from hitcount.persist.stores.sqlite_chunks import SCHEMA as CHUNKS_SCHEMA
from hitcount.persist.stores.sqlite_chunks import (
    chunk_bytes,
    holds_chunks,
    prune_chunks,
    read_chunks,
    release,
    write_chunks,
)
from hitcount.persist.stores.sqlite_versions import meta_json
from hitcount.sketches.distinct_texts import Key, blobs_of, sketch_blobs

if TYPE_CHECKING:
    from hitcount.engine import HitCounter

#: One sketch a row, and the chunks of `sqlite_chunks`.
SCHEMA = (
    CHUNKS_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS distinct_sketches (
    endpoint TEXT NOT NULL, bucket INTEGER NOT NULL, sketch BLOB NOT NULL,
    PRIMARY KEY (endpoint, bucket)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS distinct_sketches_by_bucket ON distinct_sketches (bucket);
"""
)


def read_distinct(
    db: sqlite3.Connection, meta: dict[str, Any], endpoints: list[str] | None, since: float
) -> Any:
    """The distinct-users state: its parameters, and the sketches of `endpoints` (None:
    all) whose minute ends after `since`."""  # noqa: D205, D209
    parameters = meta_json(meta, "distinct", "null")
    if parameters is None:
        return None
    if (
        not isinstance(parameters, dict)
        or not all(
            isinstance(parameters.get(key), int | float) for key in ("bucket_s", "precision")
        )
        or not 0 < parameters["bucket_s"] < math.inf
    ):
        raise damaged_row(f"damaged meta row 'distinct': {parameters!r} is not its parameters")
    width = float(parameters["bucket_s"])
    query = (
        "SELECT s.endpoint, s.bucket, s.sketch FROM names CROSS JOIN distinct_sketches s"
        " WHERE s.endpoint = names.endpoint AND s.bucket > ? AND (s.bucket + 1) * ? > ?"
    )
    sketches: dict[str, dict[str, str | bytes]] = {}
    low = since if math.isfinite(since) else -1e300
    chunked = read_chunks(db, endpoints, width, low, int(parameters["precision"]))
    args = (low / width - 2, width, low)  # by the key: minutes ending after `low`, and one
    rows = each_endpoint(db, "distinct_sketches", endpoints, query, args)
    for endpoint, bucket, sketch in (*rows, *chunked):
        # bytes become base64 text when the document is encoded (msgspec), as old rows are
        sketches.setdefault(endpoint, {})[str(bucket)] = sketch
    return {**parameters, "endpoints": sketches}


def sketch_bytes(db: sqlite3.Connection) -> dict[str, int]:
    """`distinct_bytes`: the encoded sketches' bytes, summed in SQL (base64 text or BLOB)."""
    (total,) = db.execute(
        "SELECT SUM(CASE WHEN typeof(sketch) = 'blob' THEN length(sketch)"
        " ELSE length(sketch) * 3 / 4 - (sketch LIKE '%=') - (sketch LIKE '%==') END)"
        " FROM distinct_sketches"
    ).fetchone()
    return {"distinct_bytes": int(total or 0) + chunk_bytes(db)}


def stored_bytes(value: bytes | str) -> bytes:
    """A `distinct_sketches.sketch` value as `HyperLogLog.to_bytes()`: a BLOB as it is, the
    base64 TEXT of states saved before as its bytes.

    Raises:
        ValueError: neither (not base64, another type).
    """  # noqa: D205
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a distinct-users sketch must be a BLOB, not {type(value).__name__}")
    import base64  # states saved before sketches were BLOBs only

    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as err:
        raise ValueError("a distinct-users sketch's text is not base64") from err


def sketch_text(value: bytes | str) -> str:
    """A `distinct_sketches.sketch` value as the base64 text of a state document."""
    return value if isinstance(value, str) else binascii.b2a_base64(value, newline=False).decode()


#: Each stored sketch's bytes by (endpoint, bucket): what a save compares against.
Sketches = dict[tuple[str, int], bytes | bytearray]


def holds_sketches(db: sqlite3.Connection) -> bool:
    """Whether any distinct-users sketch is stored (a row or a chunk)."""
    (rows,) = db.execute("SELECT EXISTS (SELECT 1 FROM distinct_sketches)").fetchone()
    return bool(rows) or holds_chunks(db)


def stored_rows(db: sqlite3.Connection, counter: HitCounter) -> Sketches:
    """What the sketch rows and chunks hold, as bytes: the baseline of a save of the
    `counter` loaded from them."""  # noqa: D205, D209
    rows = db.execute("SELECT endpoint, bucket, sketch FROM distinct_sketches")
    held: Sketches = {(endpoint, bucket): stored_bytes(value) for endpoint, bucket, value in rows}
    if counter.distinct is not None:
        chunked = read_chunks(db, None, 1.0, -1e300, counter.distinct.precision)
        held.update(((endpoint, bucket), blob) for endpoint, bucket, blob in chunked)
    return held


def write_sketches(
    db: sqlite3.Connection,
    counter: HitCounter,
    before: Sketches | None,
    keys: set[tuple[str, int]] | None = None,
    horizon: float = -math.inf,
) -> Sketches | None:
    """Write the counter's distinct-users sketches: all of them (`before` None: the table is
    empty), or only those that changed since `before`, deleting the ones gone. With `keys`
    (every sketch that may have changed since `before`, whose pruning `horizon` was then the
    tracker's), only those are encoded and compared, and those pruned since deleted.
    Returns what the table now holds (the next save's `before`; None: read it back then)."""  # noqa: D205, D209
    tracker = counter.distinct
    if before is not None and keys is not None and tracker is not None:
        blobs = blobs_of(tracker, keys)
        if blobs is not None:
            return _write_changed(db, tracker, before, blobs, horizon)
    if before is None and tracker is not None and tracker._log is not None:
        write_chunks(db, tracker)  # held in bulk: its arrays as they are, no sketch encoded
        return None
    rows: list[Any] = sketch_blobs(tracker) if tracker is not None else []
    if before is None:
        rows.sort()  # in key order, the B-tree fills page by page
        insert_rows(db, "distinct_sketches", rows)
        return None  # a replay saves once: no table of every row made for a next save
    now = {(endpoint, bucket): blob for endpoint, bucket, blob in rows}
    gone = [key for key in before if key not in now]
    rows = sorted((*key, blob) for key, blob in now.items() if before.get(key) != blob)
    _release(db, tracker, [*gone, *((endpoint, bucket) for endpoint, bucket, _ in rows)])
    db.executemany("DELETE FROM distinct_sketches WHERE endpoint = ? AND bucket = ?", gone)
    db.executemany("INSERT OR REPLACE INTO distinct_sketches VALUES (?, ?, ?)", rows)
    return now


def _release(db: sqlite3.Connection, tracker: Any, keys: list[tuple[str, int]]) -> None:
    """Take the sketches of `keys` out of their chunks (their rows are written next)."""
    if keys and tracker is not None:
        release(db, keys, tracker.precision)


def append_sketches(db: sqlite3.Connection, tracker: Any, start_horizon: float) -> None:
    """Merge an append's sketches into the stored ones (their rows, or taken out of their
    chunks); drop those its pruning horizon, past `start_horizon`, leaves behind."""  # noqa: D205, D209
    # here: the tracker's module, which a query's read path must not load
    from hitcount.sketches.distinct import DistinctTracker

    added = tracker.to_state(compact=False)
    stored: dict[str, dict[str, str]] = {}
    keys = [(endpoint, int(bucket)) for endpoint, buckets in added["endpoints"].items()
            for bucket in buckets]  # fmt: skip
    query = "SELECT sketch FROM distinct_sketches WHERE endpoint = ? AND bucket = ?"
    for endpoint, bucket in present_keys(db, "distinct_sketches", "bucket", keys):
        row = db.execute(query, (endpoint, bucket)).fetchone()
        if row is not None:
            stored.setdefault(endpoint, {})[str(bucket)] = sketch_text(row[0])
    for (endpoint, bucket), blob in release(db, keys, tracker.precision).items():
        stored.setdefault(endpoint, {})[str(bucket)] = sketch_text(blob)
    merged = DistinctTracker.from_state({**added, "endpoints": stored})
    merged.merge(tracker)  # holds the sketches of the minutes appended to, merged
    db.executemany(
        "INSERT OR REPLACE INTO distinct_sketches VALUES (?, ?, ?)", sketch_blobs(merged)
    )
    if math.isfinite(tracker.horizon) and tracker.horizon > start_horizon:
        db.execute(
            "DELETE FROM distinct_sketches WHERE bucket < ? AND (bucket + 1) * ? <= ?",
            (tracker.horizon / tracker.bucket_s + 1, tracker.bucket_s, tracker.horizon),
        )  # by the index on `bucket`: a minute ending by the horizon starts below it
        prune_chunks(db, tracker.bucket_s, tracker.horizon, tracker.precision)


def _write_changed(
    db: sqlite3.Connection,
    tracker: Any,
    before: Sketches,
    blobs: dict[Key, bytes | None],
    horizon: float,
) -> Sketches:
    """Write the sketches of `blobs` that differ, delete those gone and those pruned."""
    gone = [key for key, blob in blobs.items() if blob is None and key in before]
    if math.isfinite(tracker.horizon) and tracker.horizon > horizon:
        first_kept = math.floor(tracker.horizon / tracker.bucket_s)
        if any(bucket < first_kept for _, bucket in before):
            gone += [key for key in before if key[1] < first_kept]
    for key in gone:
        before.pop(key, None)
    rows = sorted((*key, blob) for key, blob in blobs.items() if blob and before.get(key) != blob)
    _release(db, tracker, [*gone, *((endpoint, bucket) for endpoint, bucket, _ in rows)])
    db.executemany("DELETE FROM distinct_sketches WHERE endpoint = ? AND bucket = ?", gone)
    db.executemany("INSERT OR REPLACE INTO distinct_sketches VALUES (?, ?, ?)", rows)
    before.update(((endpoint, bucket), blob) for endpoint, bucket, blob in rows)
    return before


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

"""The distinct-users sketches a whole save writes: one row per endpoint and hour.

`distinct_chunks` holds, per endpoint and `SPAN` buckets (an hour of minutes), the register
log's own arrays for those sketches (`sketches/sketch_chunks.py`), so a replay writes a few
thousand rows instead of one per sketch and encodes none. A sketch lives in one place: its
`distinct_sketches` row or its chunk. A save that changes or deletes a sketch held in a chunk
first takes it out of the chunk (`release`: the chunk is rewritten without it, at most
`SPAN` sketches), then writes its row; pruning deletes whole chunks and trims the one the
horizon cuts. The sketches' own modules are imported only where a chunk is read or
written (a query without distinct users never loads them).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from hitcount.errors import StateError
from hitcount.persist.stores.sqlite_bulk import (
    damaged_row,
    each_endpoint,
    insert_rows,
    present_keys,
)

if TYPE_CHECKING:
    import sqlite3

    from hitcount.sketches.distinct import DistinctTracker

#: Buckets per chunk (an hour of one-minute sketches).
SPAN = 60

SCHEMA = """
CREATE TABLE IF NOT EXISTS distinct_chunks (
    endpoint TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    sketches INTEGER NOT NULL, bytes INTEGER NOT NULL,
    buckets BLOB NOT NULL, sizes BLOB NOT NULL, entries BLOB NOT NULL,
    PRIMARY KEY (endpoint, first)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS distinct_chunks_by_last ON distinct_chunks (last, bytes);
"""

_SELECT = "SELECT endpoint, buckets, sizes, entries FROM distinct_chunks"


def write_chunks(db: sqlite3.Connection, tracker: DistinctTracker) -> None:
    """Every sketch of the tracker, in chunks, into the empty table."""
    # here: numpy and the sketches' modules, which a query's read path must not load
    from hitcount.sketches.sketch_chunks import chunk_rows

    insert_rows(db, "distinct_chunks", chunk_rows(tracker, SPAN))


def read_chunks(
    db: sqlite3.Connection, endpoints: list[str] | None, width: float, low: float, precision: int
) -> list[tuple[str, int, bytes]]:
    """`(endpoint, bucket, to_bytes())` of the chunked sketches of `endpoints` (None: all)
    whose minute ends after `low`.

    Raises:
        StateError: a damaged chunk.
    """  # noqa: D205
    query = (
        "SELECT c.endpoint, c.buckets, c.sizes, c.entries FROM names CROSS JOIN distinct_chunks c"
        " WHERE c.endpoint = names.endpoint AND c.first > ? AND (c.last + 1) * ? > ?"
    )
    # a chunk's buckets run from its `first` to `first + SPAN - 1`: one whose minute ends
    # after `low` starts after `low / width - 1 - SPAN` (and one more, for the rounding)
    since = low / width - SPAN - 2
    chunks = list(each_endpoint(db, "distinct_chunks", endpoints, query, (since, width, low)))
    if not chunks:
        return []
    rows = _decoded(precision, chunks)
    return [row for row in rows if (row[1] + 1) * width > low]


def holds_chunks(db: sqlite3.Connection) -> bool:
    """Whether any sketch is chunked."""
    return bool(db.execute("SELECT EXISTS (SELECT 1 FROM distinct_chunks)").fetchone()[0])


def chunk_bytes(db: sqlite3.Connection) -> int:
    """The chunked sketches' `to_bytes()` bytes, summed."""
    return int(db.execute("SELECT SUM(bytes) FROM distinct_chunks").fetchone()[0] or 0)


def release(
    db: sqlite3.Connection, keys: Iterable[tuple[str, int]], precision: int
) -> dict[tuple[str, int], bytes]:
    """Take the sketches of `keys` out of their chunks (rewritten without them, or deleted
    when left empty); return those sketches' `to_bytes()` by key.

    Raises:
        StateError: a damaged chunk.
    """  # noqa: D205
    wanted: dict[tuple[str, int], set[int]] = {}
    for endpoint, bucket in keys:
        wanted.setdefault((endpoint, bucket // SPAN * SPAN), set()).add(bucket)
    taken: list[Any] = []
    query = f"{_SELECT} WHERE endpoint = ? AND first = ?"
    for endpoint, first in present_keys(db, "distinct_chunks", "first", wanted):
        buckets = wanted[(endpoint, first)]
        row = db.execute(query, (endpoint, first)).fetchone()
        if row is not None:
            part = _rewrite(db, first, row, buckets.__contains__, precision)
            if part is not None:
                taken.append(part)
    return {(e, b): bytes(blob) for e, b, blob in _decoded(precision, taken)} if taken else {}


def prune_chunks(db: sqlite3.Connection, width: float, horizon: float, precision: int) -> None:
    """Delete the chunked sketches whose minute ends at or before `horizon`."""
    # by the index on `last`: a chunk whose minutes all end by `horizon` has `last` below
    # `horizon / width` (one more, for the rounding); one the horizon cuts, below that + SPAN
    bound = horizon / width + 1
    db.execute(
        "DELETE FROM distinct_chunks WHERE last < ? AND (last + 1) * ? <= ?",
        (bound, width, horizon),
    )
    cut = db.execute(
        "SELECT first, endpoint, buckets, sizes, entries FROM distinct_chunks"
        " WHERE last < ? AND (first + 1) * ? <= ?",
        (bound + SPAN, width, horizon),
    ).fetchall()
    for first, *row in cut:
        _rewrite(db, first, row, lambda bucket: (bucket + 1) * width <= horizon, precision)


def _rewrite(
    db: sqlite3.Connection, first: int, row: Any, drop: Callable[[int], bool], precision: int
) -> tuple[str, bytes, bytes, bytes] | None:
    """Rewrite the chunk `row` without the sketches whose bucket `drop` picks; return
    those as a chunk of their own (None: none picked)."""  # noqa: D205, D209
    endpoint, buckets, sizes, entries = _arrays(row)
    kept: tuple[array[int], array[int], array[int]] = (array("q"), array("I"), array("I"))
    gone: tuple[array[int], array[int], array[int]] = (array("q"), array("I"), array("I"))
    offset = 0
    for bucket, size in zip(buckets, sizes, strict=True):
        into = gone if drop(bucket) else kept
        into[0].append(bucket)
        into[1].append(size)
        into[2].extend(entries[offset : offset + size])
        offset += size
    if not gone[0]:
        return None
    key = (endpoint, first)
    if not kept[0]:
        db.execute("DELETE FROM distinct_chunks WHERE endpoint = ? AND first = ?", key)
    else:
        db.execute(
            "UPDATE distinct_chunks SET last = ?, sketches = ?, bytes = ?, buckets = ?,"
            " sizes = ?, entries = ? WHERE endpoint = ? AND first = ?",
            (kept[0][-1], len(kept[0]), _length(precision, kept), *map(_blob, kept), *key),
        )
    return (endpoint, *map(_blob, gone))  # type: ignore[return-value]


def _length(precision: int, arrays: tuple[array[int], array[int], array[int]]) -> int:
    """The `to_bytes()` bytes of a chunk's sketches."""
    # here: the sketches' byte forms (a write that changes chunked sketches; no numpy)
    from hitcount.sketches.entry_bytes import encoded_length

    _, sizes, entries = arrays
    total, offset = 0, 0
    for size in sizes:
        total += encoded_length(precision, size, entries[offset])
        offset += size
    return total


def _arrays(row: Any) -> tuple[str, array[int], array[int], array[int]]:
    """A chunk's endpoint and arrays, checked to agree.

    Raises:
        StateError: partial items, or sizes that do not add up to the entries.
    """
    endpoint, *blobs = row
    arrays = []
    for code, blob in zip("qII", blobs, strict=True):
        values = array(code)
        if not isinstance(blob, bytes) or len(blob) % values.itemsize:
            raise _damaged(endpoint)
        values.frombytes(blob)
        if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
            values.byteswap()
        arrays.append(values)
    buckets, sizes, entries = arrays
    if len(buckets) != len(sizes) or sum(sizes) != len(entries):
        raise _damaged(endpoint)
    return endpoint, buckets, sizes, entries


def _blob(values: array[int]) -> bytes:
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _decoded(precision: int, chunks: list[Any]) -> list[tuple[str, int, bytes]]:
    """`(endpoint, bucket, to_bytes())` of every sketch of `chunks` (`(endpoint, buckets,
    sizes, entries)` rows), laid out in pure Python: no numpy for a query.

    Raises:
        StateError: a damaged chunk.
    """  # noqa: D205
    # here: the sketches' byte forms, loaded only when distinct users are read or written
    from hitcount.sketches.entry_bytes import entry_bytes

    rows = []
    for row in chunks:
        endpoint, buckets, sizes, entries = _arrays(row)
        offset, previous = 0, None
        for bucket, size in zip(buckets, sizes, strict=True):
            run = entries[offset : offset + size]
            offset += size
            if (previous is not None and bucket <= previous) or not size:
                raise _damaged(endpoint)
            previous = bucket
            try:
                rows.append((endpoint, bucket, entry_bytes(precision, run)))
            except ValueError as err:
                raise _damaged(endpoint) from err
    return rows


def _damaged(endpoint: str) -> StateError:
    return damaged_row(f"damaged distinct-users chunk of {endpoint}: its arrays do not agree")

"""The `fixed` and `tiered` buckets a whole save writes: one row per endpoint, tier and hour.

`bucket_chunks` holds, per endpoint, tier and `SPAN` consecutive buckets, those buckets'
numbers and counts as two arrays of little-endian 64-bit integers, so a replay writes a
few thousand rows instead of one per bucket. A bucket lives in one place: its `buckets`
row or its chunk. A write that changes or deletes buckets held in a chunk first takes that
chunk out (`release`: its buckets become rows, at most `SPAN` of them), so an append or a
`--follow` commit still costs what it adds; pruning deletes the chunks the horizon passed
and takes out the one it cuts.
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, pairwise
from typing import TYPE_CHECKING, Any

from hitcount.persist.stores.sqlite_bulk import (
    damaged_row,
    each_endpoint,
    insert_rows,
    present_keys,
    rows_of,
)

if TYPE_CHECKING:
    import sqlite3

    from hitcount.errors import StateError

#: Buckets per chunk (an hour of one-minute buckets).
SPAN = 60

SCHEMA = """
CREATE TABLE IF NOT EXISTS bucket_chunks (
    endpoint TEXT NOT NULL, tier INTEGER NOT NULL, first INTEGER NOT NULL,
    last INTEGER NOT NULL, buckets INTEGER NOT NULL, hits INTEGER NOT NULL,
    numbers BLOB NOT NULL, counts BLOB NOT NULL,
    PRIMARY KEY (endpoint, tier, first)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bucket_chunks_by_last ON bucket_chunks (tier, last, buckets);
"""

#: The largest `hits` a chunk row says (SQLite's largest integer): a restored snapshot may
#: hold counts up to 2**62 a bucket, whose sum would not fit.
_MAX_HITS = 2**63 - 1

#: `(endpoint, tier, bucket, count)`: a bucket as a `buckets` row.
Bucket = tuple[str, int, int, int]

_SELECT = "SELECT endpoint, tier, first, buckets, numbers, counts FROM bucket_chunks"


def write_bucket_chunks(
    db: sqlite3.Connection, parts: Iterable[tuple[str, int, dict[int, int]]]
) -> None:
    """The buckets of each `(endpoint, tier, counts)`, in chunks, into the table (which
    holds none of them): one statement for many rows, compiled once."""  # noqa: D205, D209
    rows = []
    for endpoint, tier, counts in parts:
        numbers = sorted(counts)
        values = list(map(counts.__getitem__, numbers))
        packed_numbers, packed_values = _packed(numbers), _packed(values)  # whole, then sliced
        start = 0
        while start < len(numbers):
            first = numbers[start] // SPAN * SPAN
            end = bisect_left(numbers, first + SPAN, start)
            hits = min(sum(values[start:end]), _MAX_HITS)
            blobs = packed_numbers[8 * start : 8 * end], packed_values[8 * start : 8 * end]
            rows.append((endpoint, tier, first, numbers[end - 1], end - start, hits, *blobs))
            start = end
    insert_rows(db, "bucket_chunks", rows)


def read_bucket_chunks(
    db: sqlite3.Connection, endpoints: list[str] | None, where: str = "", args: tuple[Any, ...] = ()
) -> Iterator[Bucket]:
    """Every chunked bucket of `endpoints` (None: all) in the chunks `where` picks.

    `where` is a WHERE clause (or nothing), with `args` for its parameters.

    Raises:
        StateError: a damaged chunk.
    """
    for row in rows_of(db, f"{_SELECT} {where}".rstrip(), endpoints, args):
        yield from _buckets(row)


def buckets_from(
    db: sqlite3.Connection, endpoints: list[str] | None, first: int | None, tier: int = 0
) -> Iterator[Bucket]:
    """The buckets of `endpoints` (None: all) numbered `first` on, in their rows and chunks
    of `tier`; None: every bucket of every tier.

    Raises:
        StateError: a damaged chunk.
    """  # noqa: D205
    if first is None:
        rows = rows_of(db, "SELECT endpoint, tier, bucket, count FROM buckets", endpoints)
        return chain(rows, read_bucket_chunks(db, endpoints))
    query = f"{_ROWS} AND b.bucket >= ?"
    rows = each_endpoint(db, "buckets", endpoints, query, (tier, first))
    # a chunk holds buckets `first` to `first + SPAN - 1` (`_buckets` checks): those from
    # `first - SPAN + 1` on may hold one numbered `first` or more
    query = f"{_CHUNKS} AND c.first > ?"
    chunks = each_endpoint(db, "bucket_chunks", endpoints, query, (tier, first - SPAN))
    found = (bucket for row in chunks for bucket in _buckets(row))
    return chain(rows, (bucket for bucket in found if bucket[2] >= first))  # a chunk's front


def newest_before(
    db: sqlite3.Connection, endpoints: list[str] | None, first: int, tier: int = 0
) -> dict[str, tuple[int, int, int]]:
    """`endpoint -> (tier, bucket, count)`: each endpoint's newest bucket of `tier` numbered
    below `first`, in its rows or its chunks that end below `first`.

    Raises:
        StateError: a damaged chunk.
    """  # noqa: D205
    newest: dict[str, tuple[int, int, int]] = {}
    query = f"{_ROWS} AND b.bucket = ({_NEWEST_ROW})"
    for endpoint, _, bucket, count in each_endpoint(
        db, "buckets", endpoints, query, (tier, tier, first)
    ):
        newest[endpoint] = (tier, bucket, count)
    query = f"{_CHUNKS} AND c.first = ({_NEWEST_CHUNK})"
    for row in each_endpoint(db, "bucket_chunks", endpoints, query, (tier, tier, first, first)):
        endpoint, _, bucket, count = _buckets(row)[-1]  # the chunk's newest
        if bucket > newest.get(endpoint, (0, -math.inf))[1]:
            newest[endpoint] = (tier, bucket, count)
    return newest


#: Reads joined to `sqlite_bulk.each_endpoint`'s names: one endpoint's rows of a tier.
_ROWS = (
    "SELECT b.endpoint, b.tier, b.bucket, b.count FROM names CROSS JOIN buckets b"
    " WHERE b.endpoint = names.endpoint AND b.tier = ?"
)
_CHUNKS = (
    "SELECT c.endpoint, c.tier, c.first, c.buckets, c.numbers, c.counts"
    " FROM names CROSS JOIN bucket_chunks c WHERE c.endpoint = names.endpoint AND c.tier = ?"
)
#: An endpoint's newest bucket row of a tier below a number, and its newest chunk ending
#: below it (the one before the newest starting below it, when that one ends later).
_NEWEST_ROW = (
    "SELECT MAX(bucket) FROM buckets WHERE endpoint = names.endpoint AND tier = ? AND bucket < ?"
)
_NEWEST_CHUNK = (
    "SELECT first FROM bucket_chunks WHERE endpoint = names.endpoint AND tier = ?"
    " AND first < ? AND last < ? ORDER BY first DESC LIMIT 1"
)


def chunked_part(db: sqlite3.Connection, endpoint: str) -> dict[tuple[int, int], int]:
    """`{(tier, bucket): count}` of the endpoint's chunked buckets."""
    return {(tier, bucket): n for _, tier, bucket, n in read_bucket_chunks(db, [endpoint])}


def release(db: sqlite3.Connection, keys: Iterable[tuple[str, int, int]]) -> None:
    """Take the chunks holding any bucket of `keys` (`(endpoint, tier, bucket)`) out: their
    buckets become `buckets` rows.

    Raises:
        StateError: a damaged chunk.
    """  # noqa: D205
    tiers: dict[int, set[tuple[str, int]]] = {}
    for endpoint, tier, bucket in keys:
        tiers.setdefault(tier, set()).add((endpoint, bucket // SPAN * SPAN))
    query = f"{_SELECT} WHERE endpoint = ? AND tier = ? AND first = ?"
    for tier, chunks in sorted(tiers.items()):
        for endpoint, first in present_keys(db, "bucket_chunks", "first", chunks, tier=tier):
            row = db.execute(query, (endpoint, tier, first)).fetchone()
            if row is not None:
                _take_out(db, row)


def held_before(
    db: sqlite3.Connection, tier: int, first_kept: int, keys: Mapping[str, set[int]]
) -> int:
    """How many of `keys` (buckets per endpoint) the rows and chunks of `tier` hold below
    `first_kept` (what a prune to it deletes).

    Raises:
        StateError: a damaged chunk.
    """  # noqa: D205
    endpoints = sorted(endpoint for endpoint, buckets in keys.items() if buckets)
    rows = rows_of(db, "SELECT endpoint, bucket FROM buckets WHERE tier = ? AND bucket < ?",
                   endpoints, (tier, first_kept))  # fmt: skip
    chunks = rows_of(db, f"{_SELECT} WHERE tier = ? AND first < ?", endpoints, (tier, first_kept))
    held = [*rows, *((row[0], bucket[2]) for row in chunks for bucket in _buckets(row))]
    return sum(1 for endpoint, b in held if b < first_kept and b in keys[endpoint])


def prune_bucket_chunks(db: sqlite3.Connection, tier: int, first_kept: int) -> int:
    """Delete the chunked buckets of `tier` numbered below `first_kept` (the chunk the
    horizon cuts is taken out first; its rows are left for the `buckets` prune). Returns
    the buckets deleted.

    Raises:
        StateError: a damaged chunk.
    """  # noqa: D205
    cut = f"{_SELECT} WHERE tier = ? AND last BETWEEN ? AND ? AND first < ?"  # by last
    for row in db.execute(cut, (tier, first_kept, first_kept + SPAN - 1, first_kept)).fetchall():
        _take_out(db, row)
    gone = db.execute(
        "SELECT SUM(buckets) FROM bucket_chunks WHERE tier = ? AND last < ?", (tier, first_kept)
    ).fetchone()[0]
    db.execute("DELETE FROM bucket_chunks WHERE tier = ? AND last < ?", (tier, first_kept))
    return int(gone or 0)


def _take_out(db: sqlite3.Connection, row: Sequence[Any]) -> None:
    """The chunk `row` deleted, its buckets inserted as rows."""
    buckets = list(_buckets(row))
    db.execute("DELETE FROM bucket_chunks WHERE endpoint = ? AND tier = ? AND first = ?", row[:3])
    insert_rows(db, "buckets", buckets)


def _buckets(row: Sequence[Any]) -> list[Bucket]:
    """The buckets of a chunk row `(endpoint, tier, first, buckets, numbers, counts)`,
    checked to agree.

    Raises:
        StateError: arrays of another length, numbers out of the chunk or out of order.
    """  # noqa: D205
    endpoint, tier, first, size, *blobs = row
    if not isinstance(size, int):
        raise _damaged(endpoint)
    numbers, counts = array("q"), array("q")
    for values, blob in zip((numbers, counts), blobs, strict=True):
        if not isinstance(blob, bytes) or len(blob) != 8 * size:
            raise _damaged(endpoint)
        values.frombytes(blob)
        if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
            values.byteswap()
    in_order = all(a < b for a, b in pairwise(numbers))
    if not size or not in_order or numbers[0] < first or numbers[-1] >= first + SPAN:
        raise _damaged(endpoint)
    return [(endpoint, tier, bucket, n) for bucket, n in zip(numbers, counts, strict=True)]


def _packed(values: list[int]) -> bytes:
    """Little-endian int64s."""
    return _blob(array("q", values))


def _blob(values: array[int]) -> bytes:
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _damaged(endpoint: str) -> StateError:
    return damaged_row(f"damaged bucket chunk of {endpoint}: its arrays do not agree")

"""The SQLite tables of each strategy: native rows where the strategy offers them.

A layout reads rows into a strategy through its typed per-endpoint methods
(`strategies/capabilities.py`) and writes a strategy back, either whole or as the change
since the rows were read (the delta). Values read back are checked by the strategy's own
`load_state`, as for any document (the store builds its document from them).

- `fixed` (any `KeepsBuckets`): `buckets(endpoint, tier = 0, bucket, count)`.
- `tiered`: the same table, one tier per row (0 fine, 1 mid, 2 coarse); the cuts live in meta
  (`sqlite_tiered.py`, imported only for a tiered state).
- `sliding` (any `KeepsTimestamps`): `sliding_chunks(endpoint, first, last, n, stamps)`,
  sorted little-endian float64 timestamps in chunks, indexed by (endpoint, last).
- any other strategy (`morris`, `ehist`, `auto`): its compact state, one document.
"""

from __future__ import annotations

import math
import sqlite3
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

from hitcount.engine.capping import OVERFLOW_ENDPOINT
from hitcount.model.globs import is_glob, matches
from hitcount.persist.stores.sqlite_bucket_chunks import (
    SCHEMA as BUCKET_CHUNKS_SCHEMA,
)
from hitcount.persist.stores.sqlite_bucket_chunks import (
    buckets_from,
    chunked_part,
    newest_before,
    release,
    write_bucket_chunks,
)
from hitcount.persist.stores.sqlite_bulk import damaged_row, endpoints_in, rows_of
from hitcount.persist.stores.sqlite_stamps import (
    after,
    checked,
    merged,
    pack,
    refuse_damaged_chunks,
    unpack,
)
from hitcount.strategies import get_strategy
from hitcount.strategies.base import Strategy
from hitcount.strategies.capabilities import (
    keeping_buckets,
    keeping_timestamps,
)

#: Timestamps per chunk written whole; appends add smaller chunks, merged when many.
CHUNK = 65_536
#: Chunks of an endpoint smaller than this are merged once there are `MAX_SMALL` of them.
SMALL = 4096
MAX_SMALL = 32

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS buckets (
    endpoint TEXT NOT NULL, tier INTEGER NOT NULL, bucket INTEGER NOT NULL,
    count INTEGER NOT NULL, PRIMARY KEY (endpoint, tier, bucket)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS buckets_by_bucket ON buckets (tier, bucket);
CREATE TABLE IF NOT EXISTS sliding_chunks (
    id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, first REAL NOT NULL, last REAL NOT NULL,
    n INTEGER NOT NULL, stamps BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS sliding_by_endpoint ON sliding_chunks (endpoint, last);
"""
    + BUCKET_CHUNKS_SCHEMA
)
DATA_TABLES = ("buckets", "bucket_chunks", "sliding_chunks")

Parts = dict[str, dict[tuple[int, int], int]]

_INSERT_CHUNK = (
    "INSERT INTO sliding_chunks (endpoint, first, last, n, stamps) VALUES (?, ?, ?, ?, ?)"
)


class SqliteLayout:
    """The rows of one strategy: read into a strategy, written whole or as a delta."""

    def __init__(self, name: str, params: Mapping[str, float | int]) -> None:
        self.name = name
        self.params = dict(params)

    def empty(self) -> Strategy:
        """A new strategy of this kind."""
        return get_strategy(self.name)(**self.params)

    def read(
        self, db: sqlite3.Connection, endpoints: list[str] | None, since: float, extras: Any
    ) -> Strategy:
        """A strategy holding the rows of `endpoints` (None: all) a window after `since` needs."""
        raise NotImplementedError

    def endpoints(self, db: sqlite3.Connection) -> list[str]:
        """Every endpoint held."""
        raise NotImplementedError

    def entries(self, db: sqlite3.Connection) -> int:
        """Rows' entries held (buckets, timestamps)."""
        raise NotImplementedError

    def baseline(self, strategy: Strategy) -> Any:
        """What `write_delta` compares against (taken right after loading)."""
        return None

    #: Whether the layout saves a loaded strategy with `write_changed` (else `write_delta`).
    tracks_changes = False

    def write_changed(self, db: sqlite3.Connection, strategy: Strategy, changed: set[str]) -> None:
        """Rewrite the rows of the `changed` endpoints (the others are as stored)."""
        raise NotImplementedError

    def write_whole(self, db: sqlite3.Connection, strategy: Strategy) -> None:
        """Write every row of `strategy` (the data tables are empty)."""
        raise NotImplementedError

    def write_delta(self, db: sqlite3.Connection, strategy: Strategy, base: Any) -> None:
        """Write what changed since `base` (`baseline` of the strategy as loaded)."""
        self.clear(db)
        self.write_whole(db, strategy)

    def clear(self, db: sqlite3.Connection) -> None:
        """Delete every data row."""
        for table in DATA_TABLES:
            db.execute(f"DELETE FROM {table}")  # fixed table names

    def extras(self, strategy: Strategy) -> Any:
        """Strategy-wide values kept in meta (JSON-ready), or None."""
        return None


class BucketLayout(SqliteLayout):
    """`fixed`: `(endpoint, 0, bucket) -> count`, changed row by row (`tiered`, the same
    table with three tiers: `sqlite_tiered.TieredLayout`)."""  # noqa: D205, D209

    tracks_changes = True

    def parts(self, strategy: Strategy) -> Parts:
        """`{endpoint: {(tier, bucket): count}}`."""
        return {endpoint: self.part(strategy, endpoint) for endpoint in strategy.endpoints()}

    def part(self, strategy: Strategy, endpoint: str) -> dict[tuple[int, int], int]:
        """`{(tier, bucket): count}` of one endpoint."""
        counts = keeping_buckets(strategy).bucket_counts(endpoint)
        return {(0, bucket): count for bucket, count in counts.items()}

    def read(
        self, db: sqlite3.Connection, endpoints: list[str] | None, since: float, extras: Any
    ) -> Strategy:
        """The buckets a window after `since` needs, and each endpoint's newest bucket
        before them (so an endpoint with no hit in the window is still held); every bucket
        when `since` is unbounded, and for `tiered`."""  # noqa: D205, D209
        strategy = self.empty()
        first = self._first_needed(strategy, since)
        parts: Parts = {}
        for endpoint, tier, bucket, count in buckets_from(db, endpoints, first):
            parts.setdefault(endpoint, {})[(tier, bucket)] = count
        if first is not None:  # keep the endpoints with no bucket from `first` on
            for endpoint, (tier, bucket, count) in newest_before(db, endpoints, first).items():
                parts.setdefault(endpoint, {(tier, bucket): count})
        for endpoint, part in parts.items():
            self._put(strategy, endpoint, part)
        self._restore(strategy, extras)
        return strategy

    def _first_needed(self, strategy: Strategy, since: float) -> int | None:
        """The first bucket a window after `since` reads (None: every bucket)."""
        number = since / keeping_buckets(strategy).bucket_width_s
        if not math.isfinite(number) or abs(number) > 2**62:  # SQLite's integers: every one
            return None
        first = math.floor(number) - 1  # as `query`
        return first - 1  # and one more: `since` may round apart from the window's start

    def _restore(self, strategy: Strategy, extras: Any) -> None:
        """`(lo, hi]` buckets unless the state says it keeps the old `[lo, hi)`."""
        if not isinstance(extras, dict | None):
            raise damaged_row(f"damaged meta row 'extras': {extras!r} is not fixed's")
        keeping_buckets(strategy).closed_right = (extras or {}).get("closed_right", True)

    def _put(self, strategy: Strategy, endpoint: str, part: dict[tuple[int, int], int]) -> None:
        keeping_buckets(strategy).set_buckets(endpoint, {b: c for (_, b), c in part.items()})

    def endpoints(self, db: sqlite3.Connection) -> list[str]:
        """Endpoints with buckets."""
        return sorted({*endpoints_in(db, "buckets"), *endpoints_in(db, "bucket_chunks")})

    def entries(self, db: sqlite3.Connection) -> int:
        """Buckets of every tier."""
        rows = db.execute("SELECT COUNT(*) FROM buckets").fetchone()[0]
        chunked = db.execute("SELECT SUM(buckets) FROM bucket_chunks").fetchone()[0]
        return int(rows) + int(chunked or 0)

    def write_whole(self, db: sqlite3.Connection, strategy: Strategy) -> None:
        """Write every bucket in chunks, endpoint by endpoint (straight from its table)."""
        source = keeping_buckets(strategy)
        endpoints = sorted(strategy.endpoints())
        write_bucket_chunks(db, ((ep, 0, source.bucket_counts(ep)) for ep in endpoints))

    def write_changed(self, db: sqlite3.Connection, strategy: Strategy, changed: set[str]) -> None:
        """Per changed endpoint: upsert the buckets that differ from its rows and chunks,
        delete the ones gone (an endpoint gone loses them all); a chunk holding any of them
        is taken out first."""  # noqa: D205, D209
        held = set(strategy.endpoints())
        upserts, deletes = [], []
        query = "SELECT tier, bucket, count FROM buckets WHERE endpoint = ?"
        for endpoint in sorted(changed):
            before = {(t, b): n for t, b, n in db.execute(query, (endpoint,))}
            chunked = chunked_part(db, endpoint)
            before.update(chunked)
            after = self.part(strategy, endpoint) if endpoint in held else {}
            ups = [key for key, n in after.items() if before.get(key) != n]
            gone = before.keys() - after.keys()
            release(db, [(endpoint, *key) for key in (*ups, *gone) if key in chunked])
            upserts += [(endpoint, *key, after[key]) for key in ups]
            deletes += [(endpoint, *key) for key in gone]
        db.executemany(
            "DELETE FROM buckets WHERE endpoint = ? AND tier = ? AND bucket = ?", deletes
        )
        db.executemany("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?, ?)", upserts)

    def extras(self, strategy: Strategy) -> Any:
        """Meta values: the bucket edge rule."""
        return {"closed_right": keeping_buckets(strategy).closed_right}


class SlidingLayout(SqliteLayout):
    """`sliding`: sorted timestamps in chunks; an append adds a chunk, pruning deletes them."""

    def read(
        self, db: sqlite3.Connection, endpoints: list[str] | None, since: float, extras: Any
    ) -> Strategy:
        """The timestamps after `since`, and the newest one of each endpoint before it (so
        an endpoint with no hit in the window is still held): the chunks that reach past
        `since`, and the `last` of the newest chunk before it (its blob is not read)."""  # noqa: D205, D209
        strategy = self.empty()
        gathered: dict[str, list[array[float]]] = {}
        low = since if math.isfinite(since) else -math.inf
        if math.isfinite(low):  # chunks are skipped by their `last`: it must be sound
            refuse_damaged_chunks(db, endpoints)
        query = "SELECT endpoint, stamps, n, first, last FROM sliding_chunks WHERE last > ?"
        for endpoint, blob, *held in rows_of(db, query, endpoints, (low,)):
            gathered.setdefault(endpoint, []).append(checked(endpoint, unpack(blob), *held))
        if math.isfinite(low):
            older = (
                "SELECT endpoint, last FROM sliding_chunks AS c WHERE last <= ? AND id ="
                " (SELECT id FROM sliding_chunks WHERE endpoint = c.endpoint AND last <= ?"
                " ORDER BY last DESC LIMIT 1)"
            )
            for endpoint, last in rows_of(db, older, endpoints, (low, low)):
                gathered.setdefault(endpoint, []).append(array("d", [last]))
        timestamps = keeping_timestamps(strategy)
        for endpoint, chunks in gathered.items():
            timestamps.set_timestamps(endpoint, after(merged(chunks), low))
        return strategy

    def endpoints(self, db: sqlite3.Connection) -> list[str]:
        """Endpoints with timestamps."""
        return endpoints_in(db, "sliding_chunks")

    def entries(self, db: sqlite3.Connection) -> int:
        """Timestamps held."""
        return int(db.execute("SELECT COALESCE(SUM(n), 0) FROM sliding_chunks").fetchone()[0])

    tracks_changes = True

    def write_whole(self, db: sqlite3.Connection, strategy: Strategy) -> None:
        """Every endpoint's timestamps in full chunks."""
        source = keeping_timestamps(strategy)
        for endpoint in strategy.endpoints():
            self.insert(db, endpoint, source.timestamps(endpoint))

    def write_changed(self, db: sqlite3.Connection, strategy: Strategy, changed: set[str]) -> None:
        """Per changed endpoint: drop pruned rows and add the new tail, else rewrite it."""
        source = keeping_timestamps(strategy)
        held = set(strategy.endpoints())
        for endpoint in sorted(changed):
            times = source.timestamps(endpoint) if endpoint in held else ()
            if not (times and self._append(db, endpoint, times)):
                db.execute("DELETE FROM sliding_chunks WHERE endpoint = ?", (endpoint,))
                self.insert(db, endpoint, times)

    def _append(self, db: sqlite3.Connection, endpoint: str, times: Sequence[float]) -> bool:
        """Write `times` as the stored rows pruned below `times[0]` plus a new tail.

        Returns False (nothing written) when the rows are not a prefix of `times` by count:
        a late hit went in among them, so the endpoint is rewritten instead.
        """
        last = db.execute(
            "SELECT MAX(last) FROM sliding_chunks WHERE endpoint = ?", (endpoint,)
        ).fetchone()[0]
        if last is None:
            return False  # no rows: the endpoint is written whole
        kept = bisect_right(times, last)
        first = times[0]
        whole = db.execute(
            "SELECT COALESCE(SUM(n), 0) FROM sliding_chunks WHERE endpoint = ? AND first >= ?",
            (endpoint, first),
        ).fetchone()[0]
        straddling = db.execute(
            "SELECT id, stamps FROM sliding_chunks WHERE endpoint = ? AND first < ? AND last >= ?",
            (endpoint, first, first),
        ).fetchall()
        trimmed = [(row_id, unpack(blob)) for row_id, blob in straddling]
        trimmed = [(row_id, values[bisect_left(values, first) :]) for row_id, values in trimmed]
        if whole + sum(len(values) for _, values in trimmed) != kept:
            return False
        db.execute("DELETE FROM sliding_chunks WHERE endpoint = ? AND last < ?", (endpoint, first))
        for row_id, values in trimmed:
            db.execute(
                "UPDATE sliding_chunks SET first = ?, n = ?, stamps = ? WHERE id = ?",
                (values[0], len(values), pack(values), row_id),
            )
        self.insert(db, endpoint, times[kept:])
        self.merge_small(db, endpoint)
        return True

    def merge_small(self, db: sqlite3.Connection, endpoint: str) -> None:
        """Merge an endpoint's small chunks into one when there are too many of them."""
        small = db.execute(
            "SELECT id, stamps FROM sliding_chunks WHERE endpoint = ? AND n < ?",
            (endpoint, SMALL),
        ).fetchall()
        if len(small) < MAX_SMALL:
            return
        db.executemany("DELETE FROM sliding_chunks WHERE id = ?", [(row[0],) for row in small])
        self.insert(db, endpoint, merged([unpack(row[1]) for row in small]))

    def prune_rows(self, db: sqlite3.Connection, horizon: float) -> int:
        """Delete the timestamps `<= horizon` of every endpoint; how many there were."""
        pruned = 0
        for row_id, n in db.execute(
            "SELECT id, n FROM sliding_chunks WHERE last <= ?", (horizon,)
        ).fetchall():
            db.execute("DELETE FROM sliding_chunks WHERE id = ?", (row_id,))
            pruned += n
        straddling = db.execute(
            "SELECT id, stamps FROM sliding_chunks WHERE first <= ? AND last > ?",
            (horizon, horizon),
        ).fetchall()
        for row_id, blob in straddling:
            values = unpack(blob)
            cut = bisect_right(values, horizon)
            pruned += cut
            kept = values[cut:]
            db.execute(
                "UPDATE sliding_chunks SET first = ?, n = ?, stamps = ? WHERE id = ?",
                (kept[0], len(kept), pack(kept), row_id),
            )
        return pruned

    def add_merged(self, db: sqlite3.Connection, parts: Mapping[str, Sequence[float]]) -> None:
        """Add each endpoint's sorted times in `parts`, merged with the chunks they overlap
        (so chunks never do), then merge its small chunks when there are too many: a few
        statements for every endpoint at once, the overlapped chunks found by their ends
        first and only those read whole."""  # noqa: D205, D209
        parts = {endpoint: times for endpoint, times in parts.items() if times}
        if not parts:
            return
        refuse_damaged_chunks(db, list(parts))
        low = min(times[0] for times in parts.values())
        ends = "SELECT id, endpoint, last FROM sliding_chunks WHERE last > ?"
        overlapped = [
            (row_id, endpoint)
            for row_id, endpoint, last in rows_of(db, ends, list(parts), (low,))
            if last > parts[endpoint][0]
        ]
        ids = [row_id for row_id, _ in overlapped]
        endpoint_of = dict(overlapped)
        merged_with: dict[str, array[float]] = {}
        stamps = "SELECT id, stamps, n, first, last FROM sliding_chunks"
        for row_id, blob, *held in rows_of(db, stamps, ids, column="id"):
            endpoint = endpoint_of[row_id]
            times = checked(endpoint, unpack(blob), *held)
            merged_with.setdefault(endpoint, array("d", parts[endpoint])).extend(times)
        db.executemany("DELETE FROM sliding_chunks WHERE id = ?", [(i,) for i in ids])
        rows = chain.from_iterable(
            self._rows(e, array("d", sorted(merged_with[e])) if e in merged_with else times)
            for e, times in parts.items()
        )
        db.executemany(_INSERT_CHUNK, rows)
        small = "SELECT endpoint FROM sliding_chunks WHERE n < ?"
        counts = Counter(row[0] for row in rows_of(db, small, list(parts), (SMALL,)))
        for endpoint in sorted(e for e, n in counts.items() if n >= MAX_SMALL):
            self.merge_small(db, endpoint)

    def insert(self, db: sqlite3.Connection, endpoint: str, times: Sequence[float]) -> None:
        """Add `times` (sorted) to `endpoint` as new chunks."""
        db.executemany(_INSERT_CHUNK, self._rows(endpoint, times))

    def _rows(self, endpoint: str, times: Sequence[float]) -> Iterator[tuple[Any, ...]]:
        """The `sliding_chunks` rows (no id) of `times` (sorted) of `endpoint`."""
        for chunk in _chunked(times, CHUNK):
            yield (endpoint, chunk[0], chunk[-1], len(chunk), pack(chunk))


class DocumentLayout(SqliteLayout):
    """Any other strategy: its compact state as one document in meta."""

    def read(
        self, db: sqlite3.Connection, endpoints: list[str] | None, since: float, extras: Any
    ) -> Strategy:
        """Not used: the store reads the document itself."""
        raise NotImplementedError

    def write_whole(self, db: sqlite3.Connection, strategy: Strategy) -> None:
        """Nothing: the store writes the document in meta."""

    def clear(self, db: sqlite3.Connection) -> None:
        """Nothing to delete (the meta row is replaced)."""

    def document(self, strategy: Strategy) -> bytes:
        """The strategy's compact state, encoded."""
        from hitcount.persist.bigvalues import encode_chunks  # a writer's: no reader loads it

        return b"".join(encode_chunks(strategy.to_compact_state()))

    def endpoints(self, db: sqlite3.Connection) -> list[str]:
        """Not known without decoding the document."""
        return []

    def entries(self, db: sqlite3.Connection) -> int:
        """Not known without decoding the document."""
        return 0


def _chunked(times: Sequence[float], size: int) -> Iterator[Sequence[float]]:
    for start in range(0, len(times), size):
        yield times[start : start + size]


def scoped_endpoints(
    db: sqlite3.Connection, layout: SqliteLayout, patterns: Sequence[str], capped: bool
) -> list[str]:
    """The endpoints `patterns` name or match, and a capped state's overflow: its hits bound
    every other endpoint's answer (`Answering._overflow`)."""  # noqa: D205, D209
    if all(not is_glob(p) for p in patterns):
        names = list(patterns)
    else:
        names = [name for name in layout.endpoints(db) if any(matches(name, p) for p in patterns)]
    return [*names, OVERFLOW_ENDPOINT] if capped and OVERFLOW_ENDPOINT not in names else names

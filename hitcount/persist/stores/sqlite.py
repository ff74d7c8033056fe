"""`sqlite:///PATH` (or a `.db` path): the state in a SQLite database, in native tables.

Tables (see docs/sqlite.md): `meta` (the header: strategy, clock, horizon, lateness,
metrics, strategy-wide times, and the documents of strategies kept whole and of the
distinct-users sketches), the strategy's rows (`sliding_chunks`, `buckets`; see
`sqlite_layouts`), `events` (append-only: every event a save brought) and `inputs`
(how far each input file was read).

The database is in WAL mode: readers never wait for a writer and see the last committed
state. Every save is one transaction; a counter loaded by `updating` is saved as the change
since it was read (an append costs what it adds), any other counter replaces every row.
Writers of the same state take turns through an `flock` on `PATH.lock`, as the file store.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.errors import StateError, StoreUnavailableError
from hitcount.model.globs import is_glob, matches
from hitcount.model.metrics import plain
from hitcount.persist.document import FORMAT, VERSION, encode, from_bytes
from hitcount.persist.stores.base import EVERYTHING, Scope, Store
from hitcount.persist.stores.file import FileStore
from hitcount.persist.stores.sqlite_layouts import SCHEMA, DocumentLayout, layout_for, rows_of

if TYPE_CHECKING:
    from hitcount.engine import HitCounter

SQLITE_MAGIC = b"SQLite format 3\x00"
#: Seconds SQLite itself waits for a lock (writers of hitcount already take turns).
BUSY_TIMEOUT_S = 10.0
#: Events kept in the document a load returns (the events table keeps them all).
RECENT_EVENTS = 200

_META_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (path TEXT PRIMARY KEY, position TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS distinct_sketches (
    endpoint TEXT NOT NULL, bucket INTEGER NOT NULL, sketch TEXT NOT NULL,
    PRIMARY KEY (endpoint, bucket)) WITHOUT ROWID;
"""


class SqliteStore(Store):
    """A state in one SQLite database file."""

    def __init__(self, path: str | os.PathLike[str], *, url: str | None = None) -> None:
        self.path = Path(path).expanduser()
        self.url = url or str(self.path)
        self._lock = FileStore(self.path)  # its flock on PATH.lock, and its checks
        self._db: sqlite3.Connection | None = None
        self._base: tuple[Any, Any, list[dict[str, Any]]] | None = None

    # -- connection ---------------------------------------------------------------------

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        """The open database (None: it does not exist and `create` is false)."""
        if self._db is not None:
            return self._db
        if self.path.is_dir():
            raise StateError(f"{self.path}: is a directory, not a state file")
        if not self.path.exists():
            if not create:
                return None
            self._lock._ensure_directory()
        else:
            self._check_is_sqlite()
        with self.errors("opening"):
            # one connection per store; a store may be handed to another thread (follow's
            # commits), never used by two at once
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._refuse_foreign(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_META_SCHEMA + SCHEMA)
        self._db = db
        return db

    def _check_is_sqlite(self) -> None:
        try:
            with self.path.open("rb") as stream:
                head = stream.read(len(SQLITE_MAGIC))
        except OSError as err:
            raise StoreUnavailableError(f"{self.path}: cannot read state: {err.strerror}") from err
        if head and head != SQLITE_MAGIC:
            raise StateError(
                f"{self.path}: exists and is not a hitcount SQLite state; refusing to use it",
                hint="pass another --state path (a .json path keeps a JSON state file)",
            )

    def _refuse_foreign(self, db: sqlite3.Connection) -> None:
        """Another program's database (tables, but no hitcount meta) is never changed."""
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if not tables:
            return
        meta = None
        if "meta" in tables:
            meta = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if meta is None or meta[0] != FORMAT:
            db.close()
            raise StateError(
                f"{self.path}: a SQLite database that is not a hitcount state; refusing to use it",
                hint="pass another --state path (a new file is created)",
            )

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn sqlite3's exceptions into one clear StoreUnavailableError or StateError."""
        try:
            yield
        except sqlite3.OperationalError as err:
            if "locked" in str(err) or "busy" in str(err):
                raise StoreUnavailableError(
                    f"{self.path}: the database stayed locked for {plain(BUSY_TIMEOUT_S)} s"
                    f" ({doing})",
                    hint="another program (a sqlite3 shell?) holds a write transaction: end it",
                ) from err
            raise StoreUnavailableError(
                f"{self.path}: cannot use the database ({doing}): {err}"
            ) from err
        except sqlite3.DatabaseError as err:
            raise StateError(
                f"{self.path}: damaged database ({doing}): {err}",
                hint="restore a snapshot into a new state (hitcount snapshot restore)",
            ) from err

    def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reading --------------------------------------------------------------------------

    def _meta(self, db: sqlite3.Connection) -> dict[str, Any] | None:
        rows = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if not rows:
            return None
        if rows.get("format") != FORMAT:
            raise StateError(f"{self.path}: not a hitcount state (no hitcount metadata)")
        return rows

    def header(self) -> dict[str, Any] | None:
        """The meta table (None: nothing saved)."""
        db = self._connect(create=False)
        if db is None:
            return None
        with self.errors("reading the state"):
            return self._meta(db)

    def load(self) -> bytes | None:
        """The whole state as a state document."""
        return self.load_scoped(EVERYTHING)

    def load_scoped(self, scope: Scope) -> bytes | None:
        """A state document holding what `scope` needs: its endpoints, its window."""
        db = self._connect(create=False)
        if db is None:
            return None
        with self.errors("reading the state"):
            db.execute("BEGIN")  # one consistent view of every table
            try:
                return self._document(db, scope)
            finally:
                db.execute("COMMIT")

    def _document(self, db: sqlite3.Connection, scope: Scope) -> bytes | None:
        meta = self._meta(db)
        if meta is None:
            return None
        spec = json.loads(meta["strategy"])
        layout = layout_for(spec["name"], spec["params"])
        extras = json.loads(meta.get("extras") or "null")
        endpoints = None
        if scope.patterns is not None and not isinstance(layout, DocumentLayout):
            endpoints = self._endpoints(db, layout, scope)
        if scope.last_s is None and scope.patterns is not None:
            endpoints = []
        since = _since(scope, meta)
        if isinstance(layout, DocumentLayout):
            # one document: read whole, except for the header alone (sizes come from it)
            state: Any = msgspec.Raw(meta["state"]) if scope.patterns != () else None
            if state is None:
                state = layout.empty().to_compact_state()
        else:
            rows = [] if scope.last_s is None else endpoints
            state = layout.read(db, rows, since, extras).to_compact_state()
        events = db.execute(
            "SELECT event FROM events ORDER BY id DESC LIMIT ?", (RECENT_EVENTS,)
        ).fetchall()
        inputs = [json.loads(row[0]) for row in db.execute("SELECT position FROM inputs")]
        document = {
            "format": FORMAT,
            "version": int(meta["version"]),
            "created_at": meta.get("created_at", ""),
            "strategy": spec,
            "clock": json.loads(meta["clock"]),
            "horizon": json.loads(meta["horizon"]),
            "max_lateness_s": float(meta["max_lateness_s"]),
            "metrics": json.loads(meta["metrics"]),
            "recent_events": [json.loads(row[0]) for row in reversed(events)],
            "state": state,
            "distinct": self._distinct(db, meta, endpoints, since),
            "inputs": inputs,
        }
        if meta.get("max_endpoints"):
            document["max_endpoints"] = json.loads(meta["max_endpoints"])
        if (keys := json.loads(meta.get("keys") or "null")) is not None:
            document["keys"] = keys
        return encode(document)

    def _distinct(
        self,
        db: sqlite3.Connection,
        meta: dict[str, Any],
        endpoints: list[str] | None,
        since: float,
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

    def _endpoints(self, db: sqlite3.Connection, layout: Any, scope: Scope) -> list[str]:
        patterns = scope.patterns or ()
        if all(not is_glob(p) for p in patterns):
            return list(patterns)
        return [name for name in layout.endpoints(db) if any(matches(name, p) for p in patterns)]

    def sizes(self) -> dict[str, int] | None:
        """Endpoints and entries held, and the bytes of the database and its WAL."""
        db = self._connect(create=False)
        if db is None:
            return None
        with self.errors("reading the state"):
            meta = self._meta(db)
            if meta is None:
                return None
            spec = json.loads(meta["strategy"])
            layout = layout_for(spec["name"], spec["params"])
            if isinstance(layout, DocumentLayout):
                return None
            endpoints, entries = len(layout.endpoints(db)), layout.entries(db)
        return {
            "endpoints_count": endpoints,
            "memory_entries": entries,
            "state_bytes": _size(self.path) + _size(Path(f"{self.path}-wal")),
        }

    # -- writing --------------------------------------------------------------------------

    def loaded(self, counter: HitCounter) -> None:
        """Remember the counter `updating` loaded: its next save writes only its changes."""
        strategy = counter.strategy
        layout = layout_for(strategy.name, strategy.params)
        self._base = (strategy, layout.baseline(strategy), list(counter.recent_events))

    def save(self, data: bytes) -> None:
        """Replace the whole state with a state document's."""
        self._write(from_bytes(data, "the state to save"), whole=True)

    def save_counter(
        self, counter: HitCounter, encoded: Callable[[HitCounter], Iterable[bytes]]
    ) -> None:
        """Write the counter's rows in one transaction: its changes, or all of it."""
        self._write(counter, whole=False)

    def _write(self, counter: HitCounter, *, whole: bool) -> None:
        db = self._connect(create=True)
        assert db is not None
        strategy = counter.strategy
        layout = layout_for(strategy.name, strategy.params)
        base = self._base
        with self.errors("writing the state"):
            db.execute("BEGIN IMMEDIATE")
            try:
                old = self._meta(db)
                same = old is not None and json.loads(old["strategy"]) == _spec(strategy)
                if not whole and same and base is not None and base[0] is strategy:
                    layout.write_delta(db, strategy, base[1])
                    self._write_events(db, base[2], list(counter.recent_events))
                    db.execute("DELETE FROM distinct_sketches")
                else:
                    self._clear(db)
                    layout.write_whole(db, strategy)
                    self._write_events(db, [], list(counter.recent_events))
                self._write_sketches(db, counter)
                self._write_meta(db, counter, layout)
                self._write_inputs(db, counter)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        self._base = (strategy, layout.baseline(strategy), list(counter.recent_events))

    def write_rows(
        self,
        counter: HitCounter,
        events_before: list[dict[str, Any]],
        add_rows: Callable[[sqlite3.Connection], int],
    ) -> None:
        """One transaction: `add_rows` (it returns the stored entries it pruned), the events
        since `events_before`, and the counter's header."""  # noqa: D205, D209
        db = self._connect(create=True)
        assert db is not None
        layout = layout_for(counter.strategy.name, counter.strategy.params)
        with self.errors("writing the state"):
            db.execute("BEGIN IMMEDIATE")
            try:
                counter.metrics.pruned_events += add_rows(db)
                self._write_events(db, events_before, list(counter.recent_events))
                self._write_meta(db, counter, layout)
                self._write_inputs(db, counter)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _clear(self, db: sqlite3.Connection) -> None:
        tables = ("meta", "events", "inputs", "distinct_sketches", "buckets", "sliding_chunks")
        for table in tables:
            db.execute(f"DELETE FROM {table}")  # fixed table names

    def _write_events(
        self, db: sqlite3.Connection, before: list[dict[str, Any]], after: list[dict[str, Any]]
    ) -> None:
        """Append the events `after` holds beyond `before` (both the newest, in order)."""
        overlap = min(len(before), len(after))
        while overlap and before[len(before) - overlap :] != after[:overlap]:
            overlap -= 1
        rows = [(json.dumps(event),) for event in after[overlap:]]
        db.executemany("INSERT INTO events (event) VALUES (?)", rows)

    def _write_meta(self, db: sqlite3.Connection, counter: HitCounter, layout: Any) -> None:
        strategy = counter.strategy
        horizon = strategy.horizon if math.isfinite(strategy.horizon) else None
        meta: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "strategy": json.dumps(_spec(strategy)),
            "clock": json.dumps(counter.clock),
            "horizon": json.dumps(horizon),
            "max_lateness_s": repr(counter.max_lateness_s),
            "metrics": json.dumps(counter.metrics.as_dict()),
            "extras": json.dumps(layout.extras(strategy)),
            "max_endpoints": json.dumps(counter.max_endpoints),
            "keys": json.dumps(None if counter.keying.default else counter.keying.to_dict()),
            "distinct": json.dumps(_distinct_parameters(counter)),
        }
        if isinstance(layout, DocumentLayout):
            meta["state"] = layout.document(strategy)
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())

    def _write_sketches(self, db: sqlite3.Connection, counter: HitCounter) -> None:
        """Insert the counter's distinct-users sketches, one row each (the table is empty)."""
        if counter.distinct is None:
            return
        state = counter.distinct.to_state(compact=False)
        rows = (
            (endpoint, int(bucket), sketch)
            for endpoint, buckets in state["endpoints"].items()
            for bucket, sketch in buckets.items()
        )
        db.executemany("INSERT OR REPLACE INTO distinct_sketches VALUES (?, ?, ?)", rows)

    def _write_inputs(self, db: sqlite3.Connection, counter: HitCounter) -> None:
        rows = [(path, json.dumps(pos.to_dict())) for path, pos in counter.inputs.items()]
        db.execute("DELETE FROM inputs")
        db.executemany("INSERT INTO inputs VALUES (?, ?)", rows)

    def locked(self) -> AbstractContextManager[None]:
        """An exclusive `flock` on `PATH.lock` (writers take turns; readers never wait)."""
        return self._locked()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._lock.on_wait = self.on_wait
        with self._lock.locked():
            self._base = None
            try:
                yield
            finally:
                self._base = None


def _spec(strategy: Any) -> dict[str, Any]:
    return {"name": strategy.name, "params": dict(strategy.params)}


def _distinct_parameters(counter: HitCounter) -> dict[str, Any] | None:
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


def _since(scope: Scope, meta: dict[str, Any]) -> float:
    if scope.last_s is None or not math.isfinite(scope.last_s):
        return -math.inf
    clock = json.loads(meta["clock"])
    end = scope.now if scope.now is not None else (clock or 0.0)
    return float(end - scope.last_s)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0

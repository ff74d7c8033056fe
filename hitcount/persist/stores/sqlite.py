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
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.errors import StateError, StoreUnavailableError
from hitcount.model.metrics import plain
from hitcount.persist.decoding import FORMAT, encode
from hitcount.persist.reading import SQLITE_MAGIC as SQLITE_MAGIC  # re-exported
from hitcount.persist.reading import read_head
from hitcount.persist.stores import sqlite_versions as meta_rows
from hitcount.persist.stores.base import EVERYTHING, Scope, Store
from hitcount.persist.stores.file import FileStore, existing, refuse_other_names
from hitcount.persist.stores.sqlite_bulk import DAMAGED_HINT, json_value
from hitcount.persist.stores.sqlite_documents import SCHEMA as LAYOUTS_SCHEMA
from hitcount.persist.stores.sqlite_documents import layout_for
from hitcount.persist.stores.sqlite_fresh import build_fresh, can_build
from hitcount.persist.stores.sqlite_layouts import DocumentLayout, scoped_endpoints
from hitcount.persist.stores.sqlite_log import EVENTS_INDEX, compact, file_sizes, read_events
from hitcount.persist.stores.sqlite_open import (
    empty,
    failure,
    open_state,
)
from hitcount.persist.stores.sqlite_sketches import SCHEMA as SKETCHES_SCHEMA
from hitcount.persist.stores.sqlite_sketches import (
    holds_sketches,
    read_distinct,
    sketch_bytes,
    stored_rows,
)

if TYPE_CHECKING:
    from types import ModuleType

    from hitcount.engine import HitCounter
    from hitcount.persist.stores.sqlite_sketches import Sketches

#: Seconds SQLite itself waits for a lock (writers of hitcount already take turns).
BUSY_TIMEOUT_S = 10.0
#: Events kept in the document a load returns (the events table keeps them all).
RECENT_EVENTS = 200

_META_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (path TEXT PRIMARY KEY, position TEXT NOT NULL);
"""

_SCHEMA = _META_SCHEMA + SKETCHES_SCHEMA + LAYOUTS_SCHEMA + EVENTS_INDEX
_SCHEMA_NAMES = meta_rows.schema_names(_SCHEMA)
#: What a reader needs (an index only speeds it up; one made since is added by a writer).
_TABLE_NAMES = meta_rows.schema_names(_SCHEMA, "TABLE")


class SqliteStore(Store):
    """A state in one SQLite database file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        url: str | None = None,
        legacy: Path | None = None,
        make_directory: bool = True,
    ) -> None:
        self.path = Path(path).expanduser()
        self.url = url or str(self.path)
        #: An old JSON state imported when the database does not exist yet (the default).
        self.legacy = legacy
        # its flock on PATH.lock, its checks, and whether a missing directory is created
        self._lock = FileStore(self.path, make_directory=make_directory)
        self._db: sqlite3.Connection | None = None
        #: What `updating` loaded (strategy, its rows' baseline, the counter, its sketches).
        self._base: tuple[Any, Any, HitCounter, Sketches | None] | None = None

    # -- connection ---------------------------------------------------------------------

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        """The open database (None: it does not exist and `create` is false)."""
        if self._db is not None:
            return self._db
        if self.path.is_dir():
            raise StateError(f"{self.path}: is a directory, not a state file")
        if self.legacy is not None and not self.path.exists() and self.legacy.exists():
            from hitcount.persist.stores.sqlite_import import import_legacy  # once per state

            self._lock._ensure_directory()
            import_legacy(self, self.legacy, SqliteStore, self.on_note)
        status = existing(self.path)
        if status is None or (not create and empty(status)):  # a reader writes nothing
            if not create:
                return None
            self._lock._ensure_directory()
        else:
            self._check_is_sqlite()
            refuse_other_names(self.path, status)
        with self.errors("opening"):
            names = (_SCHEMA_NAMES, _TABLE_NAMES)
            self._db = open_state(self.path, BUSY_TIMEOUT_S, create, _SCHEMA, names)
        return self._db

    def _check_is_sqlite(self) -> None:
        try:
            head = read_head(self.path, len(SQLITE_MAGIC))
        except OSError as err:
            raise StoreUnavailableError(f"{self.path}: cannot read state: {err.strerror}") from err
        if head and head != SQLITE_MAGIC:
            raise StateError(
                f"{self.path}: exists and is not a hitcount SQLite state; refusing to use it",
                hint="pass another --state path (a .json path keeps a JSON state file)",
            )

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """sqlite3's exceptions as one clear error; a damaged row's error names the file."""
        try:
            yield
        except StateError as err:
            if type(err) is not StateError or err.message.startswith(f"{self.path}: "):
                raise
            raise StateError(f"{self.path}: {err.message}", hint=err.hint) from err
        except sqlite3.OperationalError as err:
            if "locked" in str(err) or "busy" in str(err):
                raise StoreUnavailableError(
                    f"{self.path}: the database stayed locked for {plain(BUSY_TIMEOUT_S)} s"
                    f" ({doing})",
                    hint="another program (a sqlite3 shell?) holds a write transaction: end it",
                ) from err
            raise failure(self.path, doing, err) from err
        except sqlite3.DatabaseError as err:
            what = f"{self.path}: damaged database ({doing}): {err}"
            raise StateError(what, hint=DAMAGED_HINT) from err

    def fold_wal(self) -> None:
        """Move the WAL into the database file and stop using one (a file whole by itself)."""
        if self._db is not None:
            with self.errors("checkpointing"):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.execute("PRAGMA journal_mode=DELETE")

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
        spec = meta_rows.strategy_spec(meta)
        layout = layout_for(spec["name"], spec["params"])
        extras = meta_rows.meta_json(meta, "extras", "null")
        endpoints = None
        whole = isinstance(layout, DocumentLayout) or "state" in meta  # or an older save's
        if scope.patterns is not None and not whole:
            capped = meta_rows.meta_json(meta, "max_endpoints", "null") is not None
            endpoints = scoped_endpoints(db, layout, scope.patterns, capped)
        if scope.last_s is None and scope.patterns is not None:
            endpoints = []
        since = _since(scope, meta)
        sizes_only = scope.patterns is None and scope.last_s is None
        if whole:
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
        positions = db.execute("SELECT position FROM inputs").fetchall()
        inputs = [json_value(row[0], "inputs row") for row in positions]
        document = {
            "format": FORMAT,
            "version": meta_rows.document_version(self._version(meta)),
            "created_at": meta.get("created_at", ""),
            "strategy": spec,
            "clock": meta_rows.meta_clock(meta),
            "horizon": meta_rows.meta_json(meta, "horizon"),
            "max_lateness_s": meta_rows.meta_seconds(meta, "max_lateness_s"),
            "metrics": meta_rows.meta_json(meta, "metrics"),
            "recent_events": [json_value(row[0], "events row") for row in reversed(events)],
            "state": state,
            # sizes only: `sizes` sums the sketches' bytes instead of decoding them
            "distinct": read_distinct(
                db, meta, [] if sizes_only or not scope.users else endpoints, since
            ),
            "inputs": inputs,
            "alerts": meta_rows.meta_json(meta, "alerts", "[]"),
        }
        if meta.get("max_endpoints"):
            document["max_endpoints"] = meta_rows.meta_json(meta, "max_endpoints")
        if (keys := meta_rows.meta_json(meta, "keys", "null")) is not None:
            document["keys"] = keys
        return encode(document)

    def _version(self, meta: dict[str, Any]) -> int:
        version = meta_rows.meta_version(meta.get("version"))
        if version is None:
            raise StateError(f"{self.path}: damaged meta row 'version': {meta.get('version')!r}")
        return version

    def holds_users(self) -> bool | None:
        """Whether the state holds any distinct-users sketch (a window may read none)."""
        db = self._connect(create=False)
        if db is None:
            return None
        with self.errors("reading the state"):
            return holds_sketches(db)

    def sizes(self) -> dict[str, int] | None:
        """Endpoints and entries held, and the bytes of the database and its WAL."""
        db = self._connect(create=False)
        if db is None:
            return None
        files = file_sizes(self.path)
        with self.errors("reading the state"):
            meta = self._meta(db)
            if meta is None:
                return None
            spec = meta_rows.strategy_spec(meta)
            layout = layout_for(spec["name"], spec["params"])
            users = sketch_bytes(db) if meta.get("distinct") else {}
            if isinstance(layout, DocumentLayout) or "state" in meta:
                return {**files, **users}
            endpoints, entries = len(layout.endpoints(db)), layout.entries(db)
        return {
            "endpoints_count": endpoints,
            "memory_entries": entries,
            "state_bytes": files["database_bytes"] + files["wal_bytes"],
            **files,
            **users,
        }

    def read_events(
        self, name: str | None, start: float, end: float, limit: int
    ) -> list[dict[str, Any]] | None:
        """The last `limit` events of the whole log (see `Store.read_events`)."""
        db = self._connect(create=False)
        if db is None:
            return None
        with self.errors("reading the events"):
            return read_events(db, name, start, end, limit)

    def vacuum(self) -> dict[str, dict[str, int]]:
        """Checkpoint the write-ahead log and compact the database (under the writers' lock).

        Returns the file sizes before and after.
        """
        with self.locked():
            db = self._connect(create=False)
            if db is None or self.header() is None:
                raise StateError(
                    f"no saved state at {self.describe()}",
                    hint="run `hitcount replay FILE` first (or pass --state/--store)",
                )
            before = file_sizes(self.path)
            with self.errors("compacting the state"):
                compact(db)
            return {"before": before, "after": file_sizes(self.path)}

    # -- writing --------------------------------------------------------------------------

    def loaded(self, counter: HitCounter) -> None:
        """Remember the counter `updating` loaded: its next save writes only its changes."""
        strategy = counter.strategy
        layout = layout_for(strategy.name, strategy.params)
        baseline: Any = layout.baseline(strategy)
        if "state" in (self.header() or {}):  # an older save's whole document
            baseline = {} if isinstance(baseline, dict) else None  # every endpoint gets rows
        elif layout.tracks_changes:
            from hitcount.persist.stores.sqlite_changes import Changes  # a reader never needs it

            baseline = Changes.watch(counter)
        db = self._connect(create=False)
        with self.errors("reading the state"):  # the sketches as stored, not encoded again
            sketches = stored_rows(db, counter) if db is not None else {}
        self._base = (strategy, baseline, counter, sketches)

    def save(self, data: bytes) -> None:
        """Replace the whole state with a state document's."""
        # here, not at the top: the counter's modules would cost every read-only command's
        # start-up (a query on SQLite never builds a HitCounter)
        from hitcount.persist.document import from_bytes

        self._write(from_bytes(data, "the state to save"), whole=True)

    def save_counter(
        self, counter: HitCounter, encoded: Callable[[HitCounter], Iterable[bytes]]
    ) -> None:
        """Write the counter's rows in one transaction: its changes, or all of it."""
        self._write(counter, whole=False)

    def _write(self, counter: HitCounter, *, whole: bool) -> None:
        strategy = counter.strategy
        layout = layout_for(strategy.name, strategy.params)
        base = self._base
        loaded_here = not whole and base is not None and base[2] is counter
        built, sketches = False, None
        if not loaded_here and self._db is None and can_build(self.path, self.legacy):
            fill = partial(_writes_module().write_all, counter=counter, layout=layout)
            self._lock._ensure_directory()
            with self.errors("writing the state"):
                built = build_fresh(self.path, _SCHEMA, fill, counter.metrics.total_hits)
        if not built:
            db = self._connect(create=True)
            assert db is not None
            with self._writing(db):
                sketches = self._write_into(db, counter, layout, loaded_here)
        counter.unsaved_events.clear()
        baseline = _writes_module().next_baseline(self._base, layout, counter)
        self._base = (strategy, baseline, counter, sketches)

    def _write_into(
        self, db: sqlite3.Connection, counter: HitCounter, layout: Any, loaded_here: bool
    ) -> Sketches | None:
        """Write the counter into the open database: its changes, or every row."""
        strategy, base, writes = counter.strategy, self._base, _writes_module()
        old = self._meta(db)
        same = old is not None and meta_rows.strategy_spec(old) == writes.spec(strategy)
        if not (loaded_here and same and base is not None and base[0] is strategy):
            writes.clear(db, keep_events=loaded_here)  # a swapped strategy keeps its event log
            writes.write_all(db, counter, layout, whole=not loaded_here)
            return None  # the sketches are as stored
        before = base[3] if base[3] is not None else stored_rows(db, counter)
        changed: Sketches | None = writes.write_changes(db, counter, layout, base[1], before)
        return changed

    def write_rows(
        self, counter: HitCounter, add_rows: Callable[[sqlite3.Connection], int]
    ) -> None:
        """One transaction: `add_rows` (it returns the stored entries it pruned), the
        counter's new events, and its header."""  # noqa: D205, D209
        db = self._connect(create=True)
        assert db is not None
        layout = layout_for(counter.strategy.name, counter.strategy.params)
        writes = _writes_module()
        with self._writing(db):
            counter.metrics.pruned_events += add_rows(db)
            writes.write_events(db, counter, whole=False)
            writes.write_meta(db, counter, layout)
            writes.write_inputs(db, counter)
        counter.unsaved_events.clear()

    @contextlib.contextmanager
    def _writing(self, db: sqlite3.Connection) -> Iterator[None]:
        """One write transaction: committed whole, or rolled back on any error."""
        with self.errors("writing the state"):
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite ends it itself on some errors (a full disk)
                    db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive `flock` on `PATH.lock` (writers take turns; readers never wait)."""
        self._lock.on_wait = self.on_wait
        with self._lock.locked():
            self._base = None
            try:
                yield
            finally:
                self._base = None


def _writes_module() -> ModuleType:
    """`sqlite_writes`, imported by the first write (a read-only command never needs it)."""
    from hitcount.persist.stores import sqlite_writes

    return sqlite_writes


def _since(scope: Scope, meta: dict[str, Any]) -> float:
    if scope.last_s is None or not math.isfinite(scope.last_s):
        return -math.inf
    clock = meta_rows.meta_clock(meta)
    end = scope.now if scope.now is not None else (clock or 0.0)
    return float(end - scope.last_s)

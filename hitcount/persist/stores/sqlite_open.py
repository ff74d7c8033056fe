"""Opening a SQLite state, and what its errors mean for the user.

A state is opened read-write. A reader that cannot write beside it (a state owned by
another user, a read-only directory or mount, a full disk: SQLite in WAL mode creates
`PATH-shm` even to read) opens it read-only instead, and when even that needs the missing
`-shm`, as an immutable file: that reads the database file alone, so it is done only when no
`-wal` file holds frames the database file lacks.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from hitcount.errors import HitcountError, StateError, StoreUnavailableError
from hitcount.persist.stores import sqlite_versions as meta_rows
from hitcount.persist.stores.sqlite_bulk import DAMAGED_HINT
from hitcount.persist.stores.sqlite_fresh import refuse_foreign

#: SQLite's messages for a write it could not make (the file, its directory or the disk).
_CANNOT_WRITE = ("readonly", "unable to open", "disk i/o error", "disk is full")


def empty(status: os.stat_result) -> bool:
    """Whether the file is an empty regular file (no state in it yet)."""
    return stat.S_ISREG(status.st_mode) and status.st_size == 0


def connect(target: str | Path, timeout_s: float, *, uri: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode that another thread may use (follow's commits)."""
    return sqlite3.connect(
        target, timeout=timeout_s, isolation_level=None, check_same_thread=False, uri=uri
    )


#: What SQLite says of a table that is not the one a state of this layout holds: the state
#: is damaged (exit 4), not out of reach (exit 5, which a caller may retry).
_TABLE_DAMAGE = ("no such column", "no such table", "columns but")


def damaged_table(err: sqlite3.OperationalError) -> bool:
    """Whether `err` says a table has another shape than this layout's."""
    return any(sign in str(err) for sign in _TABLE_DAMAGE)


def cannot_write(err: sqlite3.OperationalError) -> bool:
    """Whether `err` says SQLite could not write the database or a file beside it."""
    return any(what in str(err).lower() for what in _CANNOT_WRITE)


def open_state(
    path: Path,
    timeout_s: float,
    create: bool,
    schema: str,
    names: tuple[frozenset[str], frozenset[str]],
) -> sqlite3.Connection:
    """The state opened read-write; for a reader (not `create`) that cannot write, read-only.

    `names` are the schema's names and its tables' (see `open_current`, `open_read_only`).
    A reader that may not write the file opens it read-only at once: read-write, SQLite
    would make `-wal` and `-shm` files of its own in a directory it may write, which the
    state's owner could then not write through.
    """
    every, tables = names
    reader = not create and not os.access(path, os.W_OK)
    if reader and (read_only := open_read_only(path, timeout_s, tables, leave_nothing=True)):
        return read_only
    try:
        return open_current(path, timeout_s, schema, every)
    except sqlite3.OperationalError as err:
        if create or not cannot_write(err):
            raise
        read_only = open_read_only(path, timeout_s, tables)
        if read_only is None:
            raise
        return read_only


def open_current(
    path: Path, timeout_s: float, schema: str, names: frozenset[str]
) -> sqlite3.Connection:
    """The database opened read-write in WAL mode, `schema` applied when not current."""
    db = connect(path, timeout_s)
    try:
        current = meta_rows.is_current(db, names)
        if not current:
            refuse_foreign(db, path, schema)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        if not current:
            db.executescript(schema)
            meta_rows.drop_stale_chunks(db)
    except BaseException:
        db.close()
        raise
    return db


def open_read_only(
    path: Path, timeout_s: float, names: frozenset[str], *, leave_nothing: bool = False
) -> sqlite3.Connection | None:
    """A connection that only reads `path` (None: it cannot be read safely that way, or
    its layout is older, without one of the tables `names`: bringing it up to date writes;
    an index made since is only missed, reads being slower without it).

    With no `-wal` beside it and `leave_nothing`, it is read as an immutable file at once:
    SQLite would otherwise make `-wal` and `-shm` files, owned by this reader, in a
    directory it may write.
    """  # noqa: D205
    uri = path.absolute().as_uri()
    quiet = leave_nothing and not Path(f"{path}-wal").exists()
    db = connect(f"{uri}?{'immutable=1' if quiet else 'mode=ro'}", timeout_s, uri=True)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        db.close()
        if quiet or _holds_frames(Path(f"{path}-wal")):
            return None
        db = connect(f"{uri}?immutable=1", timeout_s, uri=True)
    if not meta_rows.is_current(db, names):
        db.close()
        return None
    return db


def _holds_frames(wal: Path) -> bool:
    """Whether a write-ahead log is there with something in it (an empty one, as a failed
    open on a full disk leaves, holds nothing the database file lacks)."""  # noqa: D205, D209
    try:
        return wal.stat().st_size > 0
    except FileNotFoundError:
        return False


def _disk_full(path: Path) -> bool:
    """Whether the file system holding `path` has no room left."""
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def failure(path: Path, doing: str, err: sqlite3.OperationalError) -> HitcountError:
    """The error to report for `err`, met `doing` something with the state at `path`: a
    table of another shape is a damaged state (exit 4), the rest the store out of reach."""  # noqa: D205, D209
    text = str(err)
    if damaged_table(err):
        return StateError(f"{path}: damaged state ({doing}): {text}", hint=DAMAGED_HINT)
    if "disk is full" in text.lower() or (cannot_write(err) and _disk_full(path)):
        return StoreUnavailableError(
            f"{path}: the disk holding the state is full ({doing}): {text}",
            hint=f"free some space in {path.absolute().parent}; the saved state is as it was",
        )
    if "readonly" in text.lower():
        return StoreUnavailableError(
            f"{path}: cannot write the state ({doing}): {text}",
            hint=f"run as a user who may write {path.name} and its directory {path.parent}",
        )
    return StoreUnavailableError(f"{path}: cannot use the database ({doing}): {text}")

"""The SQLite state's event log, its file sizes, and compaction (`hitcount vacuum`)."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

from hitcount.persist.stores.sqlite_bulk import json_value

#: An index of the events by their log clock, for `events --since/--until` over all of them.
EVENTS_INDEX = (
    "CREATE INDEX IF NOT EXISTS events_by_clock ON events (json_extract(event, '$.clock'));"
)


def read_events(
    db: sqlite3.Connection, name: str | None, start: float, end: float, limit: int
) -> list[dict[str, Any]]:
    """The last `limit` events named `name` (None: any) whose clock is in `(start, end]`
    (both infinite: every event, with a clock or not), oldest first."""  # noqa: D205, D209
    where: list[str] = []
    args: list[float | str] = []
    if math.isfinite(start) or math.isfinite(end):
        where.append("json_extract(event, '$.clock') > ? AND json_extract(event, '$.clock') <= ?")
        args += [start if math.isfinite(start) else -1e308, end if math.isfinite(end) else 1e308]
    if name is not None:
        where.append("json_extract(event, '$.event') = ?")
        args.append(name)
    sql = "SELECT event FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.execute(f"{sql} ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
    return [json_value(row[0], "events row") for row in reversed(rows)]


def file_sizes(path: Path) -> dict[str, int]:
    """The bytes of the database file and of its write-ahead log."""
    return {"database_bytes": size_of(path), "wal_bytes": size_of(Path(f"{path}-wal"))}


def compact(db: sqlite3.Connection) -> None:
    """Move the write-ahead log into the database, rebuild it without free pages, and
    empty the log again."""  # noqa: D205, D209
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def size_of(path: Path) -> int:
    """A file's size in bytes (0: it does not exist)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0

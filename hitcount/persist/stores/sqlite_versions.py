"""A SQLite state's meta as this hitcount reads it: versions, chunk tables, checked values.

Meta's `version` says which chunk tables the state may hold; its rows' values are read
checked (a damaged row is a `StateError` naming it). Read on every open of a state and by
every load, so it imports nothing a reader would not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, TypeGuard

from hitcount.errors import ConfigurationError, StateError
from hitcount.persist.decoding import FORMAT, VERSION
from hitcount.persist.stores.sqlite_bulk import damaged_row, json_value

#: The `version` in meta: 2 since sketches may be kept in `distinct_chunks`, 3 since
#: buckets may be kept in `bucket_chunks`; a hitcount from before does not read them. It
#: refuses a newer version (its documents carry the meta's version), so it never answers
#: from such a state without those rows; the state's documents (`snapshot save`) still say
#: `VERSION`.
LAYOUT_VERSION = VERSION + 2

#: The chunk tables, by the meta version that brought them.
CHUNK_TABLES = {2: "distinct_chunks", 3: "bucket_chunks"}


def meta_version(value: object) -> int | None:
    """Meta's `version` as an int (None: not a whole number, a damaged row)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str | bytes) and value.strip().isdigit():
        return int(value)
    return None


def document_version(layout_version: int) -> int:
    """The document version of a state whose meta says `layout_version` (up to
    `LAYOUT_VERSION`: read as it is; a version after it stays newer, so it is refused)."""  # noqa: D205, D209
    return VERSION if VERSION <= layout_version <= LAYOUT_VERSION else layout_version


def schema_names(schema: str, kind: str | None = None) -> frozenset[str]:
    """The tables and indexes `schema` (`CREATE ... IF NOT EXISTS` statements) makes; only
    those of `kind` (`TABLE`, `INDEX`) when given."""  # noqa: D205, D209
    made = (statement.split(" IF NOT EXISTS ", 1) for statement in schema.split("CREATE ")[1:])
    return frozenset(
        rest.split(None, 1)[0].split("(", 1)[0] for what, rest in made if kind in (None, what)
    )


def is_current(db: sqlite3.Connection, names: frozenset[str]) -> bool:
    """Whether `db` is a state of this layout holding every table and index in `names`:
    opening it needs no schema script, no foreign-database check, no stale-chunk cleanup.
    Anything else (no meta table, another format or version, a missing table, a damaged
    file) says no, and the open takes the long way that refuses or repairs it."""  # noqa: D205, D209
    try:
        query = "SELECT key, value FROM meta WHERE key IN ('format', 'version')"
        rows = dict(db.execute(query).fetchall())
        held = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error:
        return False
    return (
        rows.get("format") == FORMAT
        and meta_version(rows.get("version")) == LAYOUT_VERSION
        and names <= held
    )


def drop_stale_chunks(db: sqlite3.Connection) -> None:
    """Delete chunk rows a state's meta does not vouch for: a hitcount from before those
    chunks replaced the state in place (its meta says an older version) and left ours."""  # noqa: D205, D209
    row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    version = None if row is None else meta_version(row[0])
    if version is None or version >= LAYOUT_VERSION:
        return  # nothing saved, ours, or damaged (reading the header says so)
    stale = [table for since, table in CHUNK_TABLES.items() if since > version]
    if not any(db.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0] for t in stale):
        return  # fixed table names
    db.execute("BEGIN IMMEDIATE")
    try:
        for table in stale:
            db.execute(f"DELETE FROM {table}")  # fixed table names
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def meta_json(meta: Mapping[str, Any], key: str, missing: str | None = None) -> Any:
    """Meta row `key`'s JSON value; a missing (or empty) row reads as `missing`.

    Raises:
        StateError: the row is not JSON, or missing where `missing` is None.
    """
    value = meta.get(key) or missing
    if value is None:
        raise damaged_row(f"damaged state: no meta row {key!r}")
    return json_value(value, f"meta row {key!r}")


def strategy_spec(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Meta's `strategy`: `{"name": ..., "params": {...}}`.

    Raises:
        StateError: a damaged row.
    """
    spec = meta_json(meta, "strategy")
    if not (
        isinstance(spec, dict)
        and isinstance(spec.get("name"), str)
        and isinstance(spec.get("params"), dict)
    ):
        raise damaged_row("damaged meta row 'strategy': not a strategy's name and parameters")
    from hitcount.strategies import available_strategies, create_strategy

    if spec["name"] not in available_strategies():
        raise StateError(
            f"meta row 'strategy' names a strategy this hitcount does not know: {spec['name']!r}",
            hint="a newer hitcount may have written it: upgrade, or restore a snapshot",
        )
    try:
        create_strategy(spec["name"], **spec["params"])
    except ConfigurationError as err:
        raise damaged_row(f"damaged meta row 'strategy': {err.message}") from err
    return spec


def meta_seconds(meta: Mapping[str, Any], key: str) -> float:
    """Meta row `key` as a number of seconds (`max_lateness_s`).

    Raises:
        StateError: missing or not a number.
    """
    try:
        return float(meta[key])
    except (KeyError, TypeError, ValueError) as err:
        raise damaged_row(f"damaged meta row {key!r}: {meta.get(key)!r}") from err


def meta_clock(meta: Mapping[str, Any]) -> float | None:
    """Meta's `clock`: the latest hit's time, or None (nothing recorded).

    Raises:
        StateError: a damaged row.
    """
    clock = meta_json(meta, "clock")
    if is_time(clock):
        return clock
    raise damaged_row(f"damaged meta row 'clock': {clock!r} is not a time")


def is_time(value: object) -> TypeGuard[float | None]:
    """Whether a meta value is a time as JSON holds one: a number, or None (unset)."""
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))

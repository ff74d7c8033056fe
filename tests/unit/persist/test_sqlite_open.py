"""Opening a SQLite state: a current one is used as it is (no schema script, no foreign
check); anything else takes the long way, which repairs or refuses it as before."""  # noqa: D205, D209

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hitcount.persist.stores import sqlite as sqlite_store
from hitcount.persist.stores.sqlite_fresh import _names_of
from hitcount.persist.stores.sqlite_versions import LAYOUT_VERSION, is_current, schema_names
from tests.cli_helpers import assert_error, ok, run

T0 = 1_767_225_600


def _state(tmp_path: Path) -> Path:
    path, log = tmp_path / "s.db", tmp_path / "hits.ndjson"
    log.write_text("".join(f'{{"endpoint": "/e{i % 3}", "ts": {T0 + i}}}\n' for i in range(90)))
    ok(["--state", str(path), "replay", str(log), "--strategy", "sliding"])
    return path


def _current(path: Path) -> bool:
    db = sqlite3.connect(path)
    try:
        return is_current(db, sqlite_store._SCHEMA_NAMES)
    finally:
        db.close()


def test_the_names_read_from_the_schema_are_the_tables_and_indexes_it_makes() -> None:
    made = {name for name in _names_of(sqlite_store._SCHEMA) if not name.startswith("sqlite_")}
    assert schema_names(sqlite_store._SCHEMA) == made
    db = sqlite3.connect(":memory:")
    db.executescript(sqlite_store._SCHEMA)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert schema_names(sqlite_store._SCHEMA, "TABLE") == tables - {"sqlite_sequence"}
    assert {"meta", "events", "sliding_chunks", "sliding_by_endpoint"} <= made


def test_a_state_this_hitcount_saved_is_current(tmp_path: Path) -> None:
    assert _current(_state(tmp_path))


def test_a_dropped_index_is_made_again_by_the_next_open(tmp_path: Path) -> None:
    path = _state(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX sliding_by_endpoint")
    db.close()
    assert not _current(path)
    assert "/e1: 30 hits" in ok(["--state", str(path), "query", "/e1", "--last", "1h"]).stdout
    assert _current(path)


@pytest.mark.parametrize(
    "change",
    [
        f"UPDATE meta SET value = '{LAYOUT_VERSION - 1}' WHERE key = 'version'",
        "UPDATE meta SET value = 'other' WHERE key = 'format'",
        "DROP TABLE meta",
    ],
)
def test_another_version_or_format_is_not_current(tmp_path: Path, change: str) -> None:
    path = _state(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute(change)
    db.close()
    assert not _current(path)


def test_a_foreign_database_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER)")
        db.execute("INSERT INTO orders VALUES (1)")
    db.close()
    kept = path.read_bytes()
    assert not _current(path)
    assert_error(run(["--state", str(path), "metrics"]), 4, "is not a hitcount state")
    assert path.read_bytes() == kept


def _tables() -> list[str]:
    db = sqlite3.connect(":memory:")
    db.executescript(sqlite_store._SCHEMA)
    return [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def _damaged(tmp_path: Path, change: str) -> tuple[Path, Path]:
    """A state after `change` (SQL), and a file of one more hit of `/e1` to append."""
    path = _state(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute(change)
    db.close()
    more = tmp_path / "more.ndjson"
    more.write_text(f'{{"endpoint": "/e1", "ts": {T0 + 100}}}\n')
    return path, more


@pytest.mark.parametrize("table", [t for t in _tables() if t != "meta" and "sqlite_" not in t])
def test_a_state_missing_one_of_its_tables_is_refused_not_made_empty(
    tmp_path: Path, table: str
) -> None:
    """Its rows are lost: every read said "0 hits (exact)" and an append wrote a new empty
    table under them, exit 0 (QA I4). Every command refuses it now, and the file is kept."""  # noqa: D205, D209
    path, more = _damaged(tmp_path, f"DROP TABLE {table}")
    kept = path.read_bytes()
    for command in (
        ["query", "/e1", "--last", "1h"],
        ["metrics"],
        ["replay", "--append", str(more)],
    ):
        assert_error(run(["--state", str(path), *command]), 4, f"its {table} table is missing")
    assert path.read_bytes() == kept


def test_an_older_layouts_state_gains_the_tables_added_since(tmp_path: Path) -> None:
    path = _state(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE bucket_chunks")  # added after the layout before this one
        db.execute(f"UPDATE meta SET value = '{LAYOUT_VERSION - 1}' WHERE key = 'version'")
    db.close()
    assert "/e1: 30 hits" in ok(["--state", str(path), "query", "/e1", "--last", "1h"]).stdout


@pytest.mark.parametrize(
    "damage",
    ["UPDATE sliding_chunks SET n = n + 5", "UPDATE sliding_chunks SET stamps = x'00'",
     "UPDATE sliding_chunks SET first = last + 1"],
)  # fmt: skip
def test_an_append_onto_a_damaged_chunk_of_its_endpoints_is_refused(
    tmp_path: Path, damage: str
) -> None:
    """Reads refused the chunk, yet an append wrote its rows and said "saved" (QA I4): now
    it refuses too, checking the sizes its endpoints' rows say without reading any stamps."""  # noqa: D205, D209
    path, more = _damaged(tmp_path, f"{damage} WHERE endpoint = '/e1'")
    kept = path.read_bytes()
    assert_error(run(["--state", str(path), "replay", "--append", str(more)]), 4, "damaged")
    assert path.read_bytes() == kept


def test_a_chunk_whose_last_time_is_damaged_is_refused_by_a_windowed_read(tmp_path: Path) -> None:
    """A read skips chunks by their `last`: one set before its `first` made `/e1` answer
    "0 hits (exact)" (QA K7); it is refused, naming what is wrong."""  # noqa: D205, D209
    path, _ = _damaged(
        tmp_path, "UPDATE sliding_chunks SET last = first - 1 WHERE endpoint = '/e1'"
    )
    result = run(["--state", str(path), "query", "/e1", "--last", "10m"])
    assert_error(result, 4, "its first time is after its last")


def test_a_table_of_another_shape_is_a_damaged_state_not_an_unreachable_store(
    tmp_path: Path,
) -> None:
    """Exit 4, which a caller does not retry, where it was 5 ("cannot use the database";
    QA K3); the file is kept."""  # noqa: D205, D209
    path, more = _damaged(tmp_path, "DROP TABLE sliding_chunks")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sliding_chunks (endpoint TEXT, n INTEGER)")
    db.close()
    kept = path.read_bytes()
    for command in (["query", "/e1", "--last", "1h"], ["replay", "--append", str(more)]):
        assert_error(run(["--state", str(path), *command]), 4, "damaged state")
    assert path.read_bytes() == kept

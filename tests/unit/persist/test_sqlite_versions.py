"""A SQLite state says which layout wrote it: an older hitcount refuses what it cannot read.

Distinct-users sketches may be kept in `distinct_chunks` (meta `version` 2) and buckets in
`bucket_chunks` (3), tables an older hitcount does not know: it puts the version into the
document it decodes and refuses it ("newer than this hitcount understands"), so it never
answers from such a state without its chunked rows. Snapshots still say version 1. An older
hitcount that replaced such a state in place (its meta says its own version again) left our
chunks behind: those its version does not know are dropped, so the state answers as the
older hitcount wrote it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from hitcount import HitCounter, updating
from hitcount.persist.stores import SqliteStore
from hitcount.persist.stores.sqlite_bucket_chunks import read_bucket_chunks
from tests.cli_helpers import assert_error, ok, ok_json, run
from tests.unit.persist.test_sqlite_chunks import T0, _hits, _in_bulk

TABLES = ("meta", "inputs", "events", "distinct_sketches", "buckets", "sliding_chunks")


def _chunked_state(path: Path, seed: int = 4) -> None:
    hits = _hits(np.random.default_rng(seed), 5, list(range(0, 180, 3)), 40)
    with updating(SqliteStore(path), lambda: HitCounter("fixed", window_s=60)) as counter:
        assert counter.distinct is not None
        _in_bulk(counter.distinct, hits)
        counter.record_many([(endpoint, ts) for endpoint, ts, _ in hits])
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM distinct_chunks").fetchone()[0] > 0
        assert db.execute("SELECT COUNT(*) FROM bucket_chunks").fetchone()[0] > 0
        assert db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0] == 3
    db.close()


def _buckets_as_rows(path: Path) -> None:
    """Move every chunked bucket into `buckets` rows, as a hitcount before 3 keeps them."""
    with sqlite3.connect(path) as db:
        rows = list(read_bucket_chunks(db, None))
        db.execute("DELETE FROM bucket_chunks")
        db.executemany("INSERT INTO buckets VALUES (?, ?, ?, ?)", rows)
    db.close()


def _replaced_in_place(path: Path, older: Path, tables: tuple[str, ...], version: int) -> None:
    """`path` as an older hitcount's in-place replace leaves it: `older`'s rows in `tables`
    and its `version`, every other table as it was; then it answers as `older` does."""  # noqa: D205, D209
    with sqlite3.connect(path) as db:
        db.execute("ATTACH DATABASE ? AS older", (str(older),))
        for table in tables:
            db.execute(f"DELETE FROM main.{table}")
            db.execute(f"INSERT INTO main.{table} SELECT * FROM older.{table}")
        db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (version,))
    db.close()
    asked = ["query", "/e*", "--distinct", "--last", "1d", "--json"]
    assert ok_json(["--state", str(path), *asked]) == ok_json(["--state", str(older), *asked])


def test_a_state_with_chunks_says_version_3_and_its_snapshot_version_1(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _chunked_state(path)
    snapshot = tmp_path / "snap.json"
    ok(["--state", str(path), "snapshot", "save", str(snapshot)])
    assert json.loads(snapshot.read_text())["version"] == 1
    with sqlite3.connect(path) as db:  # a layout after ours: refused, not misread
        db.execute("UPDATE meta SET value = 4 WHERE key = 'version'")
    db.close()
    result = run(["--state", str(path), "query", "/e1", "--json"])
    assert_error(result, 4, "version 4 is newer than this hitcount understands (1)")


def test_chunks_an_older_hitcount_left_behind_are_dropped(tmp_path: Path) -> None:
    """The older hitcount's in-place replace: its own rows, its version 1, our chunks kept."""
    path, older = tmp_path / "s.db", tmp_path / "older.db"
    _chunked_state(path)
    with updating(SqliteStore(older), lambda: HitCounter("fixed", window_s=60)) as counter:
        for i in range(300):  # hit by hit: sketches in rows, as an older hitcount keeps them
            counter.record(f"/e{i % 3}", T0 + 9000 + i, f"v{i % 17}")
    _buckets_as_rows(older)
    with sqlite3.connect(older) as db:
        assert db.execute("SELECT COUNT(*) FROM distinct_chunks").fetchone()[0] == 0
    db.close()
    _replaced_in_place(path, older, TABLES, version=1)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM distinct_chunks").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM bucket_chunks").fetchone()[0] == 0
    db.close()


def test_bucket_chunks_a_version_2_hitcount_left_behind_are_dropped_its_sketches_kept(
    tmp_path: Path,
) -> None:
    """Version 2 knows sketch chunks but not bucket chunks: only the latter are stale."""
    path, older = tmp_path / "s.db", tmp_path / "older.db"
    _chunked_state(path)
    _chunked_state(older, seed=5)
    _buckets_as_rows(older)  # as version 2 writes its buckets
    _replaced_in_place(path, older, (*TABLES, "distinct_chunks"), version=2)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM distinct_chunks").fetchone()[0] > 0
        assert db.execute("SELECT COUNT(*) FROM bucket_chunks").fetchone()[0] == 0
    db.close()


def test_a_damaged_version_row_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _chunked_state(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 'abc' WHERE key = 'version'")
    db.close()
    for command in (["query", "/e1", "--json"], ["metrics"], ["snapshot", "save", "-"]):
        assert_error(run(["--state", str(path), *command]), 4, "damaged meta row 'version': 'abc'")
    with sqlite3.connect(path) as db:  # nothing dropped from a state whose version is unknown
        assert db.execute("SELECT COUNT(*) FROM distinct_chunks").fetchone()[0] > 0
    db.close()

"""How a SQLite state is written: sketch rows as BLOBs, a new state built whole beside it.

`data/text-rows-*.db.gz` were written by hitcount before sketches became BLOBs (commit
6069f4d: `hitcount --state S replay text-rows.ndjson -s sliding --max-window 1d`, and `-s
tiered`; 16,870 hits with users, sparse and dense sketches, every row base64 TEXT), and
`text-rows-answers.json` holds what that version answered to 15 `query --distinct` windows
of each, before and after `replay --append text-rows-more.ndjson` (600 hits, a new
endpoint). That version's own answers are the oracle: the registers are the same, so every
figure must be too.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, load_counter, updating
from hitcount.persist.stores import SqliteStore
from hitcount.persist.stores.sqlite_fresh import BIG_STATE_HITS, PAGE_BYTES
from hitcount.persist.stores.sqlite_sketches import stored_bytes
from hitcount.sketches.distinct import DistinctTracker
from hitcount.sketches.distinct_texts import sketch_blobs
from hitcount.sketches.hll import HyperLogLog
from hitcount.sketches.sketchlog import RegisterLog
from tests.cli_helpers import assert_error, gunzip, ok, ok_json, run

DATA = Path(__file__).parent / "data"
ANSWERS: dict[str, Any] = json.loads((DATA / "text-rows-answers.json").read_text())
T0 = 1_767_225_600.0


def _unpack(name: str, target: Path) -> Path:
    return gunzip(DATA / f"{name}.gz", target)


def _answers(state: Path, expected: list[dict[str, Any]]) -> None:
    for case in expected:
        args = ["--state", str(state), "query", *case["query"], "--distinct", "--json"]
        got = json.loads(ok([*args, "--now", ANSWERS["queries_now"]]).stdout)
        assert {key: got[key] for key in case["answer"]} == case["answer"], case["query"]


def _row_types(state: Path) -> dict[str, int]:
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT typeof(sketch), count(*) FROM distinct_sketches GROUP BY 1")
        types = dict(rows.fetchall())
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    return types


@pytest.mark.parametrize("name", ["text-rows-sliding.db", "text-rows-tiered.db"])
def test_a_state_with_text_sketch_rows_answers_as_before_and_after_an_append(
    tmp_path: Path, name: str
) -> None:
    state = _unpack(name, tmp_path / name)
    assert set(_row_types(state)) == {"text"}
    _answers(state, ANSWERS["states"][name]["before"])
    more = _unpack("text-rows-more.ndjson", tmp_path / "more.ndjson")
    ok(["--state", str(state), "replay", "--append", str(more)])
    _answers(state, ANSWERS["states"][name]["after"])
    types = _row_types(state)
    assert types.get("blob", 0) > 0  # the sketches the append changed are BLOBs now
    if name.endswith("sliding.db"):  # added by rows: the others stay as they were
        assert types.get("text", 0) > 0
    with sqlite3.connect(state) as db:  # both kinds of row read back to the same sketches
        rows = db.execute("SELECT sketch FROM distinct_sketches").fetchall()
    db.close()
    for (value,) in rows:
        assert HyperLogLog.from_bytes(stored_bytes(value)).to_bytes() == stored_bytes(value)
    metrics = json.loads(ok(["--state", str(state), "metrics", "--json"]).stdout)
    assert metrics["distinct_bytes"] == sum(len(stored_bytes(value)) for (value,) in rows)


def test_a_row_that_is_neither_blob_nor_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="not base64"):
        stored_bytes("not base64!")
    with pytest.raises(ValueError, match="must be a BLOB"):
        stored_bytes(12)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(
    precision=st.integers(4, 14),
    endpoints=st.integers(1, 3),
    sizes=st.lists(st.sampled_from([1, 3, 40, 300, 2500, 9000]), min_size=1, max_size=5),
    seed=st.integers(0, 10**6),
)
def test_bulk_sketch_rows_are_each_sketch_built_alone(
    precision: int, endpoints: int, sizes: list[int], seed: int
) -> None:
    """The register log's one-pass layout equals `to_bytes` of a sketch fed user by user."""
    rng = np.random.default_rng(seed)
    names = [f"/e{i}" for i in range(endpoints)]
    codes, stamps, users = [], [], []
    oracle: dict[tuple[str, int], HyperLogLog] = {}
    for minute, size in enumerate(sizes):
        for i in range(size):
            code = int(rng.integers(endpoints))
            user = f"u{seed}:{int(rng.integers(size * 2))}"
            codes.append(code)
            stamps.append(T0 + minute * 60 + 1 + i * 58 / size)
            users.append(user)
            oracle.setdefault((names[code], int(T0 // 60) + minute), HyperLogLog(precision))
            oracle[(names[code], int(T0 // 60) + minute)].add(user)
    tracker = DistinctTracker(precision=precision)
    tracker.add_columns(names, np.array(codes, dtype=np.int32), np.array(stamps), users)
    assert tracker._log is not None  # the bulk path
    got = {(endpoint, bucket): bytes(blob) for endpoint, bucket, blob in sketch_blobs(tracker)}
    assert got == {key: sketch.to_bytes() for key, sketch in oracle.items()}


def _count(state: Path, endpoint: str) -> int:
    """Hits of `endpoint` over all the state keeps."""
    return int(load_counter(SqliteStore(state)).query(endpoint, 1e9).answer.count)


def test_a_new_state_is_built_beside_and_linked_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "s.db"
    hits = [(f"/e{i % 7}", T0 + i * 0.7, f"u{i % 2900}") for i in range(12_000)]
    linked: list[tuple[str, str]] = []
    link = os.link

    def linking(source: Any, target: Any) -> None:
        linked.append((Path(source).name, Path(target).name))
        link(source, target)

    monkeypatch.setattr(os, "link", linking)
    store = SqliteStore(state)
    with updating(store, lambda: HitCounter("fixed")) as counter:
        for hit in hits:
            counter.record(*hit)
    store.close()
    assert [target for _, target in linked] == ["s.db"]
    assert linked[0][0].startswith(".s.db.") and linked[0][0].endswith(".hitcount-tmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db", "s.db.lock"]  # no leftovers
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert _row_types(state) == {"blob": len({(e, int(-(-ts // 60)) - 1) for e, ts, _ in hits})}
    for endpoint in {e for e, _, _ in hits}:
        assert _count(state, endpoint) == sum(e == endpoint for e, _, _ in hits)
    users = load_counter(SqliteStore(state)).query_distinct("/e0", 1e9).answer
    assert users.low <= len({u for e, _, u in hits if e == "/e0"}) <= users.high


def _stale_wal(tmp_path: Path) -> Path:
    """A write-ahead log holding committed pages of another database (never checkpointed)."""
    other = tmp_path / "other.db"
    db = sqlite3.connect(other, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)")
    db.execute("CREATE TABLE junk (x BLOB)")
    db.executemany("INSERT INTO junk VALUES (?)", [(os.urandom(3000),) for _ in range(60)])
    wal = Path(f"{other}-wal")
    copy = tmp_path / "stale-wal"
    shutil.copyfile(wal, copy)
    db.close()
    return copy


def test_a_stale_wal_beside_a_missing_state_is_never_applied_to_the_new_one(
    tmp_path: Path,
) -> None:
    """A `-wal` left beside a state deleted while open: a file built whole elsewhere and
    linked next to it would have the other database's pages applied to it when opened. The
    state is then written in place instead, where SQLite discards a log for an empty file."""  # noqa: D205, D209
    state = tmp_path / "s.db"
    shutil.copyfile(_stale_wal(tmp_path), f"{state}-wal")
    hits = [(f"/e{i % 5}", T0 + i, f"u{i % 40}") for i in range(3000)]
    store = SqliteStore(state)
    with updating(store, lambda: HitCounter("sliding", max_window_s=86400)) as counter:
        for hit in hits:
            counter.record(*hit)
    store.close()
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert "junk" not in tables
    for endpoint in {e for e, _, _ in hits}:
        assert _count(state, endpoint) == sum(e == endpoint for e, _, _ in hits)


def test_a_reader_holding_the_old_state_keeps_it_while_a_replay_replaces_it(
    tmp_path: Path,
) -> None:
    state = tmp_path / "s.db"
    first = tmp_path / "a.ndjson"
    first.write_text(
        "".join(json.dumps({"endpoint": "/old", "ts": T0 + i}) + "\n" for i in range(50))
    )
    second = tmp_path / "b.ndjson"
    second.write_text(
        "".join(json.dumps({"endpoint": "/new", "ts": T0 + i}) + "\n" for i in range(70))
    )
    ok(["--state", str(state), "replay", str(first)])
    reader = sqlite3.connect(state, isolation_level=None)
    reader.execute("BEGIN")
    count = (
        "SELECT SUM(n) FROM (SELECT count AS n FROM buckets WHERE endpoint = ?1"
        " UNION ALL SELECT hits FROM bucket_chunks WHERE endpoint = ?1)"
    )
    assert reader.execute(count, ("/old",)).fetchone()[0] == 50
    ok(["--state", str(state), "replay", str(second)])  # replaced in place: the reader is open
    assert reader.execute(count, ("/old",)).fetchone()[0] == 50  # its view is unchanged
    reader.execute("COMMIT")
    assert reader.execute(count, ("/old",)).fetchone()[0] is None
    assert reader.execute(count, ("/new",)).fetchone()[0] == 70
    assert reader.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    reader.close()


def test_a_failed_build_leaves_no_state_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitcount.persist.stores import sqlite_writes

    def broken(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sqlite_writes, "write_inputs", broken)
    state = tmp_path / "s.db"
    store = SqliteStore(state)
    with (
        pytest.raises(Exception, match="No space left"),
        updating(store, lambda: HitCounter("fixed")) as counter,
    ):
        counter.record("/e", T0)
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db.lock"]


def test_the_next_writer_removes_what_a_killed_build_left(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    left = [tmp_path / ".s.db.0badf00d.hitcount-tmp", tmp_path / ".s.db.0badf00d.hitcount-tmp-wal"]
    kept = tmp_path / ".s.db.mine"  # not ours by its suffix: never deleted
    for path in (*left, kept):
        path.write_bytes(b"half a database")
    store = SqliteStore(state)
    with updating(store, lambda: HitCounter("fixed")) as counter:
        counter.record("/e", T0)
    store.close()
    assert not any(path.exists() for path in left) and kept.exists()
    assert _count(state, "/e") == 1


#: Sketches of every saved form, by size: old-form sparse (registers at p, 3 bytes an entry,
#: as states saved before hold them), sparse at precision 25 ("new") and dense.
SAVED_FORMS = st.lists(
    st.tuples(st.sampled_from(["old", "new", "dense"]), st.integers(1, 3000)),
    min_size=1,
    max_size=6,
)


def register_log_of(
    precision: int, sketches: list[tuple[str, int]], seed: int
) -> tuple[RegisterLog, dict[tuple[str, int], bytes]]:
    """A register log holding a sketch of each drawn form (endpoint `/e0` or `/e1`, bucket
    its index), and each sketch's own `to_bytes` (the oracle)."""  # noqa: D205, D209
    from hitcount.sketches.hll_bytes import sparse_header

    rng = np.random.default_rng(seed)
    log, expected = RegisterLog(precision), dict[tuple[str, int], bytes]()
    for bucket, (form, size) in enumerate(sketches):
        if form == "old":  # entries (index, rank) at precision p, below the m/16 limit
            count = min(size, max(1, (1 << precision) // 16))
            indexes = sorted(rng.choice(1 << precision, size=count, replace=False).tolist())
            ranks = rng.integers(1, 66 - precision, size=count).tolist()
            body = b"".join(
                i.to_bytes(2, "big") + bytes([r]) for i, r in zip(indexes, ranks, strict=True)
            )
            data = sparse_header(precision, count, high=False) + body
            sketch = HyperLogLog.from_bytes(data)
            assert sketch.to_bytes() == data and sketch.sparse_precision == precision
        else:
            sketch = HyperLogLog(precision)
            users = size if form == "new" else (1 << precision) // 4 + 64 + size
            sketch.add_many(f"{seed}:{bucket}:{i}" for i in range(users))
        log.add_sketches([(f"/e{bucket % 2}", bucket, sketch)])
        expected[(f"/e{bucket % 2}", bucket)] = sketch.to_bytes()
    return log, expected


@settings(max_examples=40, deadline=None)
@given(precision=st.integers(4, 16), sketches=SAVED_FORMS, seed=st.integers(0, 10**6))
def test_sketches_of_every_saved_form_lay_out_as_they_save_alone(
    precision: int, sketches: list[tuple[str, int]], seed: int
) -> None:
    """Every saved form side by side in the register log: each row is the sketch's own
    `to_bytes`."""  # noqa: D205, D209
    log, expected = register_log_of(precision, sketches, seed)
    got = {(endpoint, bucket): bytes(blob) for endpoint, bucket, blob in log.byte_rows()}
    assert got == expected


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(0, 3 * 200 + 7),
    per=st.sampled_from([1, 2, 7, 200]),
    width=st.integers(1, 4),
)
def test_rows_inserted_in_batches_are_the_rows_one_by_one(count: int, per: int, width: int) -> None:
    from hitcount.persist.stores import sqlite_bulk

    rows = [tuple([f"r{i}", *range(i, i + width - 1)]) for i in range(count)]
    db = sqlite3.connect(":memory:")
    columns = ", ".join(f"c{k}" for k in range(width))
    db.execute(f"CREATE TABLE t ({columns})")
    original = sqlite_bulk.ROWS_PER_STATEMENT
    sqlite_bulk.ROWS_PER_STATEMENT = per
    try:
        sqlite_bulk.insert_rows(db, "t", rows)
    finally:
        sqlite_bulk.ROWS_PER_STATEMENT = original
    assert db.execute("SELECT * FROM t ORDER BY rowid").fetchall() == rows
    db.close()


@pytest.mark.parametrize("extra", [None, "foreign table", "a row"])
def test_empty_hitcount_tables_are_no_state_yet_and_anything_more_is_refused(
    tmp_path: Path, extra: str | None
) -> None:
    """What a first save killed before its commit leaves (its tables, all empty) is taken as
    no state; with another program's table, or a row in one of them, it is refused."""  # noqa: D205, D209
    state = tmp_path / "s.db"
    store = SqliteStore(state)
    db = store._connect(create=True)  # makes the tables, as a first save does before its work
    assert db is not None
    if extra == "foreign table":
        db.execute("CREATE TABLE notes (x TEXT)")
    elif extra == "a row":
        db.execute("INSERT INTO buckets VALUES ('/e', 0, 1, 1)")
    store.close()
    metrics = run(["--state", str(state), "metrics"])
    hits = tmp_path / "h.ndjson"
    hits.write_text("".join(json.dumps({"endpoint": "/e", "ts": T0 + i}) + "\n" for i in range(9)))
    if extra is None:
        assert_error(metrics, 4, "no saved state")
        ok(["--state", str(state), "replay", str(hits)])
        assert _count(state, "/e") == 9
    else:
        assert_error(metrics, 4, "not a hitcount state")
        assert_error(run(["--state", str(state), "replay", str(hits)]), 4, "not a hitcount state")
        with sqlite3.connect(state) as check:
            assert check.execute("SELECT count(*) FROM meta").fetchone()[0] == 0
        check.close()


@pytest.mark.parametrize(("hits", "page_bytes"), [(9, 4096), (BIG_STATE_HITS, PAGE_BYTES)])
def test_a_big_state_built_whole_has_pages_for_its_blobs(
    tmp_path: Path, hits: int, page_bytes: int
) -> None:
    """A replay of 100,000 hits or more builds the file with 16 KiB pages (its chunks are
    BLOBs of kilobytes); a small state keeps SQLite's 4 KiB pages."""  # noqa: D205, D209
    feed = tmp_path / "h.ndjson"
    lines = (json.dumps({"endpoint": f"/e{i % 7}", "ts": T0 + i / 9}) for i in range(hits))
    feed.write_text("\n".join(lines) + "\n")
    state = tmp_path / "s.db"
    ok(["--state", str(state), "replay", str(feed), "-s", "fixed"])
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA page_size").fetchone()[0] == page_bytes
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert ok_json(["--state", str(state), "query", "/e1", "--last", "1d", "--json"])["count"] == (
        len(range(1, hits, 7))
    )

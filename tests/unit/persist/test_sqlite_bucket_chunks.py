"""`fixed` and `tiered` buckets in chunks (`bucket_chunks`): what a whole save writes, and
what appends, loaded-state saves and pruning do to them. The oracles: the same operations on
a JSON state (every bucket, every answer), and a brute-force count of the hits."""  # noqa: D205, D209

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, load_counter, updating
from hitcount.errors import StateError
from hitcount.persist.stores import FileStore, SqliteStore
from hitcount.persist.stores.sqlite_bucket_chunks import (
    SCHEMA,
    SPAN,
    prune_bucket_chunks,
    read_bucket_chunks,
    release,
    write_bucket_chunks,
)
from hitcount.persist.stores.sqlite_documents import layout_for
from hitcount.persist.stores.sqlite_layouts import BucketLayout
from tests.cli_helpers import assert_error, ok, run

T0 = 1_767_225_600.0  # a whole hour
Hit = tuple[str, float]
PARAMS: dict[str, dict[str, float]] = {
    "fixed": {"window_s": 60.0, "retention_s": 86_400.0},
    "fixed-7s": {"window_s": 7.0, "retention_s": 7_200.0},
    "fixed-1h": {"window_s": 3_600.0, "retention_s": 172_800.0},
    "tiered": {},
}


def _strategy(kind: str) -> tuple[str, dict[str, float]]:
    return kind.split("-")[0], PARAMS[kind]


def _hits(rng: np.random.Generator, endpoints: int, start: float, span: float, n: int) -> list[Hit]:
    stamps = np.sort(start + rng.random(n) * span)
    return [(f"/e{int(rng.integers(endpoints))}", float(ts)) for ts in stamps]


def _ndjson(path: Path, hits: list[Hit]) -> Path:
    path.write_text("".join(json.dumps({"endpoint": e, "ts": ts}) + "\n" for e, ts in hits))
    return path


def _stored(state: Path) -> dict[tuple[str, int, int], int]:
    """Every stored bucket, rows and chunks, each counted once."""
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT endpoint, tier, bucket, count FROM buckets").fetchall()
        chunked = list(read_bucket_chunks(db, None))
    db.close()
    keys = [(e, t, b) for e, t, b, _ in rows + chunked]
    assert len(keys) == len(set(keys)), "a bucket in a row and a chunk"
    return {(e, t, b): n for e, t, b, n in rows + chunked}


def _json_buckets(json_state: Path) -> dict[tuple[str, int, int], int]:
    strategy = load_counter(FileStore(json_state)).strategy
    layout = layout_for(strategy.name, strategy.params)
    assert isinstance(layout, BucketLayout)  # tiered's is one too
    parts = layout.parts(strategy)
    return {(e, t, b): n for e, part in parts.items() for (t, b), n in part.items()}


def _check(state: Path, json_state: Path) -> dict[str, Any]:
    """The buckets and answers of the SQLite state are the JSON state's; the database is
    whole; returns the stored buckets and how many rows and chunks hold them."""  # noqa: D205, D209
    stored = _stored(state)
    assert stored == _json_buckets(json_state)
    metrics = [
        json.loads(ok(["--state", str(s), "metrics", "--json"]).stdout) for s in (state, json_state)
    ]
    assert metrics[0]["memory_entries"] == len(stored)
    assert metrics[0]["endpoints_count"] == metrics[1]["endpoints_count"]
    for last in ("90", "3000", "100000", "10000000"):
        answers = [
            ok(["--state", str(s), "query", "*", "--last", last, "--json"]).stdout
            for s in (state, json_state)
        ]
        assert answers[0] == answers[1], last
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT COUNT(*) FROM buckets").fetchone()[0]
        chunks = db.execute("SELECT COUNT(*) FROM bucket_chunks").fetchone()[0]
        empty = db.execute("SELECT COUNT(*) FROM bucket_chunks WHERE hits <= 0").fetchone()[0]
    db.close()
    assert not empty
    return {"buckets": stored, "rows": rows, "chunks": chunks}


@settings(max_examples=8, deadline=None)
@given(
    kind=st.sampled_from(sorted(PARAMS)),
    endpoints=st.integers(1, 4),
    hours=st.sampled_from([0.01, 0.5, 3.0, 30.0]),
    seed=st.integers(0, 10**6),
)
def test_saves_appends_and_pruning_keep_every_chunked_bucket_exact(
    tmp_path_factory: pytest.TempPathFactory, kind: str, endpoints: int, hours: float, seed: int
) -> None:
    tmp = tmp_path_factory.mktemp("bucket-chunks")
    name, params = _strategy(kind)
    rng = np.random.default_rng(seed)
    state, json_state = tmp / "s.db", tmp / "s.json"
    first = _hits(rng, endpoints, T0, hours * 3600, 400)
    for store in (SqliteStore(state), FileStore(json_state)):
        counter = HitCounter(name, **params)
        counter.record_many(first)
        with updating(store, lambda c=counter: c):
            pass
        store.close()
    seen = _check(state, json_state)
    assert seen["chunks"] and not seen["rows"]  # a whole save: chunks only
    retention = params.get("retention_s", 86_400.0)  # tiered: its middle tier's
    longest = 2 if name == "tiered" else 0  # the tier kept longest (tiered: 31 days)
    if hours * 3600 < params.get("retention_s", 2_678_400.0):  # nothing pruned there yet
        totals: dict[str, int] = {}  # brute force: each hit in one bucket of that tier
        for endpoint, _ in first:
            totals[endpoint] = totals.get(endpoint, 0) + 1
        kept = dict.fromkeys(totals, 0)
        for (e, tier, _), n in seen["buckets"].items():
            kept[e] += n if tier == longest else 0
        assert kept == totals
    # a loaded state's save reaching into chunked buckets: those chunks become rows
    clock = first[-1][1]
    back = [(f"/e{i % endpoints}", clock - 1 - i * hours * 36) for i in range(6)]
    for store in (SqliteStore(state), FileStore(json_state)):
        with updating(store) as counter:
            counter.record_many(back)
        store.close()
    seen = _check(state, json_state)
    assert seen["rows"]
    # an append (rows added in place for fixed) reaching chunked buckets and new ones
    more = _hits(rng, endpoints, clock - min(hours * 1800, 250), min(hours * 3600, 500) + 60, 50)
    feed = _ndjson(tmp / "more.ndjson", more)
    for s in (state, json_state):
        ok(["--state", str(s), "replay", "--append", str(feed)])
    _check(state, json_state)
    # hits a retention later: the horizon passes the older half (chunks deleted, one cut)
    later = _hits(rng, endpoints, clock + retention - hours * 1800, 120, 20)
    feed = _ndjson(tmp / "later.ndjson", later)
    for s in (state, json_state):
        ok(["--state", str(s), "replay", "--append", str(feed)])
    _check(state, json_state)


def _db_with(counts: dict[int, int], endpoint: str = "/a", tier: int = 0) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE buckets (endpoint TEXT NOT NULL, tier INTEGER NOT NULL,"
        " bucket INTEGER NOT NULL, count INTEGER NOT NULL,"
        " PRIMARY KEY (endpoint, tier, bucket)) WITHOUT ROWID;" + SCHEMA
    )
    write_bucket_chunks(db, [(endpoint, tier, counts)])
    return db


def _everything(db: sqlite3.Connection) -> dict[tuple[str, int, int], int]:
    rows = db.execute("SELECT endpoint, tier, bucket, count FROM buckets").fetchall()
    return {(e, t, b): n for e, t, b, n in rows + list(read_bucket_chunks(db, None))}


@settings(max_examples=60, deadline=None)
@given(
    counts=st.dictionaries(st.integers(-(10**12), 10**12), st.integers(1, 2**62), max_size=80),
    asked=st.lists(st.integers(-(10**12), 10**12), max_size=5),
    cut=st.integers(-(10**12), 10**12),
)
def test_chunks_hold_each_bucket_once_through_release_and_prune(
    counts: dict[int, int], asked: list[int], cut: int
) -> None:
    db = _db_with(counts)
    expected = {("/a", 0, b): n for b, n in counts.items()}
    assert _everything(db) == expected
    chunks = {b // SPAN for b in counts}
    assert db.execute("SELECT COUNT(*) FROM bucket_chunks").fetchone()[0] == len(chunks)
    release(db, [("/a", 0, b) for b in asked] + [("/other", 0, b) for b in counts])
    assert _everything(db) == expected
    rows = {b for (b,) in db.execute("SELECT bucket FROM buckets")}
    assert rows == {b for b in counts if b // SPAN in {a // SPAN for a in asked}}
    pruned = prune_bucket_chunks(db, 0, cut)
    pruned += db.execute("DELETE FROM buckets WHERE bucket < ?", (cut,)).rowcount
    assert pruned == sum(1 for b in counts if b < cut)
    assert _everything(db) == {k: n for k, n in expected.items() if k[2] >= cut}
    assert prune_bucket_chunks(db, 1, 10**13) == 0  # another tier: nothing of this one
    db.close()


def test_counts_too_big_to_sum_in_sql_are_kept_whole() -> None:
    """A restored snapshot may hold 2**62 a bucket: the row's `hits` saturates, no bucket
    changes."""  # noqa: D205, D209
    counts = {0: 2**62, 1: 2**62, 2: 2**62, 70: 5}
    db = _db_with(counts)
    assert _everything(db) == {("/a", 0, b): n for b, n in counts.items()}
    sums = [n for (n,) in db.execute("SELECT hits FROM bucket_chunks ORDER BY first")]
    assert sums == [2**63 - 1, 5]
    db.close()


def _saved_fixed(path: Path) -> None:
    counter = HitCounter("fixed")
    counter.record_many([(f"/e{i % 2}", T0 + 7 * i) for i in range(300)])
    store = SqliteStore(path)
    with updating(store, lambda: counter):
        pass
    store.close()


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE bucket_chunks SET counts = x'0100'",  # a torn array
        "UPDATE bucket_chunks SET buckets = buckets + 1",  # the arrays say fewer
        "UPDATE bucket_chunks SET numbers = counts",  # numbers out of the chunk
        "UPDATE bucket_chunks SET buckets = 'many'",
    ],
)
def test_a_damaged_bucket_chunk_is_refused_with_a_hint(tmp_path: Path, damage: str) -> None:
    state = tmp_path / "s.db"
    _saved_fixed(state)
    with sqlite3.connect(state) as db:
        db.execute(damage)
    db.close()
    before = state.read_bytes()
    for command in (["query", "*"], ["top", "--json"]):
        result = run(["--state", str(state), *command])
        assert_error(result, 4, "damaged bucket chunk of /e")
        assert "snapshot restore" in result.stderr
    with pytest.raises(StateError, match="damaged bucket chunk"):
        load_counter(SqliteStore(state))
    feed = _ndjson(tmp_path / "a.ndjson", [("/e0", T0 + 7 * 150)])
    assert_error(run(["--state", str(state), "replay", "--append", str(feed)]), 4, "damaged")
    assert state.read_bytes() == before  # the refused append changed nothing


def test_a_fixed_replay_into_sqlite_writes_chunks_that_sql_can_sum(tmp_path: Path) -> None:
    """The SQL of docs/sqlite.md: hits per endpoint over rows and chunks."""
    feed = _ndjson(tmp_path / "h.ndjson", [(f"/e{i % 3}", T0 + 5 * i) for i in range(3000)])
    state = tmp_path / "s.db"
    ok(["--state", str(state), "replay", str(feed), "-s", "fixed"])
    ok(["--state", str(state), "replay", "--append", str(_ndjson(tmp_path / "a.ndjson",
        [("/e0", T0 + 5 * 2999 + 1), ("/e1", T0 + 5 * 2990)]))])  # fmt: skip
    with sqlite3.connect(state) as db:
        sums = dict(
            db.execute(
                "SELECT endpoint, SUM(n) FROM (SELECT endpoint, count AS n FROM buckets"
                " UNION ALL SELECT endpoint, hits FROM bucket_chunks) GROUP BY endpoint"
            ).fetchall()
        )
    db.close()
    assert sums == {"/e0": 1001, "/e1": 1001, "/e2": 1000}

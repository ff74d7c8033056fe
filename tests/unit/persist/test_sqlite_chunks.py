"""Distinct-users sketches in chunks (`distinct_chunks`): what a whole save writes for a
tracker holding its sketches in bulk, and what appends, loaded-state saves and pruning do
to them. The oracle is a `HyperLogLog` per (endpoint, minute) fed user by user: its
`to_bytes()` is what every stored sketch must read back as."""  # noqa: D205, D209

from __future__ import annotations

import json
import math
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
from hitcount.persist.stores.sqlite_chunks import SPAN, release
from hitcount.persist.stores.sqlite_sketches import stored_rows
from hitcount.sketches.distinct import DEFAULT_RETENTION_S, DistinctTracker
from hitcount.sketches.hll import HyperLogLog
from hitcount.sketches.sketch_chunks import chunk_rows, chunk_sketches
from tests.cli_helpers import assert_error, ok, run
from tests.unit.persist.test_sqlite_saves import SAVED_FORMS, register_log_of

T0 = 1_767_225_600.0  # a whole hour
Hit = tuple[str, float, str]


def _hits(rng: np.random.Generator, endpoints: int, minutes: list[int], users: int) -> list[Hit]:
    """Hits with users in each of `minutes` (after T0), on `endpoints` endpoints."""
    hits = []
    for minute in minutes:
        for i in range(int(rng.integers(1, users + 1))):
            name = f"/e{int(rng.integers(endpoints))}"
            hits.append((name, T0 + minute * 60 + 1 + i * 58 / users, f"u{rng.integers(users)}"))
    return hits


def _oracle(hits: list[Hit], precision: int) -> dict[tuple[str, int], HyperLogLog]:
    sketches: dict[tuple[str, int], HyperLogLog] = {}
    for endpoint, ts, user in hits:
        key = (endpoint, math.ceil(ts / 60) - 1)  # minute j holds (60 j, 60 (j + 1)]
        sketches.setdefault(key, HyperLogLog(precision)).add(user)
    return sketches


def _in_bulk(tracker: DistinctTracker, hits: list[Hit]) -> None:
    names = sorted({endpoint for endpoint, _, _ in hits})
    codes = np.array([names.index(endpoint) for endpoint, _, _ in hits], dtype=np.int32)
    stamps = np.array([ts for _, ts, _ in hits])
    tracker.add_columns(names, codes, stamps, [user for _, _, user in hits])
    assert tracker._log is not None  # the bulk path


@settings(max_examples=30, deadline=None)
@given(
    precision=st.integers(4, 16),
    span=st.sampled_from([1, 7, 60]),
    endpoints=st.integers(1, 4),
    minutes=st.lists(st.integers(-300, 400), min_size=1, max_size=8, unique=True),
    users=st.sampled_from([1, 30, 3000]),
    seed=st.integers(0, 10**6),
)
def test_chunks_read_back_as_each_sketch_saved_alone(
    precision: int, span: int, endpoints: int, minutes: list[int], users: int, seed: int
) -> None:
    hits = _hits(np.random.default_rng(seed), endpoints, minutes, users)
    tracker = DistinctTracker(precision=precision, retention_s=1e12)
    _in_bulk(tracker, hits)
    rows = chunk_rows(tracker, span)
    expected = {key: sketch.to_bytes() for key, sketch in _oracle(hits, precision).items()}
    assert [row[:2] for row in rows] == sorted({row[:2] for row in rows})  # key order, once
    for endpoint, first, last, count, size, buckets, _, _ in rows:
        held = np.frombuffer(buckets, dtype="<i8").tolist()
        assert held == sorted(held) and first <= held[0] and held[-1] == last < first + span
        assert first % span == 0 and count == len(held)
        assert size == sum(len(expected[(endpoint, bucket)]) for bucket in held)
    got = chunk_sketches(precision, [(row[0], *row[5:]) for row in rows])
    assert {(endpoint, bucket): bytes(blob) for endpoint, bucket, blob in got} == expected


def _stored(state: Path) -> dict[tuple[str, int], bytes]:
    counter = load_counter(SqliteStore(state))
    with sqlite3.connect(state) as db:
        held = stored_rows(db, counter)
    db.close()
    return {key: bytes(blob) for key, blob in held.items()}


def _check(state: Path, json_state: Path, hits: list[Hit], precision: int) -> dict[str, Any]:
    """Every stored sketch is the oracle's (those pruned gone), the sizes add up, and
    queries over windows answer as the JSON state does."""  # noqa: D205, D209
    tracker = load_counter(SqliteStore(state)).distinct
    assert tracker is not None
    expected = {
        key: sketch.to_bytes()
        for key, sketch in _oracle(hits, precision).items()
        if (key[1] + 1) * 60 > tracker.horizon
    }
    assert _stored(state) == expected
    metrics = json.loads(ok(["--state", str(state), "metrics", "--json"]).stdout)
    assert metrics["distinct_bytes"] == sum(map(len, expected.values()))
    for last in ("90", "3000", "100000"):
        answers = [
            json.loads(ok(["--state", str(s), "query", "*", "--last", last, "--distinct",
                           "--json"]).stdout)
            for s in (state, json_state)
        ]  # fmt: skip
        assert answers[0] == answers[1], last
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        chunks = db.execute("SELECT first, last FROM distinct_chunks").fetchall()
    db.close()
    return {"chunks": chunks, "horizon": tracker.horizon}


def _ndjson(path: Path, hits: list[Hit]) -> Path:
    lines = [json.dumps({"endpoint": e, "ts": ts, "user": u}) for e, ts, u in hits]
    path.write_text("\n".join(lines) + "\n")
    return path


@settings(max_examples=6, deadline=None)
@given(
    strategy=st.sampled_from(["fixed", "sliding"]),
    precision=st.integers(6, 14),
    endpoints=st.integers(1, 3),
    seed=st.integers(0, 10**6),
)
def test_appends_saves_and_pruning_keep_every_chunked_sketch_exact(
    tmp_path_factory: pytest.TempPathFactory,
    strategy: str,
    precision: int,
    endpoints: int,
    seed: int,
) -> None:
    tmp = tmp_path_factory.mktemp("chunks")
    rng = np.random.default_rng(seed)
    state, json_state = tmp / "s.db", tmp / "s.json"
    first = _hits(rng, endpoints, sorted(rng.choice(180, 40, replace=False).tolist()), 50)
    for store in (SqliteStore(state), FileStore(json_state)):
        counter = HitCounter(strategy, distinct_precision=precision)
        for endpoint, ts, _ in sorted(first, key=lambda hit: hit[1]):
            counter.record(endpoint, ts)
        assert counter.distinct is not None
        _in_bulk(counter.distinct, first)
        with updating(store, lambda c=counter: c):
            pass
        store.close()
    seen = _check(state, json_state, first, precision)
    assert seen["chunks"] and not _stored_rows_table(state)  # a whole save: chunks only
    # a loaded state's save of hits one by one: only the sketches they reached (chunked)
    clock = max(ts for _, ts, _ in first)
    now = [(f"/e{i % endpoints}", clock - 20 + 2 * i, f"n{i}") for i in range(10)]
    for store in (SqliteStore(state), FileStore(json_state)):
        with updating(store) as counter:
            assert all(counter.record(*hit) for hit in now)
            assert counter.distinct is not None and counter.distinct._log is None
        store.close()
    first += now
    seen = _check(state, json_state, first, precision)
    assert _stored_rows_table(state)  # taken out of their chunks into rows
    # an append reaching into chunked minutes (their sketches move to rows) and new ones
    minutes = [*rng.choice(180, 5, replace=False).tolist(), 200, 201]
    more = _hits(rng, endpoints, sorted(minutes), 20)
    more = [hit for hit in more if hit[1] > max(ts for _, ts, _ in first) - 300]  # not late
    feed = _ndjson(tmp / "more.ndjson", more)
    for s in (state, json_state):
        ok(["--state", str(s), "replay", "--append", str(feed)])
    seen = _check(state, json_state, first + more, precision)
    # a loaded state's save, sketches added in bulk (compared whole) and one by one
    late = _hits(rng, endpoints, [178, 179], 10)
    for store in (SqliteStore(state), FileStore(json_state)):
        with updating(store) as counter:  # compared whole with what is stored
            assert counter.distinct is not None
            _in_bulk(counter.distinct, late)
        store.close()
    seen = _check(state, json_state, first + more + late, precision)
    # hits a day later: the horizon cuts an hour's chunk in two, the rest goes
    day = DEFAULT_RETENTION_S
    later = [(e, ts + day + 30 * 60, u) for e, ts, u in _hits(rng, endpoints, [150, 151], 5)]
    feed = _ndjson(tmp / "later.ndjson", later)
    for s in (state, json_state):
        ok(["--state", str(s), "replay", "--append", str(feed)])
    seen = _check(state, json_state, first + more + late + later, precision)
    cut = [c for c in seen["chunks"] if (c[0] + 1) * 60 <= seen["horizon"]]
    assert all((c[1] + 1) * 60 > seen["horizon"] for c in cut)  # trimmed, never stale


def _stored_rows_table(state: Path) -> int:
    with sqlite3.connect(state) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM distinct_sketches").fetchone()
    db.close()
    return int(count)


def test_release_takes_only_the_keys_asked_for_and_deletes_an_emptied_chunk() -> None:
    hits = _hits(np.random.default_rng(1), 1, [0, 1, 2, SPAN + 3], 20)
    tracker = DistinctTracker(precision=10, retention_s=1e12)
    _in_bulk(tracker, hits)
    expected = {key: sketch.to_bytes() for key, sketch in _oracle(hits, 10).items()}
    db = sqlite3.connect(":memory:")
    from hitcount.persist.stores.sqlite_chunks import SCHEMA, read_chunks, write_chunks

    db.executescript(SCHEMA)
    write_chunks(db, tracker)
    base = int(T0 // 60)
    taken = release(db, [("/e0", base + 1), ("/e0", base + SPAN + 3), ("/e9", base)], 10)
    assert taken == {key: expected[key] for key in [("/e0", base + 1), ("/e0", base + SPAN + 3)]}
    rest = {(e, b): bytes(blob) for e, b, blob in read_chunks(db, None, 60.0, -1e300, 10)}
    assert rest == {key: blob for key, blob in expected.items() if key not in taken}
    assert db.execute("SELECT COUNT(*) FROM distinct_chunks").fetchone()[0] == 1
    db.close()


def test_a_damaged_chunk_is_refused_with_a_hint(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    counter = HitCounter("fixed")
    hits = _hits(np.random.default_rng(2), 2, [0, 1], 20)
    for endpoint, ts, _ in hits:
        counter.record(endpoint, ts)
    assert counter.distinct is not None
    _in_bulk(counter.distinct, hits)
    store = SqliteStore(state)
    with updating(store, lambda: counter):
        pass
    store.close()
    with sqlite3.connect(state) as db:
        db.execute("UPDATE distinct_chunks SET sizes = x'0100'")  # a torn array
    db.close()
    result = run(["--state", str(state), "query", "*", "--distinct"])
    assert_error(result, 4, "damaged distinct-users")
    with pytest.raises(StateError, match="damaged distinct-users chunk"):
        load_counter(SqliteStore(state))


@settings(max_examples=40, deadline=None)
@given(precision=st.integers(4, 16), sketches=SAVED_FORMS, seed=st.integers(0, 10**6))
def test_chunked_sketches_of_every_form_read_back_without_numpy_as_saved_alone(
    precision: int, sketches: list[tuple[str, int]], seed: int
) -> None:
    """Every saved form in one chunk: the pure-Python layout a query uses gives each
    sketch's own `to_bytes`, as the bulk layout does."""  # noqa: D205, D209
    from hitcount.persist.stores.sqlite_chunks import _decoded

    tracker = DistinctTracker(precision=precision, retention_s=1e12)
    tracker._log, expected = register_log_of(precision, sketches, seed)
    rows = [(row[0], *row[5:]) for row in chunk_rows(tracker, SPAN)]
    pure = {(endpoint, bucket): blob for endpoint, bucket, blob in _decoded(precision, rows)}
    bulk = {(e, b): bytes(blob) for e, b, blob in chunk_sketches(precision, rows)}
    assert pure == bulk == expected

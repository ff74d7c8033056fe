"""morris in SQLite: one row of levels per endpoint, the generator's state in meta; damaged rows.

The oracle is the JSON store fed the same hits: both continue the draws from the saved
generator state, so after every save and append the levels are equal, counter by counter.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, load_counter, updating
from hitcount.persist.stores import FileStore, SqliteStore
from hitcount.persist.stores.sqlite_layouts import DocumentLayout
from tests.cli_helpers import assert_error, run

T0 = 1_767_225_600.0


def _levels(store: object) -> dict[str, list[int]]:
    state = load_counter(store).strategy.to_state()  # type: ignore[arg-type]
    return {name: list(levels) for name, levels in state["counters"].items()}


def _rows(path: Path) -> dict[str, list[int]]:
    with sqlite3.connect(path) as db:
        rows = {name: json.loads(text) for name, text in db.execute("SELECT * FROM morris_levels")}
        assert db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone() is None
    db.close()
    return rows


def _feed(target: object, hits: list[tuple[str, float]], params: dict[str, float]) -> None:
    with updating(target, lambda: HitCounter("morris", **params)) as counter:  # type: ignore[arg-type]
        for endpoint, ts in hits:
            counter.record(endpoint, ts)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    counters=st.sampled_from([1, 4, 16]),
    base=st.sampled_from([1.1, 2.0, 8.0]),
    batches=st.lists(st.lists(st.integers(0, 12), max_size=400), min_size=1, max_size=5),
)
def test_levels_are_rows_and_appends_draw_as_the_json_store_does(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    counters: int,
    base: float,
    batches: list[list[int]],
) -> None:
    tmp = tmp_path_factory.mktemp("levels")
    store, twin = SqliteStore(tmp / "s.db"), FileStore(tmp / "twin.json")
    params = {"seed": seed, "counters": counters, "base": base}
    clock = T0
    for batch in batches:
        hits = [(f"/e{code}", clock + i) for i, code in enumerate(batch)]
        clock += len(batch) + 1
        for target in (store, twin):
            _feed(target, hits, params)
        assert _levels(store) == _levels(twin)  # draws continue from the saved generator
        assert _rows(tmp / "s.db") == _levels(twin)
    store.close()


def test_an_append_rewrites_only_the_rows_it_changed(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    rng = random.Random(3)
    _feed(store, [(f"/e{rng.randint(0, 40)}", T0 + i) for i in range(5000)], {"seed": 1})
    before = _rows(tmp_path / "s.db")
    with updating(store) as counter:
        assert store._db is not None
        changes = store._db.total_changes
        for i in range(50):
            counter.record("/e7", T0 + 6000 + i)
    assert store._db.total_changes - changes < 30  # one row and the header
    after = _rows(tmp_path / "s.db")
    assert {name for name in after if after[name] != before[name]} <= {"/e7"}
    store.close()


def test_a_morris_state_saved_whole_in_meta_still_loads_and_moves_to_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store, twin = SqliteStore(path), FileStore(tmp_path / "twin.json")
    hits = [(f"/e{i % 9}", T0 + i) for i in range(3000)]
    for target in (store, twin):
        _feed(target, hits, {"seed": 9})
    store.close()
    strategy = load_counter(twin).strategy
    with sqlite3.connect(path) as db:  # the older form: one document in meta, no rows
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('state', ?)",
            (DocumentLayout("morris", strategy.params).document(strategy),),
        )
        db.execute("DELETE FROM morris_levels")
        db.execute("UPDATE meta SET value = 'null' WHERE key = 'extras'")
    db.close()
    assert _levels(SqliteStore(path)) == _levels(twin)
    for target in (SqliteStore(path), twin):
        _feed(target, [("/e0", T0 + 4000), ("/new", T0 + 4001)], {"seed": 9})
    assert _rows(path) == _levels(twin)  # every endpoint moved into its row, draws alike


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("UPDATE morris_levels SET levels = 'abc' WHERE endpoint = '/e1'", "morris_levels row"),
        ("UPDATE morris_levels SET levels = '[1, 2]' WHERE endpoint = '/e1'", "needs 4 counters"),
        ("UPDATE morris_levels SET levels = '[1, 2, 3, 9999]'", "counter level out of range"),
        ("UPDATE meta SET value = '{}' WHERE key = 'extras'", "rng_state"),
    ],
)
def test_damaged_rows_are_refused_with_the_row_named(
    tmp_path: Path, change: str, message: str
) -> None:
    path = tmp_path / "s.db"
    _feed(SqliteStore(path), [(f"/e{i % 3}", T0 + i) for i in range(300)], {"seed": 2})
    with sqlite3.connect(path) as db:
        db.execute(change)
    db.close()
    state, kept = ["--state", str(path)], path.read_bytes()
    log = tmp_path / "more.ndjson"
    log.write_text('{"endpoint": "/e1", "ts": 1767226000}\n')
    for command in (["query", "/e1", "--json"], ["top"], ["replay", "--append", str(log)]):
        assert_error(run([*state, *command]), 4, message)
    assert path.read_bytes() == kept  # the state is left as it was


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE sliding_chunks SET stamps = substr(stamps, 1, 16)",  # torn: fewer than `n`
        "UPDATE sliding_chunks SET stamps = 'text'",
        "UPDATE sliding_chunks SET n = n + 1",
        "UPDATE sliding_chunks SET last = last + 1",
    ],
)
def test_a_damaged_sliding_chunk_is_refused_not_read_as_fewer_hits(
    tmp_path: Path, change: str
) -> None:
    """A chunk whose stamps disagree with its row answered 0 hits, exactly, before."""
    path = tmp_path / "s.db"
    with updating(SqliteStore(path), lambda: HitCounter("sliding")) as counter:
        for i in range(300):
            counter.record(f"/e{i % 3}", T0 + i)
    with sqlite3.connect(path) as db:
        db.execute(change)
    db.close()
    kept = path.read_bytes()
    result = run(["--state", str(path), "query", "/e1", "--last", "3600", "--json"])
    assert_error(result, 4, "damaged sliding_chunks row of '/e")
    assert path.read_bytes() == kept

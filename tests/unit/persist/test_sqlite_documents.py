"""ehist and auto in SQLite: one row per endpoint, and a save rewrites only those it changed."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest

from hitcount import HitCounter, load_counter, updating
from hitcount.persist.stores import FileStore, SqliteStore
from hitcount.persist.stores.document_parts import restrict
from hitcount.persist.stores.sqlite_documents import split
from hitcount.persist.stores.sqlite_layouts import DocumentLayout
from tests.cli_helpers import ok

T0 = 1_767_225_600.0


def _hits(rng: random.Random, count: int, start: float) -> list[tuple[str, float]]:
    hits = [(f"/e{rng.randint(0, 12)}", start + rng.uniform(0, 1800)) for _ in range(count)]
    return sorted(hits, key=lambda hit: hit[1])


def _answers(store: object, endpoints: list[str], clock: float) -> list[tuple[float, float]]:
    counter = load_counter(store)  # type: ignore[arg-type]
    return [
        (answer.low, answer.high)
        for answer in (counter.query(e, 600, now=clock).answer for e in endpoints)
    ]


def _rows(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT endpoint, document FROM endpoint_documents").fetchall())
        assert db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone() is None
    db.close()
    return rows


@pytest.mark.parametrize("strategy", ["ehist", "auto"])
@pytest.mark.parametrize("seed", range(2))
def test_each_endpoint_is_a_row_and_a_commit_rewrites_only_the_touched_ones(
    tmp_path: Path, strategy: str, seed: int
) -> None:
    rng = random.Random(seed)
    store, twin = SqliteStore(tmp_path / "s.db"), FileStore(tmp_path / "twin.json")
    hits = _hits(rng, rng.randint(500, 1500), T0)
    for target in (store, twin):
        with updating(target, lambda: HitCounter(strategy, max_window_s=86400)) as counter:
            for endpoint, ts in hits:
                counter.record(endpoint, ts)
    before = _rows(tmp_path / "s.db")
    assert set(before) == {endpoint for endpoint, _ in hits}
    touched = f"/e{rng.randint(0, 12)}"
    late = hits[-1][1] + rng.uniform(0, 5)
    for target in (store, twin):
        with updating(target) as counter:
            if target is store:
                assert store._db is not None
                changes = store._db.total_changes
            counter.record(touched, late)
        if target is store:
            assert store._db is not None
            assert store._db.total_changes - changes < 30  # one row and the header
    after = _rows(tmp_path / "s.db")
    assert {name for name in after if after[name] != before.get(name)} <= {touched}
    endpoints = sorted(after)
    assert _answers(store, endpoints, late) == _answers(twin, endpoints, late)
    # a query reads the endpoint it asks for, and answers as the whole state does
    shown = ok(["--state", str(tmp_path / "s.db"), "query", touched, "--last", "600", "--json"])
    again = ok(
        ["--state", str(tmp_path / "twin.json"), "query", touched, "--last", "600", "--json"]
    )
    assert json.loads(shown.stdout) == json.loads(again.stdout)
    store.close()


def test_a_state_saved_whole_in_meta_by_an_older_hitcount_still_loads_and_moves_to_rows(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    path = tmp_path / "s.db"
    store, twin = SqliteStore(path), FileStore(tmp_path / "twin.json")
    hits = _hits(rng, 800, T0)
    for target in (store, twin):
        with updating(target, lambda: HitCounter("ehist", max_window_s=86400)) as counter:
            for endpoint, ts in hits:
                counter.record(endpoint, ts)
    store.close()
    old = DocumentLayout("ehist", load_counter(twin).strategy.params)
    with sqlite3.connect(path) as db:  # the older form: one document in meta, no rows
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('state', ?)",
            (old.document(load_counter(twin).strategy),),
        )
        db.execute("DELETE FROM endpoint_documents")
    db.close()
    endpoints = sorted({endpoint for endpoint, _ in hits})
    clock = hits[-1][1]
    assert _answers(SqliteStore(path), endpoints, clock) == _answers(twin, endpoints, clock)
    for target in (SqliteStore(path), twin):
        with updating(target) as counter:
            counter.record("/e0", clock + 1)
    assert set(_rows(path)) == set(endpoints)  # every endpoint moved into its row
    assert _answers(SqliteStore(path), endpoints, clock + 1) == _answers(twin, endpoints, clock + 1)


@pytest.mark.parametrize("strategy", ["ehist", "auto", "sliding", "fixed", "tiered"])
def test_split_restricts_a_state_to_each_endpoint_as_restrict_does(strategy: str) -> None:
    rng = random.Random(strategy)
    counter = HitCounter(strategy)
    for endpoint, ts in _hits(rng, 2000, T0):
        counter.record(endpoint, ts)
    state = json.loads(json.dumps(counter.strategy.to_state()))
    names = set(counter.strategy.endpoints())
    parts = split(state, names)
    assert parts == {name: restrict(state, name, names) for name in names}  # the oracle

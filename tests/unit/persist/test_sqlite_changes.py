"""A save of a loaded SQLite state reads and writes only the endpoints that changed since.

The work of one commit (SQL statements run, and endpoints whose rows the strategy is asked
for) is counted on a small state and on a big one given the same new hits: it must not
grow with the state. The oracle for the rows kept is a whole replay of every hit.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, load_counter, updating
from hitcount.persist.document import to_document
from hitcount.persist.stores import SqliteStore
from hitcount.sketches.distinct import DistinctTracker
from hitcount.sketches.hll import HyperLogLog

from ...conftest import ROOMY_PARAMS

T0 = 1_767_225_600.0
#: The strategy method a save asks each endpoint's rows from.
READERS = {"fixed": "bucket_counts", "tiered": "bucket_counts", "sliding": "timestamps"}


def _state(path: Path, strategy: str, endpoints: int, rng: random.Random) -> list[Any]:
    hits = sorted(
        (
            (f"/e{rng.randrange(endpoints)}", T0 + rng.uniform(0, 3000), f"u{rng.randrange(9)}")
            for _ in range(endpoints * 20)
        ),
        key=lambda hit: hit[1],
    )
    hits += [(f"/e{n}", T0 + 3000.0, "u0") for n in range(endpoints)]  # every endpoint held
    with updating(SqliteStore(path), lambda: _new(strategy)) as counter:
        for hit in hits:
            counter.record(*hit)
    return hits


def _new(strategy: str) -> HitCounter:
    counter = HitCounter(strategy, **ROOMY_PARAMS[strategy])
    counter.distinct = DistinctTracker(60.0, 10, 86400.0)
    return counter


def _commits(
    path: Path, new: list[list[tuple[str, float]]], monkeypatch: pytest.MonkeyPatch, reader: str
) -> list[tuple[int, int, int]]:
    """Each batch in its own commit of one loaded counter (as --follow commits), and the
    work of each: SQL statements run, endpoints read from the strategy, sketches encoded."""  # noqa: D205, D209
    store, work = SqliteStore(path), []
    with store.locked():
        from hitcount.persist.state import commit

        counter = load_counter(store)
        store.loaded(counter)
        asked: list[str] = []
        original = getattr(type(counter.strategy), reader)

        def counted(self: Any, endpoint: str, *args: Any) -> Any:
            asked.append(endpoint)
            return original(self, endpoint, *args)

        monkeypatch.setattr(type(counter.strategy), reader, counted)
        encoded: list[int] = []
        to_bytes = HyperLogLog.to_bytes

        def encoding(self: HyperLogLog) -> bytes:
            encoded.append(1)
            return to_bytes(self)

        monkeypatch.setattr(HyperLogLog, "to_bytes", encoding)
        for batch in new:
            for hit in batch:
                counter.record(*hit)
            statements: list[str] = []
            assert store._db is not None
            store._db.set_trace_callback(statements.append)
            asked.clear()
            encoded.clear()
            commit(store, counter)
            store._db.set_trace_callback(None)
            work.append((len(statements), len(set(asked)), len(encoded)))
        monkeypatch.setattr(type(counter.strategy), reader, original)
        monkeypatch.setattr(HyperLogLog, "to_bytes", to_bytes)
    store.close()
    return work


@pytest.mark.parametrize("strategy", sorted(READERS))
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    small=st.integers(1, 4),
    big=st.integers(150, 400),
    batches=st.lists(st.integers(1, 30), min_size=1, max_size=4),
    seed=st.integers(0, 2**32),
)
def test_a_commit_costs_what_it_adds_whatever_the_state_size(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    strategy: str,
    small: int,
    big: int,
    batches: list[int],
    seed: int,
) -> None:
    rng = random.Random(seed)
    new = [
        sorted(
            (
                (
                    rng.choice(["/e0", "/new"]),
                    T0 + 3000 + step * 100 + rng.uniform(0, 99),
                    f"v{rng.randrange(5)}",
                )
                for _ in range(n)
            ),
            key=lambda hit: hit[1],
        )
        for step, n in enumerate(batches)
    ]
    work = {}
    for size in (small, big):
        path = tmp_path_factory.mktemp("changes") / "s.db"
        hits = _state(path, strategy, size, rng)
        work[size] = _commits(path, new, monkeypatch, READERS[strategy])
        # the rows kept are those of a whole replay of every hit
        whole = _new(strategy)
        for hit in hits + [hit for batch in new for hit in batch]:
            whole.record(*hit)
        saved = load_counter(SqliteStore(path))
        assert to_document(saved)["state"] == to_document(whole)["state"]
        assert saved.distinct is not None and whole.distinct is not None
        assert sorted(saved.distinct.sketch_rows()) == sorted(whole.distinct.sketch_rows())
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
    assert work[big] == work[small]  # statements, endpoints read, sketches encoded: the same
    assert all(read <= 2 and sketches <= 8 for _, read, sketches in work[big])  # /e0, /new

"""`replay --append` into SQLite adds the delta's rows (`sqlite_append`): whatever the
batches, their lateness, the retention and the overlaps with what is stored, the state keeps
what one counter fed every batch in turn keeps (saved whole to a memory store)."""  # noqa: D205, D209

from __future__ import annotations

import math
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, load_counter, updating
from hitcount.persist.stores import MemoryStore, store_from_url
from hitcount.persist.stores.sqlite_append import appending
from hitcount.persist.stores.sqlite_layouts import MAX_SMALL

from .test_store_deltas import T0, _document, _run, batches, drawn_counter

RETENTION = {"fixed": "retention_s", "sliding": "max_window_s"}


def _appended(path: Path, make: object, steps: list[list[tuple[str, float]]]) -> None:
    """The first batch replayed, each next one appended by rows (as `replay --append`)."""
    store = store_from_url(str(path))
    try:
        base = T0
        for number, step in enumerate(steps):
            with updating(store, make) if number == 0 else appending(store) as counter:  # type: ignore[arg-type]
                for endpoint, offset in step:
                    counter.record(endpoint, base + offset)
            base += 120
    finally:
        store.close()


def _assert_chunks_never_overlap(db: sqlite3.Connection) -> None:
    """Each endpoint's timestamp chunks, in order, each start at or after the last one ends."""
    rows = db.execute("SELECT endpoint, first, last FROM sliding_chunks ORDER BY endpoint, first")
    ends: dict[str, float] = {}
    for endpoint, first, last in rows:
        assert first >= ends.get(endpoint, -math.inf), (endpoint, first, ends[endpoint])
        ends[endpoint] = last


@pytest.mark.parametrize("strategy", ["sliding", "fixed"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=batches, retention=st.sampled_from([30.0, 120.0, 900.0, 10_000.0]), data=st.data())
def test_appending_rows_keeps_what_one_counter_keeps(
    strategy: str, steps: list[list[tuple[str, float]]], retention: float, data: st.DataObject
) -> None:
    make = drawn_counter(strategy, {RETENTION[strategy]: retention}, data)
    reference = MemoryStore()
    _run(reference, make, steps)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        _appended(path, make, steps)
        store = store_from_url(str(path))
        try:
            appended, whole = _document(store), _document(reference)
            if strategy == "sliding":
                _assert_chunks_never_overlap(store._connect(create=False))  # type: ignore[attr-defined]
        finally:
            store.close()
    assert appended == whole


def test_a_bucket_an_append_fills_and_prunes_is_counted_once(tmp_path: Path) -> None:
    steps = [[("/a", 181.0)], [], [("/a", 0.0), ("/a", 30.0)]]

    def make() -> HitCounter:
        return HitCounter("fixed", max_lateness_s=0.0, retention_s=30.0, window_s=60.0)

    reference = MemoryStore()
    _run(reference, make, steps)
    _appended(tmp_path / "state.db", make, steps)
    store = store_from_url(str(tmp_path / "state.db"))
    try:
        assert _document(store)["metrics"] == _document(reference)["metrics"]
    finally:
        store.close()


def test_many_small_appends_are_merged_and_count_every_hit(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    steps = [[(endpoint, float(i % 7)) for endpoint in ("/a", "/b")] for i in range(3 * MAX_SMALL)]
    _appended(path, lambda: HitCounter("sliding", max_window_s=10**7), steps)
    store = store_from_url(str(path))
    try:
        counter = load_counter(store)
        for endpoint in ("/a", "/b"):
            assert counter.query(endpoint, 10**7).answer.count == len(steps)
        db = store._connect(create=False)  # type: ignore[attr-defined]
        chunks = db.execute("SELECT endpoint, COUNT(*) FROM sliding_chunks GROUP BY endpoint")
        assert all(n <= MAX_SMALL for _, n in chunks)
    finally:
        store.close()

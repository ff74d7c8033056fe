"""Stores that save only what changed (SQLite) keep exactly what a whole rewrite keeps.

The oracle is the same sequence of `updating` blocks on a memory store, whose every save
is the whole JSON document; for `sliding` also a brute-force count of the hits kept.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, load_counter, updating
from hitcount.persist.document import to_document
from hitcount.persist.stores import MemoryStore, Scope, Store, store_from_url
from hitcount.strategies import available_strategies

from ..conftest import ROOMY_PARAMS

T0 = 1_767_225_600.0
#: A drawn hit: an endpoint, and seconds after its step's start.
Hit = tuple[str, float]
ENDPOINTS = ("/a", "/b", "/api/c")
#: Strategies whose retention the tests draw (the others keep their roomy parameters).
RETENTION = {"fixed": "retention_s", "sliding": "max_window_s", "ehist": "max_window_s"}
#: Widths of `fixed` buckets drawn (small ones make batches share buckets).
WIDTHS = (1.0, 10.0, 60.0)

hit = st.tuples(st.sampled_from(ENDPOINTS), st.floats(-120, 240).map(lambda s: round(s, 1)))
batches = st.lists(st.lists(hit, max_size=40), min_size=1, max_size=6)


def _document(store: Store) -> dict[str, Any]:
    document = to_document(load_counter(store), compact=False)
    document.pop("created_at")
    return document


def drawn_counter(
    strategy: str, params: dict[str, Any], data: st.DataObject
) -> Callable[[], HitCounter]:
    """A maker of the counter the test draws: its lateness and, for `fixed`, its bucket width."""
    lateness = data.draw(st.sampled_from([0.0, 60.0, 600.0]), label="max_lateness_s")
    if strategy == "fixed":
        params["window_s"] = data.draw(st.sampled_from(WIDTHS), label="window_s")
    return lambda: HitCounter(strategy, max_lateness_s=lateness, **params)


def _run(store: Store, make: Any, steps: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """Apply each batch in its own `updating` block; the hits, in order, with their times."""
    recorded: list[tuple[str, float]] = []
    base = T0
    for step in steps:
        with updating(store, make) as counter:
            for endpoint, offset in step:
                recorded.append((endpoint, base + offset))
                counter.record(endpoint, base + offset)
        base += 120
    return recorded


@pytest.mark.parametrize("strategy", available_strategies())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=batches, retention=st.sampled_from([30.0, 120.0, 900.0, 10_000.0]), data=st.data())
def test_saving_the_change_keeps_what_a_whole_save_keeps(
    strategy: str, steps: list[list[tuple[str, float]]], retention: float, data: st.DataObject
) -> None:
    params = dict(ROOMY_PARAMS.get(strategy, {}))
    if strategy in RETENTION:
        params[RETENTION[strategy]] = retention
    if strategy == "tiered":  # every tier pruned by the drawn retention: a changed tier's rows
        params = {"fine_s": 1, "fine_retention_s": retention, "mid_s": 5,
                  "mid_retention_s": 2 * retention, "coarse_s": 25,
                  "coarse_retention_s": 4 * retention}  # fmt: skip
    _assert_saved_as_whole(drawn_counter(strategy, params, data), steps)


def _assert_saved_as_whole(make: Callable[[], HitCounter], steps: list[list[Hit]]) -> None:
    """The SQLite state after `steps` holds what the memory store's whole saves hold."""
    reference = MemoryStore()
    _run(reference, make, steps)
    with tempfile.TemporaryDirectory() as tmp:
        store = store_from_url(str(Path(tmp) / "state.db"))
        try:
            _run(store, make, steps)
            assert _document(store) == _document(reference)
        finally:
            store.close()


@settings(max_examples=40, deadline=None)
@given(steps=batches, retention=st.sampled_from([30.0, 300.0, 10_000.0]), data=st.data())
def test_sliding_appends_count_exactly_what_a_brute_force_count_keeps(
    steps: list[list[tuple[str, float]]], retention: float, data: st.DataObject
) -> None:
    lateness = data.draw(st.sampled_from([0.0, 60.0]), label="max_lateness_s")
    with tempfile.TemporaryDirectory() as tmp:
        store = store_from_url(f"sqlite://{tmp}/state.db")
        try:
            recorded = _run(
                store,
                lambda: HitCounter("sliding", max_lateness_s=lateness, max_window_s=retention),
                steps,
            )
            loaded = load_counter(store)
        finally:
            store.close()
    horizon = loaded.strategy.horizon
    clock = loaded.clock or T0
    last = data.draw(st.floats(1, retention), label="last_s")
    for endpoint in ENDPOINTS:
        # brute force: every hit recorded and not refused as late is kept past the horizon
        counted = [ts for ep, ts in recorded if ep == endpoint and ts > horizon]
        expected = sum(1 for ts in counted if clock - last < ts <= clock)
        if math.isfinite(horizon) and clock - last < horizon:
            continue  # a window reaching past the horizon is not complete
        assert loaded.query(endpoint, last).answer.count == expected


@pytest.mark.parametrize("strategy", ["fixed", "sliding", "tiered"])
@settings(max_examples=20, deadline=None)
@given(steps=batches, data=st.data())
def test_a_scoped_read_answers_as_the_whole_state(
    strategy: str, steps: list[list[tuple[str, float]]], data: st.DataObject
) -> None:
    pattern = data.draw(st.sampled_from(["/a", "/api/*", "*", "/missing"]), label="pattern")
    last = data.draw(st.sampled_from([60.0, 600.0, 3000.0, math.inf]), label="last_s")
    params = ROOMY_PARAMS.get(strategy, {})
    with tempfile.TemporaryDirectory() as tmp:
        store = store_from_url(f"{tmp}/state.sqlite")
        try:
            _run(store, lambda: HitCounter(strategy, **params), steps)
            whole = load_counter(store)
            scoped = load_counter(store, scope=Scope(patterns=(pattern,), last_s=last))
        finally:
            store.close()
    window = last if math.isfinite(last) else 10**8
    if not any(True for _ in whole.strategy.endpoints()):
        return
    assert scoped.query(pattern, window) == whole.query(pattern, window)


def test_an_untouched_tiered_endpoint_whose_finer_tiers_roll_off_is_saved_so() -> None:
    # /a is not hit again; its fine and mid buckets roll off while its coarse one stays
    params = {"fine_s": 1, "fine_retention_s": 30, "mid_s": 5, "mid_retention_s": 60,
              "coarse_s": 25, "coarse_retention_s": 1000}  # fmt: skip
    steps = [[("/a", 0.0), ("/b", 0.0)], [("/b", 100.0)]]

    def make() -> HitCounter:
        return HitCounter("tiered", max_lateness_s=0, **params)

    reference = MemoryStore()
    _run(reference, make, steps)
    assert load_counter(reference).strategy.bucket_counts("/a", "fine") == {}
    _assert_saved_as_whole(make, steps)

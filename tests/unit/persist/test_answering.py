"""Read-only commands answer from a `SavedState` exactly as from the whole loaded counter.

`load_answering` reads what a command's scope needs (on SQLite: the endpoints' rows of the
window) and answers with the counter's own query code; these tests compare it, on SQLite
and JSON states, with the counter loaded whole and with a brute-force oracle.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitcount import HitCounter
from hitcount.engine.ranking import rank
from hitcount.errors import StateError
from hitcount.model.windows import WindowSpec
from hitcount.persist.answering import SavedState, load_answering
from hitcount.persist.state import load_counter, save_counter
from hitcount.persist.stores import Scope, store_from_url
from hitcount.persist.stores import sqlite_layouts as layouts
from hitcount.persist.stores.sqlite_append import appending
from hitcount.strategies import available_strategies
from tests.conftest import ROOMY_PARAMS, Oracle, fresh_namespace

ENDPOINTS = ["/a", "/b", "/api/c", "/api/d"]
HITS = st.lists(
    st.tuples(
        st.sampled_from(ENDPOINTS),
        st.one_of(st.integers(0, 3_000).map(float), st.floats(0, 3_000)),
        st.none() | st.sampled_from(["u1", "u2", "u3", "u4", "u5"]),
    ),
    max_size=150,
)
#: Parameters drawn per strategy: short retentions prune, long ones keep everything.
PARAMS: dict[str, st.SearchStrategy[dict[str, object]]] = {
    "fixed": st.fixed_dictionaries(
        {
            "window_s": st.sampled_from([0.5, 1, 10, 60]),
            "retention_s": st.sampled_from([120, 10**7]),
        }
    ),
    "sliding": st.fixed_dictionaries({"max_window_s": st.sampled_from([100, 1_000, 10**7])}),
    "tiered": st.sampled_from(
        [
            ROOMY_PARAMS["tiered"],
            {"fine_retention_s": 60, "mid_retention_s": 600, "coarse_retention_s": 3600},
        ]
    ),
}


def _params(name: str) -> st.SearchStrategy[dict[str, object]]:
    return PARAMS.get(name, st.just(ROOMY_PARAMS[name]))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, dict[str, object], float]:
    name = draw(st.sampled_from(available_strategies()))
    return name, draw(_params(name)), draw(st.sampled_from([0.0, 5.0, 60.0]))


def _saved(tmp_path: Path, suffix: str, name: str, params: dict[str, object], lateness: float,
           hits: list[tuple[str, float, str | None]]) -> tuple[HitCounter, object]:  # fmt: skip
    counter = HitCounter(name, max_lateness_s=lateness, **params)
    counter.record_many(hits)
    store = store_from_url(str(tmp_path / f"state{suffix}"))
    save_counter(store, counter)
    return counter, store


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=_cases(),
    hits=HITS,
    last=st.sampled_from([1.0, 7.5, 60.0, 600.0, 2_500.0]),
    back=st.none() | st.floats(0, 2_000),
    pattern=st.sampled_from(["/a", "/api/*", "/nothing", "*"]),
    suffix=st.sampled_from([".db", ".json"]),
)
def test_a_saved_state_answers_as_the_whole_counter_and_the_oracle(
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[str, dict[str, object], float],
    hits: list[tuple[str, float, str | None]],
    last: float,
    back: float | None,
    pattern: str,
    suffix: str,
) -> None:
    name, params, lateness = case
    counter, store = _saved(tmp_path_factory.mktemp("s"), suffix, name, params, lateness, hits)
    try:
        whole = load_counter(store, lazy_distinct=True)  # type: ignore[arg-type]
        clock = whole.clock
        now = None if back is None or clock is None else clock - back  # --now in the past
        spec = WindowSpec(last_s=last, since=None, until=None, now=now)
        reach, end = spec.reach()
        scoped = load_answering(store, Scope((pattern,), reach, end))  # type: ignore[arg-type]
        assert isinstance(scoped, SavedState)
        window = spec.resolve(clock)
        got = scoped.query(pattern, window.last_s, window.end)
        assert got == whole.query(pattern, window.last_s, window.end)
        assert got == counter.query(pattern, window.last_s, window.end)
        no_users = load_answering(store, Scope((pattern,), reach, end, users=False))  # type: ignore[arg-type]
        assert no_users.query(pattern, window.last_s, window.end) == got
        _check_oracle(name, hits, got.answer, pattern, window.last_s, window.end)
        # distinct users: as the counter loaded with the same scope (which reads the same
        # sketches), whatever the outcome (a window with no user's sketch: StateError)
        loaded = load_counter(store, lazy_distinct=True, scope=Scope((pattern,), reach, end))  # type: ignore[arg-type]
        assert _outcome(scoped, got.matched, window.last_s, window.end) == _outcome(
            loaded, got.matched, window.last_s, window.end
        )
        everything = load_answering(store, Scope(None, reach, end))  # type: ignore[arg-type]
        ranked = rank(everything, window.last_s, window.end, limit=10, pattern=None, depth=None)
        expected = rank(whole, window.last_s, window.end, limit=10, pattern=None, depth=None)
        assert ranked == expected
    finally:
        store.close()  # type: ignore[attr-defined]


def _outcome(
    state: SavedState | HitCounter, matched: tuple[str, ...], last_s: float, end: float | None
) -> object:
    try:
        return state.query_distinct_of("p", matched, last_s, end)
    except StateError as err:
        return err.message


def _check_oracle(
    name: str,
    hits: list[tuple[str, float, str | None]],
    answer: object,
    pattern: str,
    last_s: float,
    end: float | None,
) -> None:
    """Bounds always hold against brute force; an exact answer equals it."""
    if end is None or name in ("morris", "ehist", "auto"):
        return
    oracle = Oracle([(endpoint, ts) for endpoint, ts, _ in hits])
    selected = [
        e
        for e in ENDPOINTS
        if e == pattern or (pattern.endswith("*") and e.startswith(pattern[:-1]))
    ]
    expected = sum(oracle.count(endpoint, end - last_s, end) for endpoint in selected)
    assert answer.low <= expected <= answer.high  # type: ignore[attr-defined]
    if answer.exact:  # type: ignore[attr-defined]
        assert answer.count == expected  # type: ignore[attr-defined]


def test_a_short_window_reads_only_its_timestamps_and_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of many timestamps: the strategy holds the window's and the newest one before."""
    monkeypatch.setattr(layouts, "CHUNK", 50)
    times = [1_000.0 + i for i in range(400)]
    counter = HitCounter("sliding", max_window_s=10**6)
    counter.record_many([("/a", ts) for ts in times] + [("/b", 10.0)])
    store = store_from_url(str(tmp_path / "state.db"))
    save_counter(store, counter)
    # windows ending at the clock or before it (--now), starting inside a chunk, right after
    # one (99.5: only the `last` of the chunk before is read), or before every hit
    for last, now in [(1.0, None), (30.5, None), (99.5, None), (100.0, None), (399.0, None),
                      (50.0, 1_200.0), (0.5, 1_299.5), (10.0, 900.0)]:  # fmt: skip
        end = times[-1] if now is None else now
        state = load_answering(store, Scope(None, last, now))
        start = end - last
        held = list(state.strategy.timestamps("/a"))  # type: ignore[attr-defined]
        expected = [t for t in times if t > start]
        before = [t for t in times if t <= start][-1:]
        assert held == before + expected
        assert list(state.strategy.timestamps("/b")) == [10.0]  # type: ignore[attr-defined]
        in_window = sum(start < t <= end for t in times)
        assert state.query("/a", last, now).answer.count == in_window
        assert sorted(state.endpoints()) == ["/a", "/b"]
    store.close()


def test_a_damaged_saved_state_is_refused_as_the_whole_load_refuses_it(tmp_path: Path) -> None:
    counter = HitCounter("sliding", max_window_s=100)
    counter.record_many([("/a", 10.0), ("/a", 20.0)])
    path = tmp_path / "state.json"
    store = store_from_url(str(path))
    save_counter(store, counter)
    path.write_text(path.read_text().replace('"total_hits":2', '"total_hits":1'))
    with pytest.raises(StateError) as whole:
        load_counter(store)
    with pytest.raises(StateError) as answering:
        load_answering(store)
    assert answering.value.message == whole.value.message
    assert "more than the 1 ever recorded" in answering.value.message


def test_nothing_saved_says_so_as_the_whole_load_does(tmp_path: Path) -> None:
    store = store_from_url(str(tmp_path / "none.db"))
    with pytest.raises(StateError) as whole:
        load_counter(store)
    with pytest.raises(StateError) as answering:
        load_answering(store)
    assert answering.value.message == whole.value.message == f"no saved state at {store.describe()}"
    assert answering.value.exit_code == whole.value.exit_code == 4


@pytest.mark.parametrize("where", ["state.db", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_scope_without_users_reads_no_sketch(
    tmp_path: Path, where: str, request: pytest.FixtureRequest
) -> None:
    """`query` without --distinct, `top` by hits and `plot` leave the sketches unread."""
    counter = HitCounter("fixed", window_s=10, retention_s=10**6)
    counter.record_many([("/a", 100.0 + i, f"user{i % 7}") for i in range(50)])
    if where == "redis":
        url = request.getfixturevalue("redis_url")
        store = store_from_url(url, namespace=fresh_namespace())
    else:
        store = store_from_url(str(tmp_path / where))
    save_counter(store, counter)
    with_users = load_answering(store, Scope(("/a",), 60.0, None))
    without = load_answering(store, Scope(("/a",), 60.0, None, users=False))
    assert with_users.distinct is not None and with_users.distinct.has_data()
    assert without.distinct is not None and not without.distinct.has_data()
    assert without.query("/a", 60.0) == with_users.query("/a", 60.0) == counter.query("/a", 60.0)
    store.close()


def test_a_short_window_reads_only_its_buckets_and_each_endpoints_newest(
    tmp_path: Path,
) -> None:
    """`fixed`: a window reads only the buckets from just before its start.

    Chunks and rows both, and the newest bucket before them of an endpoint with none in it;
    answers stay the whole state's.
    """
    counter = HitCounter("fixed", window_s=1, retention_s=10**6)
    counter.record_many([("/a", 1_000.0 + i) for i in range(400)] + [("/b", 10.0)])
    store = store_from_url(str(tmp_path / "state.db"))
    save_counter(store, counter)  # whole: buckets in chunks of an hour's numbers
    with appending(store) as appended:  # type: ignore[arg-type]  # rows beside the chunks
        appended.record_many([("/a", 1_399.5), ("/c", 1_399.7)])
    whole = load_counter(store)
    for last, now in [(1.0, None), (30.5, None), (100.0, None), (398.0, None),
                      (50.0, 1_200.0), (0.5, 1_299.5), (10.0, 900.0), (2_000.0, None),
                      (1e15, None), (1e300, None)]:  # fmt: skip
        state = load_answering(store, Scope(None, last, now))
        end = whole.clock if now is None else now
        first = math.floor((end - last) / 1) - 2  # the query's first candidate, and one more
        held = state.strategy.bucket_counts("/a")  # type: ignore[attr-defined]
        expected = {b: n for b, n in whole.strategy.bucket_counts("/a").items() if b >= first}
        assert held == (expected or {max(whole.strategy.bucket_counts("/a")): 1})  # type: ignore[attr-defined]
        if first > 10:
            assert state.strategy.bucket_counts("/b") == {9: 1}  # type: ignore[attr-defined]
        assert sorted(state.endpoints()) == ["/a", "/b", "/c"]
        for pattern in ("/a", "/b", "/c", "*"):
            assert state.query(pattern, last, now) == whole.query(pattern, last, now)
    store.close()


#: Hits over a few hours, so a whole save writes many chunks of an hour's buckets or sketches.
SPREAD_HITS = st.lists(
    st.tuples(
        st.sampled_from(ENDPOINTS),
        st.floats(0, 4 * 3_600),
        st.none() | st.sampled_from(["u1", "u2", "u3", "u4", "u5"]),
    ),
    max_size=120,
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    window_s=st.sampled_from([1, 7.5, 60]),
    retention_s=st.sampled_from([600, 3_600, 10**7]),
    saved=SPREAD_HITS,
    appends=st.lists(
        st.tuples(st.sampled_from([0, 1_800, 7_200, 20_000]), SPREAD_HITS), max_size=3
    ),
    last=st.sampled_from([1.0, 59.0, 60.0, 61.0, 3_600.0, 9_000.0, 1e9]),
    back=st.none() | st.floats(0, 5 * 3_600),
    pattern=st.sampled_from([None, "/a", "/api/*", "/nothing"]),
)
def test_a_windowed_read_of_appended_fixed_state_answers_as_the_whole_state(
    tmp_path_factory: pytest.TempPathFactory,
    window_s: float,
    retention_s: int,
    saved: list[tuple[str, float, str | None]],
    appends: list[tuple[int, list[tuple[str, float, str | None]]]],
    last: float,
    back: float | None,
    pattern: str | None,
) -> None:
    """`fixed` on SQLite, a whole save then appends: buckets and sketches in chunks and in
    rows, pruned by the appends; a window read by index seeks (each endpoint's rows from
    the window's start, and its newest before) answers as the state loaded whole."""  # noqa: D205, D209
    counter = HitCounter("fixed", window_s=window_s, retention_s=retention_s)
    counter.record_many(saved)
    store = store_from_url(str(tmp_path_factory.mktemp("s") / "state.db"))
    try:
        save_counter(store, counter)
        parts = [[(e, ts + shift, user) for e, ts, user in hits] for shift, hits in appends]
        for part in parts:  # later parts move the clock on: the appends prune
            with appending(store) as appended:  # type: ignore[arg-type]
                appended.record_many(part)
        whole = load_counter(store, lazy_distinct=True)  # type: ignore[arg-type]
        for part in parts:  # the same hits in one counter: what the appends must keep
            counter.record_many(part)
        for endpoint in ENDPOINTS:  # and no more: the appends pruned what it pruned
            held = whole.strategy.bucket_counts(endpoint)  # type: ignore[attr-defined]
            assert held == counter.strategy.bucket_counts(endpoint)  # type: ignore[attr-defined]
        assert store.sizes()["memory_entries"] == counter.strategy.memory_entries()  # type: ignore[attr-defined]
        now = None if back is None or whole.clock is None else whole.clock - back
        spec = WindowSpec(last_s=last, since=None, until=None, now=now)
        reach, end = spec.reach()
        window = spec.resolve(whole.clock)
        patterns = None if pattern is None else (pattern,)
        scoped = load_answering(store, Scope(patterns, reach, end))  # type: ignore[arg-type]
        if pattern is None:  # else only the endpoints the pattern names are read
            assert sorted(scoped.endpoints()) == sorted(whole.endpoints())
        for asked in [pattern] if pattern is not None else [*ENDPOINTS, "*"]:
            got = scoped.query(asked, window.last_s, window.end)
            assert got == whole.query(asked, window.last_s, window.end)
            assert got.answer == counter.query(asked, window.last_s, window.end).answer
            users = _outcome(scoped, got.matched, window.last_s, window.end)
            assert users == _outcome(whole, got.matched, window.last_s, window.end)
            assert users == _outcome(counter, got.matched, window.last_s, window.end)
        if pattern is None:
            ranked = rank(scoped, window.last_s, window.end, limit=10, pattern=None, depth=None)
            assert ranked == rank(whole, window.last_s, window.end, limit=10, pattern=None,
                                  depth=None)  # fmt: skip
    finally:
        store.close()  # type: ignore[attr-defined]

"""`auto`: exact per endpoint below its budget, exponential histogram bounds above it."""

from __future__ import annotations

import math
import random

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, StateError
from hitcount.errors import ConfigurationError, SwapRefusedError
from hitcount.persist.document import encode
from hitcount.strategies import FixedWindow, SlidingWindow
from hitcount.strategies.auto import AutoStrategy
from tests.conftest import Oracle

T0 = 1_700_000_000.0
ENDPOINTS = st.sampled_from(["/a", "/b", "/api/c", "/api/d"])


def _auto(**params: object) -> AutoStrategy:
    return AutoStrategy(**{"max_window_s": 10**7, "buffer_s": 60, **params})


def _mixed_traffic(seed: int) -> list[tuple[str, float]]:
    """A hot endpoint (~20 hits/s) and three cold ones over 20 minutes, a little jittered."""
    rng = random.Random(seed)
    hits = [("/hot", T0 + i * 0.05 + rng.uniform(0, 0.5)) for i in range(24_000)]
    for endpoint, gap in (("/cold", 7.0), ("/warm", 1.0), ("/api/rare", 90.0)):
        hits += [(endpoint, T0 + i * gap + rng.uniform(0, 1)) for i in range(int(1200 / gap))]
    hits.sort(key=lambda hit: hit[1] + rng.uniform(0, 5))  # arrives up to 5 s out of order
    return hits


def test_parameters_are_checked() -> None:
    with pytest.raises(ConfigurationError, match=r"^memory_budget"):
        AutoStrategy(memory_budget=0)
    with pytest.raises(ConfigurationError, match=r"^memory_budget"):
        AutoStrategy(memory_budget=2.5)
    with pytest.raises(ConfigurationError):
        AutoStrategy(epsilon=1.0)
    assert AutoStrategy().params == {
        "max_window_s": 3600.0,
        "epsilon": 0.05,
        "buffer_s": 60.0,
        "memory_budget": 10_000,
    }


def test_below_the_budget_every_answer_is_exact() -> None:
    rng = random.Random(1)
    hits = [(rng.choice(["/a", "/b", "/c"]), T0 + rng.uniform(0, 600)) for _ in range(900)]
    hits.sort(key=lambda hit: hit[1])
    counter = HitCounter(_auto(memory_budget=400))
    counter.record_many(hits)
    oracle = Oracle(hits)
    assert counter.strategy.drain_switches() == []  # type: ignore[attr-defined]
    clock = max(ts for _, ts in hits)
    for endpoint in ("/a", "/b", "/c", "/*"):
        for last in (0.5, 1, 10, 59.5, 60, 300, 600, 10_000):
            for now in (clock, clock - 100, T0 + 30):
                answer = counter.query(endpoint, last, now).answer
                names = ("/a", "/b", "/c") if endpoint == "/*" else (endpoint,)
                truth = sum(oracle.count(ep, now - last, now) for ep in names)
                assert answer.exact and answer.count == truth, (endpoint, last, now)


def test_after_switching_the_bounds_hold_and_the_estimate_is_within_epsilon() -> None:
    hits = _mixed_traffic(2)
    epsilon = 0.05
    strategy = _auto(memory_budget=2_000, epsilon=epsilon, buffer_s=10)
    counter = HitCounter(strategy)
    for i in range(0, len(hits), 997):
        counter.record_many(hits[i : i + 997])
    assert counter.metrics.late_hits == 0
    announced = [
        row["endpoint"] for row in counter.iter_events() if row["event"] == "endpoint_switched"
    ]
    assert announced == ["/hot"]  # the engine drained the switch and announced it once
    assert strategy.drain_switches() == []
    assert strategy.switched() == ["/hot"]
    oracle = Oracle(hits)
    clock = max(ts for _, ts in hits)
    rng = random.Random(3)
    windows = [(last, clock) for last in (0.5, 5, 30, 60, 61, 300, 900, 1200, 5000)]
    windows += [(rng.uniform(1, 1200), clock - rng.uniform(0, 1200)) for _ in range(150)]
    worst = 0.0
    for last, now in windows:
        for endpoint in ("/hot", "/cold", "/warm", "/api/rare", "/*"):
            answer = counter.query(endpoint, last, now).answer
            names = {ep for ep, _ in hits} if endpoint == "/*" else {endpoint}
            truth = sum(oracle.count(ep, now - last, now) for ep in names)
            assert answer.low <= truth <= answer.high, (endpoint, last, now, answer)
            assert answer.low <= answer.count <= answer.high
            if endpoint not in ("/hot", "/*"):
                assert answer.exact and answer.count == truth
            elif answer.exact:
                assert answer.count == truth
            if endpoint == "/hot" and now == clock and truth:
                error = abs(answer.count - truth) / truth
                assert error <= epsilon, (last, answer, truth)
                worst = max(worst, error)
    assert worst > 0  # the hot endpoint really is approximate now


def test_a_hot_endpoint_keeps_bounded_memory_and_cold_ones_stay_exact() -> None:
    budget, window, buffer_s, epsilon = 500, 600.0, 1.0, 0.1
    strategy = AutoStrategy(
        memory_budget=budget, max_window_s=window, buffer_s=buffer_s, epsilon=epsilon
    )
    counter = HitCounter(strategy, max_lateness_s=0)
    rate = 50  # hits a second: 30_000 per window, 60 times the budget
    peak = peak_switched = 0
    for second in range(3_000):
        batch = [("/hot", T0 + second + i / rate) for i in range(rate)]
        if second % 10 == 0:
            batch.append(("/cold", T0 + second + 0.5))
        counter.record_many(batch)
        peak = max(peak, strategy.memory_entries())
        if strategy.is_switched("/hot"):
            peak_switched = max(peak_switched, strategy.memory_entries())
    assert strategy.switched() == ["/hot"]
    assert not strategy.is_switched("/cold")
    # Histogram: at most k//2 + 2 buckets per size, sizes up to the hits in a window; plus
    # buffer_s of buffered hits (per endpoint) and the cold endpoint's exact timestamps.
    k = math.ceil(1 / epsilon)
    buckets = (k // 2 + 2) * (math.ceil(math.log2(rate * window)) + 1)
    cold = 2 * window / 10
    bound = buckets + (rate * buffer_s + 1) + 2 * cold + 4
    hot_hits_retained = rate * window
    assert peak_switched <= bound < hot_hits_retained / 50
    # Before the switch the hot endpoint held at most its budget per window, plus one batch.
    assert peak <= budget + rate + bound
    assert counter.query("/cold", 300).answer.exact


def test_per_hit_memory_peak_before_switching_is_about_the_budget() -> None:
    budget = 300
    strategy = AutoStrategy(memory_budget=budget, max_window_s=60, buffer_s=0, epsilon=0.2)
    counter = HitCounter(strategy, max_lateness_s=0)
    peak = 0
    for i in range(20_000):
        counter.record("/x", T0 + i * 0.01)
        peak = max(peak, strategy.memory_entries())
    assert strategy.is_switched("/x")
    # Exact timestamps <= budget + 1 at the switch, plus the shadow histogram's buckets.
    assert peak <= budget + 1 + (5 // 2 + 2) * 16


@settings(max_examples=120, deadline=None)
@given(
    hits=st.lists(st.tuples(ENDPOINTS, st.floats(0, 3_000)), max_size=250),
    batch=st.integers(1, 60),
    budget=st.integers(1, 12),
)
def test_per_hit_and_batch_paths_keep_the_same_state(
    hits: list[tuple[str, float]], batch: int, budget: int
) -> None:
    params = {"max_window_s": 100, "epsilon": 0.3, "buffer_s": 10, "memory_budget": budget}
    one_by_one = HitCounter(AutoStrategy(**params), max_lateness_s=0)
    for endpoint, ts in hits:
        one_by_one.record(endpoint, ts)
    batched = HitCounter(AutoStrategy(**params), max_lateness_s=0)  # columnar record_array
    for i in range(0, len(hits), batch):
        batched.record_many(hits[i : i + batch])
    by_endpoint = AutoStrategy(**params)  # strategy.record_many, endpoint by endpoint
    lists: dict[str, list[float]] = {}
    for endpoint, ts in hits:
        lists.setdefault(endpoint, []).append(ts)
    for endpoint, stamps in lists.items():
        by_endpoint.record_many(endpoint, stamps)
    reference = AutoStrategy(**params)
    for endpoint, ts in hits:
        reference.record(endpoint, ts)
    assert by_endpoint.to_state() == reference.to_state()
    assert batched.strategy.to_state() == one_by_one.strategy.to_state()
    assert batched.strategy.horizon == one_by_one.strategy.horizon
    assert batched.metrics == one_by_one.metrics  # late and pruned counts included
    switched = one_by_one.strategy.switched()  # type: ignore[attr-defined]
    assert sorted(switched) == sorted(batched.strategy.switched())  # type: ignore[attr-defined]


@settings(max_examples=80, deadline=None)
@given(
    hits=st.lists(st.tuples(ENDPOINTS, st.floats(0, 2_000)), max_size=150),
    last=st.floats(0.01, 2_500),
    budget=st.integers(1, 30),
)
def test_answers_hold_their_bounds_for_any_hits(
    hits: list[tuple[str, float]], last: float, budget: int
) -> None:
    strategy = _auto(memory_budget=budget, epsilon=0.2, buffer_s=5)
    counter = HitCounter(strategy, max_lateness_s=10**7)  # nothing is late
    kept = [(ep, ts) for ep, ts in hits if counter.record(ep, ts)]
    oracle = Oracle(kept)
    if not kept:
        return
    clock = max(ts for _, ts in kept)
    for endpoint in ("/a", "/api/*"):
        answer = counter.query(endpoint, last).answer
        names = ("/api/c", "/api/d") if endpoint == "/api/*" else (endpoint,)
        truth = sum(oracle.count(ep, clock - last, clock) for ep in names)
        assert answer.low <= truth <= answer.high
        if all(not strategy.is_switched(ep) for ep in names):
            assert answer.exact and answer.count == truth


def test_late_hits_follow_one_rule_for_every_endpoint() -> None:
    strategy = AutoStrategy(max_window_s=100, buffer_s=60, epsilon=0.3, memory_budget=3)
    counter = HitCounter(strategy, max_lateness_s=60)
    hot = [("/hot", T0 + i) for i in (*range(0, 400, 2), 399)]
    counter.record_many([*hot, ("/cold", T0 + 399)])
    assert strategy.is_switched("/hot") and not strategy.is_switched("/cold")
    # Older than horizon + max_window_s: late for both, in both paths.
    horizon = strategy.horizon
    assert horizon + 100 == T0 + 337.5  # floor((399 - 100 - 60) / 6.25) * 6.25 + 100
    stale = horizon + 100 - 1
    assert not counter.record("/cold", stale)
    assert not counter.record("/hot", stale)
    # Newer than that, but outside the allowance (399 - 60 = 339) and older than /hot's
    # newest bucketed hit (338, before 399 - 60): only /hot refuses, and the batch path
    # counts it late too.
    assert counter.record("/cold", T0 + 337.75)
    before = counter.metrics.late_hits
    assert counter.record_many([("/hot", T0 + 337.75), ("/cold", T0 + 381.5)]) == 1
    assert counter.metrics.late_hits == before + 1
    mask = strategy.late_mask(np.array([stale, T0 + 337.75]), np.array([horizon, horizon]))
    assert mask.tolist() == [True, False]


def _filled(**params: object) -> AutoStrategy:
    strategy = _auto(memory_budget=50, **params)
    counter = HitCounter(strategy)
    rng = random.Random(9)
    hits = [
        (rng.choice(["/a", "/a", "/a", "/a", "/b", "/c"]), T0 + rng.uniform(0, 600))
        for _ in range(300)
    ]
    hits.sort(key=lambda hit: hit[1])
    counter.record_many(hits)
    assert counter.metrics.late_hits == 0
    return strategy


@pytest.mark.parametrize("compact", [False, True])
def test_state_round_trip_gives_identical_answers(compact: bool) -> None:
    source = _filled()
    assert "/a" in source.switched()
    assert len(source.switched()) < 3  # mixed: some endpoints are still exact
    raw = encode(source.to_compact_state() if compact else source.to_state())
    copy = _auto(memory_budget=50)
    copy.horizon = source.horizon
    copy.load_state(raw)
    assert copy.to_state() == source.to_state()
    assert copy.switched() == source.switched()
    assert copy.totals() == source.totals()
    assert copy.memory_entries() == source.memory_entries()
    for endpoint in ("/a", "/b", "/c"):
        for last in (1, 60, 600):
            end = T0 + 600
            assert copy.query(endpoint, end - last, end, end) == source.query(
                endpoint, end - last, end, end
            )
    # The copy goes on exactly as the source.
    for target in (source, copy):
        target.record("/c", T0 + 700)
        target.record("/d", T0 + 701)
    assert copy.to_state() == source.to_state()


def _state(switched: object, sliding: object, ehist: object) -> bytes:
    return msgspec.json.encode({"switched": switched, "sliding": sliding, "ehist": ehist})


_HIST_A = {"endpoints": {"/a": {"buckets": [], "buffer": [T0]}}}


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b'{"switched": [], "sliding": {"timestamps": {}}}',
        msgspec.json.encode(
            {"switched": [], "sliding": {"timestamps": {}}, "ehist": {"endpoints": {}}, "x": 1}
        ),
        _state([], {"timestamps": {"/a": [T0]}}, {"endpoints": {}}),  # exact, no histogram
        _state(["/a"], {"timestamps": {"/a": [T0]}}, _HIST_A),  # both exact and switched
        _state(["/a", "/a"], {"timestamps": {}}, _HIST_A),  # repeated
        _state([""], {"timestamps": {}}, _HIST_A),  # empty name
        _state([1], {"timestamps": {}}, _HIST_A),  # not a name
        _state([], {"timestamps": {"/a": [T0, "x"]}}, _HIST_A),  # bad sliding part
        _state([], {"timestamps": {"/a": [-1.0]}}, _HIST_A),
        _state([], {"stamps": {}}, _HIST_A),
        _state([], {"timestamps": {}}, {"endpoints": {"/a": {"buckets": [[T0, 3]], "buffer": []}}}),
        _state([], {"timestamps": {}}, {"endpoints": {"/a": {"buckets": [], "buffer": [T0, 1]}}}),
        _state([], {"timestamps": {"/a": [T0 + i for i in range(51)]}}, _HIST_A),  # over budget
    ],
)
def test_invalid_states_are_rejected_and_change_nothing(raw: bytes) -> None:
    strategy = _filled()
    before = strategy.to_state()
    with pytest.raises(StateError):
        strategy.load_state(raw)
    assert strategy.to_state() == before


def test_pruned_exact_timestamps_are_refused_on_load() -> None:
    strategy = AutoStrategy(max_window_s=100, buffer_s=10)
    strategy.horizon = T0
    with pytest.raises(StateError, match="pruned"):
        strategy.load_state(_state([], {"timestamps": {"/a": [T0]}}, _HIST_A))


def test_convert_from_sliding_is_lossless_and_switches_hot_endpoints() -> None:
    sliding = SlidingWindow(max_window_s=10**7)
    rng = random.Random(4)
    hits = [(rng.choice(["/a", "/a", "/a", "/b"]), T0 + rng.uniform(0, 300)) for _ in range(500)]
    for endpoint, ts in hits:
        sliding.record(endpoint, ts)
    converted = AutoStrategy.convert(
        sliding, {"max_window_s": 10**7, "memory_budget": 200, "buffer_s": 10}
    )
    assert isinstance(converted, AutoStrategy)
    passed = sorted(ts for endpoint, ts in hits if endpoint == "/a")[200]  # its 201st hit
    assert converted.drain_switches() == [("/a", passed)]
    oracle = Oracle(hits)
    end = T0 + 300
    for last in (5, 50, 299):
        b = converted.query("/b", end - last, end, end)
        assert b.exact and b.count == oracle.count("/b", end - last, end)
        a = converted.query("/a", end - last, end, end)
        assert a.low <= oracle.count("/a", end - last, end) <= a.high
    with pytest.raises(SwapRefusedError):
        AutoStrategy.convert(FixedWindow(), {})
    with pytest.raises(SwapRefusedError):
        AutoStrategy.convert(_filled(), {})


def test_prune_drops_both_kinds_and_the_horizon_reaches_both_parts() -> None:
    strategy = AutoStrategy(max_window_s=100, buffer_s=5, epsilon=0.3, memory_budget=20)
    counter = HitCounter(strategy, max_lateness_s=0)
    counter.record_many([("/hot", T0 + i * 0.25) for i in range(4000)] + [("/cold", T0 + 1)])
    assert strategy.is_switched("/hot")
    assert "/cold" not in counter.endpoints()  # pruned away entirely
    assert counter.metrics.pruned_events > 0
    assert strategy.totals()["/hot"] >= 100 * 4 * (1 - 0.3)
    assert counter.query("/hot", 50).answer.complete
    assert not counter.query("/hot", 500).answer.complete


def test_engine_horizon_assignment_reaches_the_parts() -> None:
    strategy = AutoStrategy()
    strategy.horizon = T0  # as a swap's --reset sets it: nothing kept yet
    assert not strategy.record("/a", T0)
    assert strategy.record("/a", T0 + 3599)  # no newest hit to be late behind (QA 14b Q1)
    assert strategy.record("/a", T0 + 7200)
    strategy.note_clock(T0 + 7200)  # as the engine does after each hit
    assert not strategy.record("/a", T0 + 3599.5)  # before horizon + max_window_s: late
    assert strategy.query("/a", T0 - 1, T0 + 3600, T0 + 7200).complete is False


def test_the_engine_announces_each_switch_once() -> None:
    from hitcount.model.events import ENDPOINT_SWITCHED, Event

    counter = HitCounter(AutoStrategy(memory_budget=20, max_window_s=600, buffer_s=1))
    seen: list[Event] = []
    counter.subscribe(ENDPOINT_SWITCHED, seen.append)
    counter.record_many(("/hot", 1_767_225_600.0 + i * 0.1) for i in range(500))
    counter.record_many(("/cold", 1_767_225_600.0 + i * 30.0) for i in range(5))
    counter.record("/hot", 1_767_225_700.0)
    assert [(e.payload["endpoint"], e.payload["to"]) for e in seen] == [("/hot", "ehist")]
    assert any(row["event"] == ENDPOINT_SWITCHED for row in counter.iter_events())


def test_a_switch_is_dated_at_the_hit_that_passed_the_budget_however_batched() -> None:
    """One batch or hit by hit: `endpoint_switched` at the 51st hit of a 50-hit budget."""
    hits = [("/a", T0 + i) for i in range(120)] + [("/b", T0 + 0.5)]
    dates = []
    for batched in (True, False):
        counter = HitCounter("auto", max_window_s=1000, memory_budget=50)
        seen: list[tuple[str, float]] = []
        counter.subscribe(
            "endpoint_switched",
            lambda event, seen=seen: seen.append((event.payload["endpoint"], event.clock)),
        )
        if batched:
            counter.record_many(sorted(hits, key=lambda hit: hit[1]))
        else:
            for endpoint, ts in sorted(hits, key=lambda hit: hit[1]):
                counter.record(endpoint, ts)
        dates.append(seen)
    assert dates[0] == dates[1] == [("/a", T0 + 50)]

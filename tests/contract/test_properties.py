"""Hypothesis properties against the brute-force oracle: any hits, any order, any window."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, WindowAnswer, from_document, take_snapshot
from hitcount.strategies import available_strategies
from hitcount.strategies.ehist import ExponentialHistogram
from tests.conftest import ROOMY_PARAMS, Oracle

ENDPOINTS = st.sampled_from(["/a", "/b", "/api/c", "/api/d"])
# Integer-heavy timestamps hit bucket and window edges exactly; floats cover the rest.
TIMES = st.one_of(
    st.integers(min_value=0, max_value=2_000).map(float),
    st.floats(min_value=0, max_value=2_000, allow_nan=False, allow_infinity=False),
)
HITS = st.lists(st.tuples(ENDPOINTS, TIMES), min_size=0, max_size=120)
WINDOWS = st.one_of(st.integers(1, 2_500).map(float), st.floats(0.001, 2_500))


def _counter(name: str, **overrides: object) -> HitCounter:
    return HitCounter(name, **{**ROOMY_PARAMS[name], **overrides})


@settings(max_examples=150, deadline=None)
@given(hits=HITS, last=WINDOWS, now=st.none() | TIMES, shuffle=st.randoms())
def test_sliding_equals_the_oracle_in_any_order(
    hits: list[tuple[str, float]], last: float, now: float | None, shuffle: object
) -> None:
    arrival = list(hits)
    shuffle.shuffle(arrival)  # type: ignore[attr-defined]
    counter = _counter("sliding")
    for endpoint, ts in arrival:
        counter.record(endpoint, ts)
    oracle = Oracle(hits)
    end = now if now is not None else max((ts for _, ts in hits), default=None)
    for endpoint in ("/a", "/api/c"):
        answer = counter.query(endpoint, last, now).answer
        expected = 0 if end is None else oracle.count(endpoint, end - last, end)
        assert answer.exact and answer.count == expected


@settings(max_examples=150, deadline=None)
@given(hits=HITS, last=WINDOWS, now=st.none() | TIMES, width=st.sampled_from([1.0, 3.0, 10.0, 0.5]))
def test_fixed_bounds_always_hold(
    hits: list[tuple[str, float]], last: float, now: float | None, width: float
) -> None:
    counter = _counter("fixed", window_s=width)
    counter.record_many(hits)
    oracle = Oracle(hits)
    end = now if now is not None else max((ts for _, ts in hits), default=None)
    answer = counter.query("/api/*", last, now).answer
    expected = (
        0 if end is None else sum(oracle.count(ep, end - last, end) for ep in ("/api/c", "/api/d"))
    )
    assert answer.low <= expected <= answer.high
    assert answer.low <= answer.count <= answer.high
    if answer.exact:
        assert answer.count == expected


@settings(max_examples=100, deadline=None)
@given(hits=HITS, shuffle=st.randoms(), name=st.sampled_from(["fixed", "sliding"]))
def test_arrival_order_does_not_change_the_state(
    hits: list[tuple[str, float]], shuffle: object, name: str
) -> None:
    in_order = _counter(name)
    in_order.record_many(sorted(hits, key=lambda hit: hit[1]))
    arrival = list(hits)
    shuffle.shuffle(arrival)  # type: ignore[attr-defined]
    shuffled = _counter(name)
    for endpoint, ts in arrival:
        shuffled.record(endpoint, ts)
    assert shuffled.strategy.to_state() == in_order.strategy.to_state()


@settings(max_examples=100, deadline=None)
@given(
    hits=st.lists(st.tuples(ENDPOINTS, st.floats(0, 5_000)), max_size=200),
    batch=st.integers(1, 50),
    variant=st.sampled_from(["fixed", "fixed-fine", "sliding", "ehist"]),
    in_order=st.booleans(),
)
def test_per_hit_and_batch_paths_keep_the_same_state_with_pruning(
    hits: list[tuple[str, float]], batch: int, variant: str, in_order: bool
) -> None:
    params: dict[str, dict[str, float]] = {
        "fixed": {"window_s": 10, "retention_s": 100},
        "fixed-fine": {"window_s": 0.01, "retention_s": 100},  # sparse buckets: sorted
        "sliding": {"max_window_s": 100},
        "ehist": {"max_window_s": 100, "epsilon": 0.3, "buffer_s": 10},
    }
    name = variant.split("-")[0]
    # Arrival order as drawn (late hits included), or in time order as most logs come:
    # then buckets and timestamps straddle batch edges.
    ordered = sorted(hits, key=lambda hit: hit[1]) if in_order else hits
    one_by_one = HitCounter(name, max_lateness_s=0, **params[variant])
    for endpoint, ts in ordered:
        one_by_one.record(endpoint, ts)
    batched = HitCounter(name, max_lateness_s=0, **params[variant])
    for i in range(0, len(ordered), batch):
        batched.record_many(ordered[i : i + batch])
    assert batched.strategy.to_state() == one_by_one.strategy.to_state()
    assert batched.strategy.horizon == one_by_one.strategy.horizon
    assert batched.metrics == one_by_one.metrics  # late and pruned counts included


@settings(max_examples=100, deadline=None)
@given(
    hits=st.lists(st.tuples(ENDPOINTS, st.floats(0, 3_000)), max_size=150),
    lateness=st.lists(st.floats(0, 30), min_size=150, max_size=150),
    last=st.floats(0.5, 100),
)
def test_late_lines_within_max_lateness_are_counted_exactly(
    hits: list[tuple[str, float]], lateness: list[float], last: float
) -> None:
    """Lines displaced by up to 30 s, with 60 s allowed: windows up to max_window are exact."""
    arrival = sorted(
        ((ep, ts) for ep, ts in hits), key=lambda hit: hit[1] + lateness[hits.index(hit)]
    )
    counter = HitCounter("sliding", max_window_s=100, max_lateness_s=60)
    for endpoint, ts in arrival:
        assert counter.record(endpoint, ts)
    oracle = Oracle(hits)
    if not hits:
        return
    clock = max(ts for _, ts in hits)
    answer = counter.query("/a", last).answer
    assert answer.complete
    assert answer.count == oracle.count("/a", clock - last, clock)


@settings(max_examples=60, deadline=None)
@given(hits=HITS, more=HITS, name=st.sampled_from(available_strategies()))
def test_snapshot_round_trip_restores_identical_answers_and_future(
    hits: list[tuple[str, float]], more: list[tuple[str, float]], name: str
) -> None:
    counter = _counter(name)
    counter.record_many(hits)
    document = msgspec.json.decode(msgspec.json.encode(take_snapshot(counter)))
    copy = from_document(document)
    assert copy.metrics == counter.metrics
    assert copy.clock == counter.clock
    for endpoint in ("/a", "/b", "/api/*"):
        for last in (1.0, 50.0, 5_000.0):
            assert copy.query(endpoint, last) == counter.query(endpoint, last)
    # Same state, same seed: the two go on identically (Morris included).
    for target in (counter, copy):
        for endpoint, ts in more:
            target.record(endpoint, ts)
    assert copy.strategy.to_state() == counter.strategy.to_state()


@pytest.mark.parametrize("name", ["fixed", "sliding", "tiered", "ehist"])
@pytest.mark.parametrize("batch", [1, 2, 5, 7])
def test_batches_that_split_a_bucket_add_up(name: str, batch: int) -> None:
    """Dense in-order hits: each bucket straddles batch edges, its counts must add up."""
    hits = [(("/a", "/b")[i % 3 == 0], 1_000.0 + i * 0.7) for i in range(400)]
    one_by_one = _counter(name, max_lateness_s=0)
    for endpoint, ts in hits:
        one_by_one.record(endpoint, ts)
    batched = _counter(name, max_lateness_s=0)
    for i in range(0, len(hits), batch):
        batched.record_many(hits[i : i + batch])
    assert batched.strategy.to_state() == one_by_one.strategy.to_state()
    assert batched.metrics == one_by_one.metrics


# -- every strategy, random parameters, late lines, any `now` --------------------------------


@st.composite
def _params(draw: st.DrawFn, name: str) -> dict[str, object]:
    """Random parameters of strategy `name` (small enough that pruning happens)."""
    window = draw(st.sampled_from([10.0, 60.0, 300.0, 2_000.0]))
    if name == "fixed":
        return {"window_s": draw(st.sampled_from([0.5, 1.0, 7.0, 60.0])), "retention_s": window}
    if name == "sliding":
        return {"max_window_s": window}
    if name == "morris":
        return {"base": draw(st.floats(1.05, 2.0)), "counters": draw(st.integers(1, 8)),
                "seed": draw(st.integers(0, 99))}  # fmt: skip
    if name == "tiered":
        fine = draw(st.sampled_from([1.0, 2.0, 5.0]))
        mid, coarse = (
            fine * draw(st.sampled_from([2, 5])),
            fine * 10 * draw(st.sampled_from([1, 3])),
        )
        reach = draw(st.floats(1.0, 20.0)) * coarse
        return {"fine_s": fine, "mid_s": mid, "coarse_s": coarse, "fine_retention_s": reach,
                "mid_retention_s": 2 * reach, "coarse_retention_s": 4 * reach}  # fmt: skip
    params: dict[str, object] = {
        "max_window_s": window,
        "epsilon": draw(st.sampled_from([0.05, 0.1, 0.3, 0.5])),
        "buffer_s": draw(st.sampled_from([0.0, 5.0, 60.0, 400.0])),
    }
    if name == "auto":
        params["memory_budget"] = draw(st.integers(1, 40))
    return params


@st.composite
def _runs(draw: st.DrawFn) -> tuple[str, dict[str, object], float, list[tuple[str, float]]]:
    """A strategy, its parameters, a lateness allowance and hits in arrival order (late ones
    arrive up to 1.5 times the allowance behind the newest)."""  # noqa: D205, D209
    name = draw(st.sampled_from(available_strategies()))
    lateness = draw(st.sampled_from([0.0, 10.0, 60.0, 300.0]))
    span = draw(st.sampled_from([100.0, 500.0, 2_000.0]))  # dense or sparse traffic
    hits = [(ep, ts * span / 2_000) for ep, ts in draw(HITS)]
    late = st.sampled_from([0.0, 0.0, 0.0, 0.2, 0.7, 1.0, 1.5])  # a share of the allowance
    delays = draw(st.lists(late, min_size=len(hits), max_size=len(hits)))
    order = sorted(range(len(hits)), key=lambda i: hits[i][1] + delays[i] * max(lateness, 1.0))
    return name, draw(_params(name)), lateness, [hits[i] for i in order]


@settings(max_examples=400, deadline=None)
@given(run=_runs(), queries=st.lists(st.tuples(st.floats(0, 1), WINDOWS), min_size=1, max_size=6))
def test_every_strategy_keeps_its_promises_against_the_oracle(
    run: tuple[str, dict[str, object], float, list[tuple[str, float]]],
    queries: list[tuple[float, float]],
) -> None:
    """Certain bounds hold, `exact` comes only with the truth, epsilon holds where stated,
    and no hit inside the lateness allowance is refused, for every strategy."""  # noqa: D205, D209
    name, params, lateness, arrival = run
    counter = HitCounter(name, max_lateness_s=lateness, **params)
    kept: list[tuple[str, float]] = []
    clock = -math.inf
    for endpoint, ts in arrival:
        if counter.record(endpoint, ts):
            kept.append((endpoint, ts))
        else:
            assert ts < clock - lateness, (name, ts, clock, lateness)  # only outside the allowance
        clock = max(clock, ts)
    if not kept:
        return
    oracle = Oracle(kept)
    horizon = max(counter.strategy.horizon, min(ts for _, ts in kept))
    for where, last in [(1.0, 60.0), *queries]:
        now = horizon + where * (clock - horizon)  # anywhere in what the strategy keeps
        for pattern, names in (("/a", ["/a"]), ("/api/*", ["/api/c", "/api/d"])):
            answer = counter.query(pattern, last, now).answer
            truth = _keeps_its_word(answer, oracle, names, now, last, name, pattern)
            assert answer.low <= answer.count <= answer.high
            if _carries_epsilon(counter, name, now, last, clock) and answer.complete:
                epsilon = float(params["epsilon"])  # type: ignore[arg-type]
                assert abs(answer.count - truth) <= epsilon * truth + 1e-9, (name, answer, truth)


def _keeps_its_word(
    answer: WindowAnswer, oracle: Oracle, names: list[str], now: float, last: float, *at: str
) -> int:
    """The truth of `names` in the window (all time for a timeless answer), checked: inside
    certain bounds, and the count when the answer says exact."""  # noqa: D205, D209
    truth = sum(oracle.count(ep, now - last, now) for ep in names)
    if answer.all_time:
        truth = sum(oracle.total(ep) for ep in names)
    if answer.confidence is None:
        assert answer.low <= truth <= answer.high, (*at, now, last, answer)
    if answer.exact:
        assert answer.count == truth, (*at, now, last, answer)
    return truth


def _carries_epsilon(counter: HitCounter, name: str, now: float, last: float, clock: float) -> bool:
    """Whether the README promises epsilon: ehist and auto, windows up to --max-window
    ending at the replay clock (for ehist: at or after the newest bucket of each endpoint)."""  # noqa: D205, D209
    if name not in ("ehist", "auto") or last > float(counter.strategy.params["max_window_s"]):
        return False
    if name == "ehist":  # any window ending at or after each endpoint's newest bucket
        strategy = counter.strategy
        assert isinstance(strategy, ExponentialHistogram)
        buckets = [strategy.buckets(ep) for ep in ("/a", "/api/c", "/api/d")]
        return all(not b or now >= b[-1][0] for b in buckets)
    return now == clock


@settings(max_examples=300, deadline=None)
@given(
    run=_runs(),
    queries=st.lists(st.tuples(st.floats(-0.5, 1), WINDOWS), min_size=1, max_size=6),
    batched=st.booleans(),
)
def test_answers_hold_every_hit_given_the_refused_ones_too(
    run: tuple[str, dict[str, object], float, list[tuple[str, float]]],
    queries: list[tuple[float, float]],
    batched: bool,
) -> None:
    """Against every hit given, those refused as too late included (QA L4): a certain
    bound holds and `exact` comes only with the truth, for every strategy, any window (one
    starting before the data kept too), hit by hit or in one batch."""  # noqa: D205, D209
    name, params, lateness, arrival = run
    counter = HitCounter(name, max_lateness_s=lateness, distinct=False, **params)
    if batched:
        counter.record_many(arrival)
    else:
        for endpoint, ts in arrival:
            counter.record(endpoint, ts)
    if counter.clock is None:
        return
    oracle, clock = Oracle(arrival), counter.clock
    oldest = min(ts for _, ts in arrival)
    for where, last in [(1.0, 60.0), (1.0, clock - oldest + 1), *queries]:
        now = oldest + where * (clock - oldest)
        for pattern, names in (("/a", ["/a"]), ("/api/*", ["/api/c", "/api/d"]), ("/z", [])):
            answer = counter.query(pattern, last, now).answer
            if not names:  # an endpoint never seen: what the state may hold of it
                answer = counter.unheld_answer(last, now)
            _keeps_its_word(answer, oracle, names, now, last, name, pattern)
    for result in counter.top(clock - oldest + 1, clock, limit=10):
        truth = (
            oracle.total(result.endpoint)
            if result.answer.all_time
            else oracle.count(result.endpoint, oldest - 1, clock)
        )
        if result.answer.confidence is None:
            assert result.answer.low <= truth <= result.answer.high, (name, result)

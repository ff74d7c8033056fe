"""The exponential histogram (`ehist`) against a brute-force oracle and the DGIM invariant.

The guarantee asserted, for every window `(now - N, now]` with `N <= max_window_s`, `now` the
replay clock and hits arriving up to `buffer_s` late (all of them accepted):

- `low <= true <= high` (certain bounds), and the answer is complete;
- `high - low <= max(true - 1, 0) / (k // 2 + 1)` with `k = ceil(1 / epsilon)`.

Why: a window ending at or after the newest bucket cuts at most one bucket, the oldest one
whose timestamp is inside (size 2**j); it contributes between 1 (its newest hit, at its
timestamp, is inside) and 2**j, a spread of 2**j - 1. Merges leave `k // 2 + 1` buckets of a
size, and a size only loses buckets by merging (back to `k // 2 + 1`) or by expiring after every
older bucket, so each size 2**i with i < j keeps at least `k // 2 + 1` buckets, all newer than
the cut one and fully inside: the rest of the window holds `R >= (k // 2 + 1) (2**j - 1)` hits
and `true >= R + 1`. Hence the width bound, which is below `2 * epsilon * true`, and since
`count` is the midpoint, `|count - true| <= (high - low) / 2 < epsilon * true`.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, StateError
from hitcount.errors import ConfigurationError, SwapRefusedError
from hitcount.model.answers import WindowAnswer
from hitcount.model.hits import MAX_TS
from hitcount.strategies.ehist import ExponentialHistogram
from hitcount.strategies.fixed import FixedWindow
from hitcount.strategies.morris import MorrisCounter
from hitcount.strategies.sliding import SlidingWindow
from tests.cli_helpers import ok, ok_json, write_ndjson
from tests.conftest import Oracle

T0 = 1_700_000_000.0
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ENDPOINTS = st.sampled_from(["/a", "/b"])
# Integer timestamps hit window edges and ties exactly; dense ones fill big buckets.
TIMES = st.one_of(
    st.integers(min_value=0, max_value=300).map(float),
    st.floats(min_value=0, max_value=300, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=3_000).map(float),
)
DELAYS = st.floats(min_value=0, max_value=1)  # a share of buffer_s
LISTED = st.lists(st.tuples(ENDPOINTS, TIMES, DELAYS), max_size=100)


@st.composite
def _hits(draw: st.DrawFn) -> list[tuple[str, float, float]]:
    """Hits drawn one by one, plus a seeded bulk of dense ones on /a (so buckets grow)."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    bulk = draw(st.integers(0, 400))
    dense = [("/a", float(rng.randint(0, 300)), rng.random()) for _ in range(bulk)]
    return draw(LISTED) + dense


HITS = _hits()
EPSILONS = st.sampled_from([0.5, 0.3, 0.1])
MAX_WINDOWS = st.sampled_from([50.0, 400.0, 5_000.0])
BUFFERS = st.sampled_from([0.0, 7.0, 60.0])


def _spread(epsilon: float) -> int:
    """`k // 2 + 1`: the fewest buckets each size below the largest keeps."""
    return math.ceil(1 / epsilon) // 2 + 1


def _arrival(hits: list[tuple[str, float, float]], buffer_s: float) -> list[tuple[str, float]]:
    """Hits in arrival order: each one up to `buffer_s` late (delay share * buffer_s)."""
    ordered = sorted(hits, key=lambda hit: hit[1] + hit[2] * buffer_s)
    return [(endpoint, ts) for endpoint, ts, _ in ordered]


def _fed(strategy: ExponentialHistogram, arrival: list[tuple[str, float]]) -> HitCounter:
    counter = HitCounter(strategy, max_lateness_s=strategy.buffer_s)
    for endpoint, ts in arrival:
        assert counter.record(endpoint, ts), (endpoint, ts)
    return counter


def _truth(stamps: list[float], start: float, end: float) -> int:
    """Exact count of `start < ts <= end` in a sorted list (checked against the Oracle)."""
    return bisect_right(stamps, end) - bisect_right(stamps, start)


def _assert_guarantee(low: float, true: int, high: float, count: float, epsilon: float) -> None:
    assert low <= true <= high
    assert high - low <= max(true - 1, 0) / _spread(epsilon) + 1e-9
    assert abs(count - true) <= epsilon * true + 1e-9


# -- the guarantee -----------------------------------------------------------------------


@SETTINGS
@given(hits=HITS, epsilon=EPSILONS, max_window=MAX_WINDOWS, buffer_s=BUFFERS)
def test_every_window_up_to_max_window_is_bounded_within_epsilon(
    hits: list[tuple[str, float, float]], epsilon: float, max_window: float, buffer_s: float
) -> None:
    strategy = ExponentialHistogram(max_window_s=max_window, epsilon=epsilon, buffer_s=buffer_s)
    counter = _fed(strategy, _arrival(hits, buffer_s))
    if counter.clock is None:
        return
    clock = counter.clock
    oracle = Oracle((ep, ts) for ep, ts, _ in hits)
    for endpoint in ("/a", "/b"):
        stamps = sorted(ts for ep, ts, _ in hits if ep == endpoint)
        # The answer only changes at a hit's timestamp: try each edge, just past it, and N.
        lasts = {clock - ts for ts in stamps} | {(clock - ts) * (1 + 1e-9) + 1e-9 for ts in stamps}
        for i, last in enumerate(sorted(n for n in lasts | {max_window} if 0 < n <= max_window)):
            answer = counter.query(endpoint, last).answer
            true = _truth(stamps, clock - last, clock)
            if i % 16 == 0:
                assert true == oracle.count(endpoint, clock - last, clock)
            assert answer.complete, (endpoint, last)
            _assert_guarantee(answer.low, true, answer.high, answer.count, epsilon)
            assert answer.exact == (answer.low == answer.high)
            if answer.exact:
                assert answer.count == true


@SETTINGS
@given(
    hits=HITS,
    queries=st.lists(st.tuples(TIMES, st.floats(0.01, 1)), min_size=1, max_size=10),
    epsilon=EPSILONS,
    max_window=MAX_WINDOWS,
    buffer_s=BUFFERS,
)
def test_historical_windows_keep_certain_bounds(
    hits: list[tuple[str, float, float]],
    queries: list[tuple[float, float]],
    epsilon: float,
    max_window: float,
    buffer_s: float,
) -> None:
    """Windows ending before the newest hit: buckets can straddle both edges; bounds hold."""
    strategy = ExponentialHistogram(max_window_s=max_window, epsilon=epsilon, buffer_s=buffer_s)
    counter = _fed(strategy, _arrival(hits, buffer_s))
    oracle = Oracle((ep, ts) for ep, ts, _ in hits)
    for now, share in queries:
        last = share * max_window
        answer = counter.query("/a", last, now).answer
        true = oracle.count("/a", now - last, now)
        assert answer.low <= answer.count <= answer.high
        assert answer.low <= true  # only hits known to be inside count towards `low`
        if answer.complete:
            assert true <= answer.high
        buckets = strategy.buckets("/a")
        if answer.complete and (not buckets or now >= buckets[-1][0]):
            _assert_guarantee(answer.low, true, answer.high, answer.count, epsilon)


def test_measured_error_on_busy_traffic_stays_below_epsilon() -> None:
    """20 000 hits over 2 h, up to 60 s late: every window within epsilon, memory small."""
    rng = random.Random(7)
    epsilon = 0.05
    strategy = ExponentialHistogram(max_window_s=3600, epsilon=epsilon, buffer_s=60)
    stamps = [T0 + rng.uniform(0, 7200) for _ in range(20_000)]
    arrival = sorted(stamps, key=lambda ts: ts + rng.uniform(0, 60))
    counter = _fed(strategy, [("/api", ts) for ts in arrival])
    stamps.sort()
    clock = stamps[-1]
    worst = 0.0
    for last in [rng.uniform(0, 3600) for _ in range(300)] + [1, 59.9, 60, 60.1, 3600]:
        answer = counter.query("/api", last).answer
        true = _truth(stamps, clock - last, clock)
        _assert_guarantee(answer.low, true, answer.high, answer.count, epsilon)
        worst = max(worst, abs(answer.count - true) / true)
    assert 0 < worst < epsilon
    # About 10 000 hits in the window, 60 s (~170 hits) of them buffered exactly.
    assert strategy.memory_entries() < 400


# -- order, batches and persistence ------------------------------------------------------------


@SETTINGS
@given(
    before=st.lists(TIMES, max_size=40),
    batch=st.lists(TIMES, max_size=80),
    in_order=st.booleans(),
    horizon=st.none() | TIMES,
    epsilon=EPSILONS,
    buffer_s=BUFFERS,
)
def test_record_many_equals_record_one_by_one(
    before: list[float],
    batch: list[float],
    in_order: bool,
    horizon: float | None,
    epsilon: float,
    buffer_s: float,
) -> None:
    if in_order:
        batch = sorted(batch)  # the fast path
    params = {"max_window_s": 400.0, "epsilon": epsilon, "buffer_s": buffer_s}
    one, many = ExponentialHistogram(**params), ExponentialHistogram(**params)
    kept_before = [one.record("/a", ts) for ts in before]
    assert many.record_many("/a", before) == sum(kept_before)
    if horizon is not None:
        assert one.prune(horizon) == many.prune(horizon)
    kept = sum(one.record("/a", ts) for ts in batch)
    assert many.record_many("/a", batch) == kept
    assert many.to_state() == one.to_state()
    assert many.memory_entries() == one.memory_entries()


@SETTINGS
@given(hits=HITS, max_window=st.sampled_from([30.0, 100.0]), buffer_s=BUFFERS)
def test_arrival_order_within_the_buffer_does_not_change_the_state(
    hits: list[tuple[str, float, float]], max_window: float, buffer_s: float
) -> None:
    """Even with pruning on the way, the final state depends only on the hits."""
    params = {"max_window_s": max_window, "epsilon": 0.3, "buffer_s": buffer_s}
    late = _fed(ExponentialHistogram(**params), _arrival(hits, buffer_s))
    in_order = _fed(ExponentialHistogram(**params), _arrival(hits, 0.0))
    assert late.strategy.to_state() == in_order.strategy.to_state()
    assert late.strategy.horizon == in_order.strategy.horizon


@SETTINGS
@given(
    hits=HITS,
    batch=st.integers(1, 50),
    lateness=st.sampled_from([0.0, 10.0]),
    shuffle=st.randoms(use_true_random=False),
)
def test_per_hit_and_batched_engine_paths_keep_the_same_state_and_metrics(
    hits: list[tuple[str, float, float]], batch: int, lateness: float, shuffle: random.Random
) -> None:
    """Any arrival order, late hits included: same state, late and pruned counts."""
    arrival = _arrival(hits, 0.0)
    shuffle.shuffle(arrival)
    params = {"max_window_s": 100.0, "epsilon": 0.3, "buffer_s": 10.0}
    one_by_one = HitCounter(ExponentialHistogram(**params), max_lateness_s=lateness)
    for endpoint, ts in arrival:
        one_by_one.record(endpoint, ts)
    batched = HitCounter(ExponentialHistogram(**params), max_lateness_s=lateness)
    for i in range(0, len(arrival), batch):
        batched.record_many(arrival[i : i + batch])
    assert batched.strategy.to_state() == one_by_one.strategy.to_state()
    assert batched.strategy.horizon == one_by_one.strategy.horizon
    assert batched.metrics == one_by_one.metrics


@SETTINGS
@given(hits=HITS, more=HITS, epsilon=EPSILONS, buffer_s=BUFFERS)
def test_state_round_trip_gives_identical_answers_and_future(
    hits: list[tuple[str, float, float]],
    more: list[tuple[str, float, float]],
    epsilon: float,
    buffer_s: float,
) -> None:
    params = {"max_window_s": 400.0, "epsilon": epsilon, "buffer_s": buffer_s}
    source = _fed(ExponentialHistogram(**params), _arrival(hits, buffer_s)).strategy
    copy = ExponentialHistogram(**params)
    copy.horizon = source.horizon
    copy.load_state(msgspec.json.encode(source.to_state()))
    assert copy.to_state() == source.to_state()
    assert copy.totals() == source.totals()
    for end in (0.0, 1_000.0, 3_000.0):
        for last in (1.0, 50.0, 400.0):
            assert copy.query("/a", end - last, end, end) == source.query(
                "/a", end - last, end, end
            )
    for endpoint, ts, _ in more:
        assert copy.record(endpoint, ts) == source.record(endpoint, ts)
    assert copy.to_state() == source.to_state()


# -- memory --------------------------------------------------------------------------------


def _bucket_bound(hits: int, per_size: int) -> int:
    """Most buckets for `hits` hits: sizes 1..2**J, with 2**J <= (hits + per_size - 1) / per_size.

    Each size below the largest holds at least `per_size - 1` buckets and the largest at least
    one, so `hits >= (per_size - 1)(2**J - 1) + 2**J`; every size holds at most `per_size`.
    """
    return per_size * (math.floor(math.log2((hits + per_size - 1) / per_size)) + 1)


@pytest.mark.parametrize(("hits", "bound"), [(1_000, 56), (10_000, 77), (100_000, 98)])
def test_buckets_grow_logarithmically_with_hits(hits: int, bound: int) -> None:
    strategy = ExponentialHistogram(max_window_s=3600, epsilon=0.1, buffer_s=0)
    strategy.record_many("/a", [T0 + i * 0.01 for i in range(hits)])  # all in one window
    assert _bucket_bound(hits, strategy.per_size) == bound
    buckets = strategy.buckets("/a")
    assert len(buckets) <= bound
    assert sum(size for _, size in buckets) == hits - 1  # the newest hit is still buffered
    assert strategy.memory_entries() == len(buckets) + 1
    answer = strategy.query("/a", T0 - 1, T0 + hits, T0 + hits)
    assert answer.low <= hits <= answer.high
    assert answer.high - answer.low <= (hits - 1) / _spread(0.1)


def test_expiry_keeps_memory_bounded_by_the_hits_in_one_window() -> None:
    strategy = ExponentialHistogram(max_window_s=100, epsilon=0.1, buffer_s=0)
    counter = HitCounter(strategy, max_lateness_s=0)
    most = 0
    for second in range(1_000):
        counter.record_many(("/a", T0 + second + i / 100) for i in range(100))
        most = max(most, len(strategy.buckets("/a")))
    # At most 100 * 100 + 1 hits in any window; 2**J - 1 <= those / (per_size - 1).
    j = math.floor(math.log2((100 * 100 + 1) / (strategy.per_size - 1) + 1))
    assert most <= strategy.per_size * (j + 1)
    assert counter.metrics.pruned_events > 0
    assert counter.metrics_dict()["memory_entries"] == strategy.memory_entries() <= 80


# -- late hits, pruning, windows -----------------------------------------------------------


def test_hits_older_than_the_histogram_are_refused_and_counted_late() -> None:
    strategy = ExponentialHistogram(max_window_s=3600, epsilon=0.1, buffer_s=60)
    counter = HitCounter(strategy, max_lateness_s=60)
    counter.record_many(("/a", T0 + i) for i in range(201))
    # Hits before 200 - 60 = 140 moved into the histogram; 140..200 stay exact.
    assert strategy.buckets("/a")[-1][0] == T0 + 139
    assert strategy.buffered("/a") == [T0 + i for i in range(140, 201)]
    assert not counter.record("/a", T0 + 138.5)
    assert counter.metrics.late_hits == 1
    assert counter.record("/a", T0 + 139)  # not older than the histogram's newest
    assert counter.record("/a", T0 + 150.5)
    assert counter.query("/a", 50.5).answer == WindowAnswer.exactly(52)


@pytest.mark.parametrize("name", ["ehist", "auto"])
def test_the_issue_case_keeps_a_hit_inside_the_allowance_with_a_short_buffer(name: str) -> None:
    counter = HitCounter(name, max_lateness_s=300)  # --buffer 60 by default
    assert counter.lateness_note is not None and "--max-lateness 300" in counter.lateness_note
    assert [counter.record("/a", T0 + ts) for ts in (0, 10, 130, 5)] == [True] * 4
    assert counter.query("/a", 1000).answer == WindowAnswer.exactly(4)
    assert HitCounter(name, max_lateness_s=60).lateness_note is None


@pytest.mark.parametrize("name", ["ehist", "auto"])
def test_a_longer_buffer_does_not_widen_the_lateness_allowance(tmp_path: Path, name: str) -> None:
    """semantics.md's case (QA G1): with nothing folded yet, a hit 200 s behind the clock is
    refused under the default `--max-lateness 60` whatever `--buffer` says, and kept with
    `--max-lateness 300`."""  # noqa: D205, D209
    data = write_ndjson(tmp_path / "late.ndjson", [("/a", T0), ("/a", T0 + 300), ("/a", T0 + 100)])
    state = str(tmp_path / "s.json")
    command = ["--state", state, "replay", str(data), "-s", name, "--buffer", "600"]
    assert "2 hits kept, 1 too late" in ok([*command, "--max-window", "600"]).stdout
    kept = ok([*command, "--max-window", "600", "--max-lateness", "300"]).stdout
    assert "3 hits kept, 0 too late" in kept
    answer = ok_json(["--state", state, "query", "/a", "--last", "10m", "--json"])
    assert (answer["count"], answer["exact"]) == (3, True)


@pytest.mark.parametrize("name", ["ehist", "auto"])
@SETTINGS
@given(
    buffer_s=st.floats(min_value=0, max_value=100),
    lateness=st.floats(min_value=0, max_value=400),
    stamps=st.lists(st.floats(min_value=0, max_value=1_000), max_size=80),
    batched=st.booleans(),
)
def test_no_hit_inside_the_lateness_allowance_is_ever_lost(
    name: str, buffer_s: float, lateness: float, stamps: list[float], batched: bool
) -> None:
    """Whatever --buffer and --max-lateness: a hit at most `lateness` behind the clock counts."""
    counter = HitCounter(name, max_lateness_s=lateness, buffer_s=buffer_s, epsilon=0.5)
    clock, inside = -math.inf, 0
    for ts in stamps:
        inside += ts >= clock - lateness
        clock = max(clock, ts)
    if batched:
        counter.record_many(("/a", T0 + ts) for ts in stamps)
    else:
        for ts in stamps:
            counter.record("/a", T0 + ts)
    kept = len(stamps) - counter.metrics.late_hits
    assert kept >= inside
    answer = counter.query("/a", 3600).answer
    assert answer.low <= kept <= answer.high


def test_hits_later_than_the_engine_allowance_are_refused() -> None:
    """Older than horizon + max_window_s: only windows reaching past the horizon hold them."""
    strategy = ExponentialHistogram(max_window_s=100, epsilon=0.1, buffer_s=1_000)
    counter = HitCounter(strategy, max_lateness_s=10)
    counter.record_many(("/a", float(ts)) for ts in range(1_000))
    assert strategy.horizon == 887.5  # floor((999 - 100 - 10) / 6.25) * 6.25
    assert not counter.record("/b", 987.0)  # 12 s late, allowance 10 s
    assert counter.record("/b", 987.5)
    assert counter.metrics.late_hits == 1
    late = strategy.late_mask(np.array([887.0, 987.0, 987.5]), np.full(3, strategy.horizon))
    assert late.tolist() == [True, True, False]


def test_window_is_left_open_and_right_closed() -> None:
    strategy = ExponentialHistogram(buffer_s=100)
    for ts in (100.0, 110.0, 120.0):
        strategy.record("/a", ts)
    assert strategy.query("/a", 110.0, 120.0, 120.0).count == 1
    assert strategy.query("/a", 99.0, 110.0, 120.0).count == 2
    assert strategy.query("/a", 120.0, 130.0, 120.0).count == 0


def test_prune_drops_old_buckets_and_says_when_a_window_reaches_past_them() -> None:
    strategy = ExponentialHistogram(max_window_s=50, epsilon=0.5, buffer_s=0)
    strategy.record_many("/a", [float(ts) for ts in range(100)])
    strategy.record("/b", 10.0)
    assert strategy.buckets("/a")[0][0] > 99 - 50 - 4  # expired while recording
    removed = strategy.prune(60.0)
    assert removed["/a"] > 0
    assert removed["/b"] == 1
    assert list(strategy.endpoints()) == ["/a"]
    assert all(ts > 60.0 for ts, _ in strategy.buckets("/a"))
    assert strategy.query("/a", 61.0, 99.0, 99.0).complete
    assert not strategy.query("/a", 59.0, 99.0, 99.0).complete
    assert not strategy.record("/a", 60.0)
    retained = sum(size for _, size in strategy.buckets("/a")) + len(strategy.buffered("/a"))
    assert strategy.totals() == {"/a": retained}


def test_empty_and_unknown_endpoints_answer_zero() -> None:
    strategy = ExponentialHistogram()
    assert strategy.query("/none", 0.0, 10.0, 10.0).exact
    assert strategy.memory_entries() == strategy.state_bytes() == 0
    assert strategy.to_state() == {"endpoints": {}}
    assert strategy.record_many("/a", []) == 0
    assert list(strategy.endpoints()) == []


# -- parameters, conversion, validation ------------------------------------------------------


def test_parameters_defaults_and_flags() -> None:
    strategy = ExponentialHistogram()
    assert strategy.params == {"max_window_s": 3600.0, "epsilon": 0.05, "buffer_s": 60.0}
    assert [p.flag for p in strategy.params_spec] == ["--max-window", "--epsilon", "--buffer"]
    assert (strategy.k, strategy.per_size, strategy.retention_s()) == (20, 12, 3600.0)


@pytest.mark.parametrize(
    "params",
    [
        {"epsilon": 0},
        {"epsilon": 1},
        {"epsilon": 1.5},
        {"epsilon": -0.1},
        {"epsilon": float("nan")},
        {"max_window_s": 0},
        {"buffer_s": -1},
        {"bogus": 1},
    ],
)
def test_invalid_parameters_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ExponentialHistogram(**params)


def test_convert_from_sliding_feeds_every_timestamp_in_order() -> None:
    rng = random.Random(3)
    hits = [("/a" if rng.random() < 0.7 else "/b", T0 + rng.uniform(0, 900)) for _ in range(3000)]
    sliding = HitCounter("sliding", max_window_s=3600)
    sliding.record_many(hits)
    params = {"max_window_s": 3600, "epsilon": 0.1}
    converted = ExponentialHistogram.convert(sliding.strategy, params)
    fed = ExponentialHistogram(**params)
    for endpoint in ("/a", "/b"):
        fed.record_many(endpoint, sorted(ts for ep, ts in hits if ep == endpoint))
    assert converted.to_state() == fed.to_state()
    assert converted.totals() == sliding.strategy.totals()
    assert converted.horizon == sliding.strategy.horizon


@pytest.mark.parametrize(
    "source",
    [FixedWindow(), MorrisCounter(), ExponentialHistogram(epsilon=0.2)],
)
def test_convert_from_anything_but_sliding_is_refused(source: object) -> None:
    assert not isinstance(source, SlidingWindow)
    with pytest.raises(SwapRefusedError):
        ExponentialHistogram.convert(source, {})  # type: ignore[arg-type]


def test_convert_from_itself_with_the_same_parameters_is_a_copy() -> None:
    source = ExponentialHistogram(epsilon=0.1)
    source.record_many("/a", [float(i) for i in range(500)])
    copy = ExponentialHistogram.convert(source, {"epsilon": 0.1})
    assert copy.to_state() == source.to_state() and copy is not source


VALID = {"buckets": [[1.0, 2], [2.0, 1], [3.0, 1]], "buffer": [4.0]}


def _doc(**entry: object) -> bytes:
    return msgspec.json.encode({"endpoints": {"/a": {**VALID, **entry}}})


def test_a_valid_state_loads() -> None:
    strategy = ExponentialHistogram(epsilon=0.5)  # k = 2: at most 3, at least 2 below the top
    strategy.load_state(_doc())
    assert strategy.to_state() == {"endpoints": {"/a": VALID}}
    assert strategy.totals() == {"/a": 5}


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"not json",
        b'{"endpoints": {}, "extra": 1}',
        b'{"endpoints": {"/a": {"buckets": [], "buffer": [], "more": 1}}}',
        b'{"endpoints": {"": {"buckets": [], "buffer": [1.0]}}}',
        _doc(buckets=[[1.0, 3]]),
        _doc(buckets=[[1.0, 0]]),
        _doc(buckets=[[1.0, -2]]),
        _doc(buckets=[[1.0, "2"]]),
        _doc(buckets=[[1.0, 2**63]]),
        _doc(buckets=[[1.0, 1], [2.0, 2]]),  # sizes must not grow towards the newest
        _doc(buckets=[[2.0, 1], [1.0, 1]]),  # unsorted timestamps
        _doc(buckets=[[1.0, 1], [2.0, 1], [3.0, 1], [3.5, 1]]),  # too many of a size
        _doc(buckets=[[1.0, 2], [2.0, 1]]),  # too few below the largest size
        _doc(buckets=[[1.0, 4], [2.0, 1], [3.0, 1]]),  # no bucket of size 2
        _doc(buckets=[[-1.0, 1]]),
        _doc(buckets=[[MAX_TS * 2, 1]]),
        b'{"endpoints": {"/a": {"buckets": [[1e999, 1]], "buffer": []}}}',
        _doc(buffer=[5.0, 4.5]),  # unsorted buffer
        _doc(buffer=[2.5]),  # older than the newest bucket
    ],
)
def test_invalid_states_are_rejected(raw: bytes) -> None:
    strategy = ExponentialHistogram(epsilon=0.5)
    strategy.load_state(_doc(buffer=[4.0, 5.0]))
    before = strategy.to_state()
    with pytest.raises(StateError):
        strategy.load_state(raw)
    assert strategy.to_state() == before

"""Every strategy from the registry, checked against the brute-force oracle."""

from __future__ import annotations

import math
import random

import pytest

from hitcount import HitCounter, StateError, UnknownStrategyError, create_strategy, get_strategy
from hitcount.errors import ConfigurationError
from hitcount.model.answers import WindowAnswer
from hitcount.persist.document import encode
from hitcount.strategies import FixedWindow, SlidingWindow, available_strategies
from tests.conftest import ROOMY_PARAMS, Oracle

T0 = 1_700_000_000.0


def _traffic(seed: int, n: int = 400, span: float = 600.0) -> list[tuple[str, float]]:
    rng = random.Random(seed)
    endpoints = ["/api/login", "/api/users", "/", "/static/app.js"]
    return [(rng.choice(endpoints), T0 + rng.uniform(0, span)) for _ in range(n)]


def _holds(answer_low: float, truth: int, answer_high: float) -> bool:
    return answer_low - 1e-9 <= truth <= answer_high + 1e-9


def test_registry_lists_the_three_original_strategies() -> None:
    assert {"fixed", "sliding", "morris"} <= set(available_strategies())


def test_unknown_strategy_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownStrategyError) as info:
        get_strategy("lossy")
    assert info.value.hint is not None
    for name in available_strategies():
        assert name in info.value.hint


def test_unknown_parameter_is_a_configuration_error(strategy_name: str) -> None:
    with pytest.raises(ConfigurationError, match="no parameter 'bogus'"):
        create_strategy(strategy_name, bogus=1)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("fixed", {"window_s": 0}),
        ("fixed", {"window_s": -5}),
        ("fixed", {"retention_s": float("nan")}),
        ("sliding", {"max_window_s": 0}),
        ("sliding", {"max_window_s": "ten"}),
        ("morris", {"base": 1.0}),
        ("morris", {"counters": 0}),
        ("morris", {"counters": 2.5}),
        ("morris", {"seed": -1}),
    ],
)
def test_invalid_parameter_values_are_refused(name: str, params: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        create_strategy(name, **params)


def test_answers_bound_the_oracle_for_many_windows(roomy_counter: HitCounter) -> None:
    hits = _traffic(1)
    oracle = Oracle(hits)
    for endpoint, ts in hits:
        roomy_counter.record(endpoint, ts)
    clock = max(ts for _, ts in hits)
    for endpoint in ("/api/login", "/"):
        for last in (1, 10, 59.5, 60, 300, 600, 10_000):
            for now in (clock, clock - 100, T0 + 30):
                answer = roomy_counter.query(endpoint, last, now).answer
                truth = (
                    oracle.total(endpoint)
                    if answer.all_time
                    else oracle.count(endpoint, now - last, now)
                )
                if answer.confidence is None:
                    assert _holds(answer.low, truth, answer.high), (endpoint, last, now, answer)
                assert answer.low <= answer.count <= answer.high
                if answer.exact:
                    assert answer.count == truth


def test_exact_strategies_equal_the_oracle() -> None:
    hits = _traffic(2)
    oracle = Oracle(hits)
    counter = HitCounter("sliding", max_window_s=10**6)
    counter.record_many(hits)
    clock = max(ts for _, ts in hits)
    for last in (0.5, 7, 61, 599):
        answer = counter.query("/api/users", last).answer
        assert answer.exact
        assert answer.count == oracle.count("/api/users", clock - last, clock)


def test_window_is_left_open_and_right_closed() -> None:
    for name in ("sliding", "fixed"):
        counter = HitCounter(name, **ROOMY_PARAMS[name])
        for ts in (100.0, 110.0, 120.0):
            counter.record("/a", ts)
        answer = counter.query("/a", 10, now=120.0).answer
        # (110, 120]: 110 is out, 120 is in.
        assert answer.low <= 1 <= answer.high, name
        if name == "sliding":
            assert answer.count == 1


def test_timestamp_zero_is_a_timestamp_not_now(strategy_name: str) -> None:
    counter = HitCounter(strategy_name, **ROOMY_PARAMS[strategy_name])
    counter.record("/epoch", 0.0)
    assert counter.clock == 0.0
    answer = counter.query("/epoch", 1).answer
    assert answer.low <= 1 <= answer.high
    assert counter.query("/epoch", 1, now=0.0).answer.high >= 1


def test_empty_state_answers_zero(strategy_name: str) -> None:
    counter = HitCounter(strategy_name)
    result = counter.query("/nothing", 60)
    assert result.answer.count == 0
    assert result.now is None
    assert counter.top(60) == []


def test_fixed_full_buckets_are_exact_and_partial_ones_bounded() -> None:
    fixed = FixedWindow(window_s=10, retention_s=1000)
    for ts in (0, 3, 7, 12, 15, 21, 28, 29):
        fixed.record("/a", float(ts))
    # Buckets are (lo, hi] like windows: (-10, 0] {0}, (0, 10] {3, 7}, (10, 20] {12, 15},
    # (20, 30] {21, 28, 29}, whose hits end at the clock 29.
    assert fixed.query("/a", -10, 30, 29) == WindowAnswer.exactly(8)
    # A window whose edges are bucket edges is exact (the case: (0, 30]).
    assert fixed.query("/a", 0, 30, 29) == WindowAnswer.exactly(7)
    assert fixed.query("/a", 0, 29, 29) == WindowAnswer.exactly(7)  # nothing after the clock
    assert fixed.query("/a", 10, 20, 29) == WindowAnswer.exactly(2)
    # (9, 29]: bucket (0, 10] is partial (7 is out, but the bucket could hold 9.5).
    answer = fixed.query("/a", 9, 29, 29)
    assert (answer.low, answer.high) == (5, 7)
    assert not answer.exact
    # The estimate takes the covered share of the bucket: 1/10 of its 2 hits.
    assert answer.count == pytest.approx(5 + 0.2, abs=1e-6)
    # (-1, 29]: (-10, 0] is partial, its hit at 0 could be anywhere in it.
    assert (fixed.query("/a", -1, 29, 29).low, fixed.query("/a", -1, 29, 29).high) == (7, 8)


def test_fixed_bucket_aligned_windows_are_exact_at_any_now() -> None:
    """Oracle check: every window with both edges on the grid is exact, and right."""
    rng = random.Random(11)
    fixed = HitCounter("fixed", window_s=5, retention_s=10**6)
    hits = [("/x", float(rng.randint(0, 400))) for _ in range(300)]  # many hits on edges
    fixed.record_many(hits)
    oracle = Oracle(hits)
    for _ in range(200):
        now, last = 5.0 * rng.randint(0, 81), 5.0 * rng.randint(1, 80)
        answer = fixed.query("/x", last, now).answer
        assert answer == WindowAnswer.exactly(oracle.count("/x", now - last, now))


def test_fixed_never_over_counts_its_low_bound() -> None:
    rng = random.Random(5)
    fixed = HitCounter("fixed", window_s=7, retention_s=10**6)
    hits = [("/x", rng.uniform(0, 500)) for _ in range(300)]
    fixed.record_many(hits)
    oracle = Oracle(hits)
    for _ in range(200):
        now = rng.uniform(0, 520)
        last = rng.uniform(0.1, 300)
        answer = fixed.query("/x", last, now).answer
        truth = oracle.count("/x", now - last, now)
        assert answer.low <= truth <= answer.high


def test_sliding_prunes_every_endpoint_not_only_the_recorded_one() -> None:
    counter = HitCounter("sliding", max_window_s=60, max_lateness_s=0)
    counter.record("/quiet", T0)
    for i in range(1000):
        counter.record("/busy", T0 + i)
    assert "/quiet" not in counter.endpoints()
    retained = counter.metrics_dict()["memory_entries"]
    assert retained <= 60 + SlidingWindow(max_window_s=60).prune_grid_s() + 1
    assert counter.metrics.pruned_events == 1001 - retained


def test_fixed_prunes_buckets_past_retention() -> None:
    counter = HitCounter("fixed", window_s=10, retention_s=100, max_lateness_s=0)
    for i in range(1000):
        counter.record("/a", T0 + i)
    assert counter.metrics_dict()["memory_entries"] <= 12
    answer = counter.query("/a", 50).answer
    assert answer.complete
    assert counter.query("/a", 500).answer.complete is False


def test_query_past_retention_says_it_is_incomplete() -> None:
    counter = HitCounter("sliding", max_window_s=60, max_lateness_s=0)
    for i in range(200):
        counter.record("/a", T0 + i)
    inside = counter.query("/a", 60).answer
    assert inside.complete and inside.count == 60
    outside = counter.query("/a", 150).answer
    assert not outside.complete
    assert outside.count <= 150
    # What was pruned is unknown: no upper bound, and never "exact".
    assert outside.high == math.inf
    assert not outside.exact
    assert outside.low == outside.count


def test_morris_answers_over_all_time_and_says_so() -> None:
    counter = HitCounter("morris", base=1.1, counters=8)
    counter.record_many(("/a", T0 + i) for i in range(500))
    answer = counter.query("/a", 1).answer
    assert answer.all_time
    assert answer.confidence == pytest.approx(0.95)
    assert not answer.exact
    assert answer.low <= 500 <= answer.high


def test_state_round_trip_gives_identical_answers(strategy_name: str) -> None:
    hits = _traffic(3)
    source = HitCounter(strategy_name, **ROOMY_PARAMS[strategy_name])
    source.record_many(hits)
    strategy = source.strategy
    copy = get_strategy(strategy_name)(**strategy.params)
    import msgspec

    copy.load_state(msgspec.json.encode(strategy.to_state()))
    clock = source.clock or 0.0
    for endpoint in {ep for ep, _ in hits}:
        for last in (5, 60, 600):
            assert copy.query(endpoint, clock - last, clock, clock) == strategy.query(
                endpoint, clock - last, clock, clock
            )


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("sliding", b'{"timestamps": {"/a": [1, "x"]}}'),
        ("sliding", b'{"timestamps": {"/a": [-1]}}'),
        ("sliding", b'{"timestamps": {"": [1]}}'),
        ("sliding", b'{"stamps": {}}'),
        ("fixed", b'{"buckets": {"/a": {"1": -3}}}'),
        ("fixed", b'{"buckets": {"/a": {"x": 3}}}'),
        ("fixed", b'{"buckets": {"/a": {"1": 3}}, "extra": 1}'),
        ("morris", b'{"rng_state": 1, "counters": {"/a": [1, 2]}}'),
        ("morris", b'{"rng_state": 1, "counters": {"/a": [1, 2, 3, 100000]}}'),
        ("morris", b'{"rng_state": -1, "counters": {}}'),
        ("morris", b"[]"),
    ],
)
def test_invalid_state_is_rejected_with_state_error(name: str, state: bytes) -> None:
    strategy = create_strategy(name)
    with pytest.raises(StateError):
        strategy.load_state(state)


def test_memory_and_bytes_grow_with_state(strategy_name: str) -> None:
    counter = HitCounter(strategy_name, **ROOMY_PARAMS[strategy_name])
    assert counter.metrics_dict()["memory_entries"] == 0
    counter.record_many(_traffic(4, n=200))
    metrics = counter.metrics_dict()
    assert metrics["memory_entries"] > 0
    assert metrics["state_bytes"] > 0
    assert metrics["endpoints_count"] == 4


def test_every_strategy_has_a_summary_and_flags() -> None:
    for name in available_strategies():
        cls = get_strategy(name)
        assert cls.summary
        for param in cls.params_spec:
            assert param.flag.startswith("--")
            assert math.isfinite(param.default)


@pytest.mark.parametrize("size", [10, 150_000])
def test_sliding_compact_state_round_trips_and_is_checked(size: int) -> None:
    import base64
    import struct

    import msgspec

    source = SlidingWindow(max_window_s=10**9)
    source.record_many("/a", [T0 + i * 0.25 for i in range(size)])
    compact = encode(source.to_compact_state())
    assert len(compact) < 11 * size + 100  # about 8 bytes a hit, base64'd
    copy = SlidingWindow(max_window_s=10**9)
    copy.load_state(compact)
    assert copy.to_state() == source.to_state()

    def state_of(values: list[float]) -> bytes:
        packed = base64.b64encode(struct.pack(f"<{len(values)}d", *values)).decode()
        return msgspec.json.encode({"timestamps_f8": {"/a": packed}})

    bad_values = [[T0, T0 - 1], [T0, float("nan")], [-5.0], [T0, 1e20]]
    for values in bad_values:
        with pytest.raises(StateError):
            SlidingWindow().load_state(state_of(values * (size // 2 or 1)))
    with pytest.raises(StateError, match="truncated"):
        SlidingWindow().load_state(b'{"timestamps_f8": {"/a": "AAAA"}}')
    with pytest.raises(StateError, match="needs"):
        SlidingWindow().load_state(b'{"timestamps": {}, "timestamps_f8": {}}')


def test_fixed_compact_state_round_trips_and_is_checked() -> None:
    import base64
    import struct

    source = FixedWindow(window_s=60, retention_s=10**9)
    source.record_many("/a", [T0 + i * 7.5 for i in range(1_000)])
    source.record_many("/b", [T0 + 5.0])
    copy = FixedWindow(window_s=60, retention_s=10**9)
    copy.load_state(encode(source.to_compact_state()))
    assert copy.to_state() == source.to_state()
    assert copy.query("/a", T0, T0 + 3_000, T0 + 7_500) == source.query(
        "/a", T0, T0 + 3_000, T0 + 7_500
    )

    def state_of(*values: int) -> bytes:
        packed = base64.b64encode(struct.pack(f"<{len(values)}q", *values)).decode()
        return encode({"buckets_q": {"/a": packed}})

    bad_states = [
        state_of(5, 1, 6),  # a bucket without its count
        state_of(5, 1, 5, 2),  # a bucket twice
        state_of(5, 0),  # an empty bucket
        state_of(-5, 1),
        state_of(5, -1),
        encode({"buckets": {}, "buckets_q": {}}),
        encode({}),
    ]
    for bad in bad_states:
        with pytest.raises(StateError, match="fixed state"):
            FixedWindow().load_state(bad)

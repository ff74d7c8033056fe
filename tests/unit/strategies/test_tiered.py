"""`tiered` rollups against the brute-force oracle: bounds, exactness, tiers, memory, state."""

from __future__ import annotations

import math
import random
from unittest import mock

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, StateError
from hitcount.errors import ConfigurationError, SwapRefusedError
from hitcount.strategies import FixedWindow, MorrisCounter, SlidingWindow
from hitcount.strategies import tiered as tiered_module
from hitcount.strategies.tiered import TIERS, TieredRollups
from tests.conftest import Oracle

#: Small tiers, so that a few thousand seconds of hits exercise every tier and its pruning.
CONFIGS: list[dict[str, float]] = [
    {"fine_s": 1, "fine_retention_s": 20, "mid_s": 5, "mid_retention_s": 100,
     "coarse_s": 25, "coarse_retention_s": 600},
    {"fine_s": 2, "fine_retention_s": 50, "mid_s": 10, "mid_retention_s": 300,
     "coarse_s": 50, "coarse_retention_s": 1500},
    {"fine_s": 0.5, "fine_retention_s": 10, "mid_s": 1.5, "mid_retention_s": 60,
     "coarse_s": 15, "coarse_retention_s": 400},
    {},  # the defaults: 10 s kept 1 h, 60 s kept 1 day, 3600 s kept 31 days
]  # fmt: skip
ENDPOINTS = st.sampled_from(["/a", "/b"])
TIMES = st.one_of(
    st.integers(min_value=0, max_value=2_000).map(float),
    st.floats(min_value=0, max_value=2_000, allow_nan=False, allow_infinity=False),
)
HITS = st.lists(st.tuples(ENDPOINTS, TIMES), min_size=1, max_size=120)
WINDOWS = st.one_of(st.integers(1, 2_500).map(float), st.floats(0.001, 2_500))
#: Fixed examples, no database: the same run every time.
DETERMINISTIC = settings(deadline=None, derandomize=True, database=None)
LADDER = {"fine_s": 10, "fine_retention_s": 100, "mid_s": 60, "mid_retention_s": 1200,
          "coarse_s": 600, "coarse_retention_s": 12000}  # fmt: skip


def _hits_per_second(n: int, endpoints: tuple[str, ...] = ("/a",)) -> list[tuple[str, float]]:
    return [(ep, float(t)) for t in range(1, n + 1) for ep in endpoints]


def _by_time(hit: tuple[str, float]) -> float:
    return hit[1]


def _check(answer_low: float, truth: int, answer_high: float) -> None:
    assert answer_low <= truth <= answer_high, (answer_low, truth, answer_high)


# -- configuration -------------------------------------------------------------------


def test_defaults_are_10s_for_an_hour_1min_for_a_day_1h_for_31_days() -> None:
    tiered = TieredRollups()
    assert tiered.widths == (10.0, 60.0, 3600.0)
    assert tiered.retentions == (3600.0, 86400.0, 31 * 86400.0)
    assert tiered.retention_s() == 31 * 86400.0
    assert tiered.prune_grid_s() == 10.0
    assert [p.flag for p in tiered.params_spec] == [
        "--fine", "--fine-retention", "--mid", "--mid-retention", "--coarse", "--coarse-retention"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mid_s": 25}, "--mid .* whole multiple of --fine"),
        ({"coarse_s": 90}, "--coarse .* whole multiple of --mid"),
        ({"mid_s": 5}, "--mid .* whole multiple of --fine"),
        ({"fine_s": 7, "mid_s": 60}, "--mid .* whole multiple of --fine"),
        ({"mid_retention_s": 3600}, "--mid-retention .* longer than --fine-retention"),
        ({"coarse_retention_s": 600}, "--coarse-retention .* longer than --mid-retention"),
        ({"fine_s": 0}, "fine_s must be >="),
        ({"fine_retention_s": 0}, "fine_retention_s must be >"),
        ({"coarse_s": float("nan")}, "coarse_s must be finite"),
        ({"mid_s": "ten"}, "mid_s must be seconds or a duration"),
        ({"tiers": "10s:1h"}, "no parameter 'tiers'"),
    ],
)
def test_invalid_configurations_are_refused(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TieredRollups(**params)


def test_equal_widths_nest_and_fractional_widths_work() -> None:
    tiered = TieredRollups(fine_s=0.5, mid_s=0.5, coarse_s=1.5)
    assert tiered.widths == (0.5, 0.5, 1.5)


# -- answers against the oracle --------------------------------------------------------


@settings(DETERMINISTIC, max_examples=150)
@given(
    hits=HITS,
    last=WINDOWS,
    now=st.none() | TIMES,
    config=st.sampled_from(CONFIGS),
    lateness=st.sampled_from([0.0, 7.0, 60.0]),
    shuffle=st.randoms(),
)
def test_bounds_hold_for_any_hits_order_window_and_now(
    hits: list[tuple[str, float]],
    last: float,
    now: float | None,
    config: dict[str, float],
    lateness: float,
    shuffle: random.Random,
) -> None:
    arrival = list(hits)
    shuffle.shuffle(arrival)
    counter = HitCounter(TieredRollups(**config), max_lateness_s=lateness)
    for endpoint, ts in arrival:  # late hits past a tier's horizon are refused or skipped
        counter.record(endpoint, ts)
    oracle = Oracle(hits)
    end = now if now is not None else max(ts for _, ts in hits)
    for endpoint in ("/a", "/b"):
        answer = counter.query(endpoint, last, now).answer
        truth = oracle.count(endpoint, end - last, end)
        assert answer.confidence is None
        assert answer.low <= answer.count <= answer.high
        assert answer.low <= truth
        if answer.complete:
            _check(answer.low, truth, answer.high)
        if answer.exact and answer.complete:
            assert answer.count == truth


@settings(DETERMINISTIC, max_examples=100)
@given(
    hits=HITS, config=st.sampled_from(CONFIGS), picks=st.lists(st.integers(0, 10**6), max_size=6)
)
def test_window_starting_on_a_bucket_edge_and_ending_at_the_clock_is_exact(
    hits: list[tuple[str, float]], config: dict[str, float], picks: list[int]
) -> None:
    counter = HitCounter(TieredRollups(**config), max_lateness_s=0)
    ordered = sorted(hits, key=_by_time)
    counter.record_many(ordered)
    tiered = counter.strategy
    assert isinstance(tiered, TieredRollups) and counter.clock is not None
    clock, oracle = counter.clock, Oracle(hits)
    for tier, (width, horizon) in enumerate(zip(tiered.widths, tiered.horizons(), strict=True)):
        first = math.ceil(max(horizon, -width) / width)
        edges = range(first, math.ceil(clock / width))
        for pick in picks:
            start = edges[pick % len(edges)] * width if edges else None
            if start is None:
                continue
            answer = tiered.query("/a", start, clock, clock)
            assert answer.exact, (TIERS[tier], start, clock, answer)
            assert answer.count == oracle.count("/a", start, clock)


def test_window_is_left_open_and_right_closed_and_exact_on_edges() -> None:
    counter = HitCounter(TieredRollups())
    for ts in (100.0, 110.0, 120.0):
        counter.record("/a", ts)
    # (110, 120]: 110 is out, 120 is in; 10 s buckets hold (110, 120], so this is exact.
    assert counter.query("/a", 10, now=120.0).answer == counter.query("/a", 10).answer
    answer = counter.query("/a", 10).answer
    assert answer.exact and answer.count == 1
    assert counter.query("/a", 20).answer.count == 2


def test_the_finest_tier_covering_the_start_answers_so_recent_windows_are_tighter() -> None:
    counter = HitCounter(TieredRollups(**LADDER), max_lateness_s=0)
    counter.record_many(_hits_per_second(20_000))
    tiered = counter.strategy
    assert isinstance(tiered, TieredRollups)
    assert tiered.horizons() == (19_900.0, 18_780.0, 7_800.0)
    oracle = Oracle(_hits_per_second(20_000))
    # One hit per second: the uncertainty is the one boundary bucket at the start.
    for last, width in ((55.5, 10), (99.5, 10), (1000.5, 60), (1219.5, 60), (5000.5, 600)):
        answer = counter.query("/a", last).answer
        assert answer.complete and answer.high - answer.low == width, (last, answer)
        _check(answer.low, oracle.count("/a", 20_000 - last, 20_000), answer.high)
        assert abs(answer.count - oracle.count("/a", 20_000 - last, 20_000)) <= width / 2
    assert counter.query("/a", 980).answer.exact  # start 19020 is a 60 s edge
    assert not counter.query("/a", 12_500).answer.complete  # before the coarse horizon


def test_tiers_combine_coarse_for_the_old_part_and_fine_for_the_recent_end() -> None:
    tiered = TieredRollups(**LADDER)
    counter = HitCounter(tiered, max_lateness_s=0)
    counter.record_many(_hits_per_second(20_000))
    # The window ends 35.5 s ago, inside the fine tier: its end is a fine bucket, not a
    # coarse one, although its start is only covered by the coarse tier.
    answer = tiered.query("/a", 9_000.0, 19_964.5, 20_000.0)
    assert answer.high - answer.low == 10
    _check(answer.low, 10_964, answer.high)


# -- pruning and memory ---------------------------------------------------------------


def test_pruning_bounds_the_buckets_of_every_tier() -> None:
    lateness, endpoints = 30.0, ("/a", "/b", "/c")
    tiered = TieredRollups(**LADDER)
    counter = HitCounter(tiered, max_lateness_s=lateness)
    grid = tiered.prune_grid_s()
    bounds = {
        tier: 1 + math.floor((lateness + grid + retention + width) / width)
        for tier, width, retention in zip(TIERS, tiered.widths, tiered.retentions, strict=True)
    }
    assert bounds == {"fine": 16, "mid": 22, "coarse": 22}
    hits = _hits_per_second(30_000, endpoints)
    for i in range(0, len(hits), 3_000):
        counter.record_many(hits[i : i + 3_000])
        for tier, entries in tiered.tier_entries().items():
            assert entries <= bounds[tier] * len(endpoints), (tier, entries)
    fixed = HitCounter("fixed", window_s=10, retention_s=12_000, max_lateness_s=lateness)
    fixed.record_many(hits)
    assert tiered.memory_entries() * 20 < fixed.strategy.memory_entries()
    assert counter.metrics.pruned_events > 0


def test_hits_at_or_before_the_horizon_are_refused_and_quiet_endpoints_pruned() -> None:
    counter = HitCounter(TieredRollups(**LADDER), max_lateness_s=0)
    counter.record("/quiet", 5.0)
    counter.record_many(_hits_per_second(20_000))
    horizon = counter.strategy.horizon
    assert horizon == 7_800.0
    assert "/quiet" not in counter.endpoints()
    assert not counter.record("/a", horizon)
    assert counter.record("/a", horizon + 0.5)
    assert counter.strategy.totals()["/a"] == 20_000 - 7_800 + 1


@settings(DETERMINISTIC, max_examples=100)
@given(
    hits=st.lists(st.tuples(ENDPOINTS, st.floats(0, 5_000)), max_size=200),
    batch=st.integers(1, 50),
    config=st.sampled_from(CONFIGS),
    in_order=st.booleans(),
)
def test_per_hit_and_batch_paths_keep_the_same_state_with_pruning(
    hits: list[tuple[str, float]], batch: int, config: dict[str, float], in_order: bool
) -> None:
    """In arrival order late hits are refused alike; in time order metrics agree too."""
    arrival = sorted(hits, key=_by_time) if in_order else hits
    one_by_one = HitCounter(TieredRollups(**config), max_lateness_s=0)
    for endpoint, ts in arrival:
        one_by_one.record(endpoint, ts)
    batched = HitCounter(TieredRollups(**config), max_lateness_s=0)
    for i in range(0, len(arrival), batch):
        batched.record_many(arrival[i : i + batch])
    assert batched.strategy.to_state() == one_by_one.strategy.to_state()
    assert batched.strategy.horizon == one_by_one.strategy.horizon
    assert batched.metrics.total_hits == one_by_one.metrics.total_hits
    assert batched.metrics.late_hits == one_by_one.metrics.late_hits
    if in_order:
        assert batched.metrics == one_by_one.metrics


@settings(DETERMINISTIC, max_examples=100)
@given(hits=HITS, config=st.sampled_from(CONFIGS), horizon=st.floats(0, 1_000) | st.none())
def test_record_array_equals_record_many(
    hits: list[tuple[str, float]], config: dict[str, float], horizon: float | None
) -> None:
    import numpy as np

    many, array = TieredRollups(**config), TieredRollups(**config)
    if horizon is not None:
        many.prune(horizon)
        array.prune(horizon)
    stamps = [ts for _, ts in hits]
    with mock.patch.object(tiered_module, "_SMALL_BATCH", 0):  # numpy even for a few hits
        assert many.record_many("/a", stamps) == array.record_array("/a", np.array(stamps))
    assert many.to_state() == array.to_state()


@settings(DETERMINISTIC, max_examples=100)
@given(hits=HITS, config=st.sampled_from(CONFIGS), horizon=st.floats(0, 1_000) | st.none())
def test_record_many_equals_record_one_by_one(
    hits: list[tuple[str, float]], config: dict[str, float], horizon: float | None
) -> None:
    one, many = TieredRollups(**config), TieredRollups(**config)
    if horizon is not None:
        for strategy in (one, many):
            strategy.prune(horizon)
    kept = sum(one.record(ep, ts) for ep, ts in hits)
    assert kept == sum(many.record_many(ep, [t for e, t in hits if e == ep]) for ep in ("/a", "/b"))
    assert one.to_state() == many.to_state()


@settings(DETERMINISTIC, max_examples=100)
@given(
    hits=st.lists(
        st.tuples(ENDPOINTS, st.floats(0, 3_000), st.floats(0, 30)), min_size=1, max_size=100
    ),
    config=st.sampled_from(CONFIGS),
)
def test_arrival_order_within_the_lateness_allowance_does_not_change_the_state(
    hits: list[tuple[str, float, float]], config: dict[str, float]
) -> None:
    """Each hit arrives up to 30 s late (30 s allowed): every one counts, in the same buckets."""
    in_order = HitCounter(TieredRollups(**config), max_lateness_s=30)
    ordered = sorted([(ep, ts) for ep, ts, _ in hits], key=_by_time)
    in_order.record_many(ordered)
    late = HitCounter(TieredRollups(**config), max_lateness_s=30)
    for endpoint, ts, _ in sorted(hits, key=lambda hit: hit[1] + hit[2]):
        assert late.record(endpoint, ts)
    assert late.strategy.to_state() == in_order.strategy.to_state()


# -- state ----------------------------------------------------------------------------


def _reloaded(tiered: TieredRollups) -> TieredRollups:
    copy = TieredRollups(**tiered.params)
    copy.horizon = tiered.horizon  # what a snapshot restores before the strategy state
    copy.load_state(msgspec.json.encode(tiered.to_state()))
    return copy


@settings(DETERMINISTIC, max_examples=60)
@given(hits=HITS, more=HITS, config=st.sampled_from(CONFIGS), lasts=st.lists(WINDOWS, max_size=5))
def test_state_round_trip_gives_identical_answers_and_future(
    hits: list[tuple[str, float]],
    more: list[tuple[str, float]],
    config: dict[str, float],
    lasts: list[float],
) -> None:
    counter = HitCounter(TieredRollups(**config), max_lateness_s=5)
    counter.record_many(hits)
    tiered = counter.strategy
    assert isinstance(tiered, TieredRollups)
    copy = HitCounter(_reloaded(tiered), max_lateness_s=5)
    copy.clock = counter.clock
    assert copy.strategy.to_state() == tiered.to_state()
    for last in [1.0, 50.0, 5_000.0, *lasts]:
        assert copy.query("/a", last) == counter.query("/a", last)
    for target in (counter, copy):
        target.record_many(more)
    assert copy.strategy.to_state() == counter.strategy.to_state()
    assert copy.strategy.horizon == counter.strategy.horizon


def _state(**changes: object) -> bytes:
    state: dict[str, object] = {
        "fine": {"/a": {"5": 1}},
        "mid": {"/a": {"0": 1}},  # (0, 60]: holds the fine (50, 60] hit
        "coarse": {"/a": {"0": 1}},
        "fine_horizon": None,
        "mid_horizon": 0.0,
        "closed_until": None,
    }
    state.update(changes)
    return msgspec.json.encode(state)


def test_a_valid_hand_written_state_loads() -> None:
    tiered = TieredRollups()
    tiered.load_state(_state())
    assert tiered.horizons() == (-math.inf, 0.0, -math.inf)
    assert tiered.totals() == {"/a": 1}
    assert tiered.query("/a", 0, 60, 60).count == 1


@pytest.mark.parametrize(
    "state",
    [
        _state(fine={"/a": {"5": -1}}),
        _state(mid={"/a": {"1": 0}}),
        _state(coarse={"/a": {"x": 1}}),
        _state(coarse={"/a": {"-2": 1}}),
        _state(fine={"/a": {str(10**11): 1}}),
        _state(coarse={"/a": {"0": 2**63}}),
        _state(coarse={"": {"0": 1}}),
        _state(fine_horizon="soon"),
        _state(mid_horizon=1e300),
        _state(closed_until=-1e12),
        _state(extra=1),
        b'{"fine": {}, "mid": {}, "coarse": {}}',
        b'{"buckets": {"/a": {"1": 3}}}',
        b"[]",
        b"not json",
    ],
)
def test_invalid_states_are_rejected_and_leave_the_state_unchanged(state: bytes) -> None:
    tiered = TieredRollups()
    tiered.record("/keep", 5.0)
    before = tiered.to_state()
    with pytest.raises(StateError):
        tiered.load_state(state)
    assert tiered.to_state() == before


# -- conversions -----------------------------------------------------------------------


@settings(DETERMINISTIC, max_examples=60)
@given(hits=HITS, config=st.sampled_from(CONFIGS))
def test_convert_from_sliding_equals_recording_the_same_hits(
    hits: list[tuple[str, float]], config: dict[str, float]
) -> None:
    sliding = HitCounter("sliding", max_window_s=500, max_lateness_s=0)
    sliding.record_many(hits)
    converted = TieredRollups.convert(sliding.strategy, config)
    assert isinstance(converted, TieredRollups)
    direct = TieredRollups(**config)
    direct.horizon = sliding.strategy.horizon
    for endpoint in ("/a", "/b"):
        source = sliding.strategy
        assert isinstance(source, SlidingWindow)
        direct.record_many(endpoint, source.timestamps(endpoint))
    assert converted.to_state() == direct.to_state()
    assert converted.horizon == sliding.strategy.horizon


@settings(DETERMINISTIC, max_examples=100)
@given(
    hits=st.lists(st.tuples(ENDPOINTS, st.integers(0, 300).map(float)), min_size=1, max_size=80),
    window=st.sampled_from([1.0, 5.0, 25.0]),
    later=st.lists(st.integers(300, 400).map(float), max_size=20),
    windows=st.lists(st.integers(1, 400).map(float), min_size=1, max_size=6),
)
def test_convert_from_fixed_keeps_certain_bounds_on_bucket_edges(
    hits: list[tuple[str, float]], window: float, later: list[float], windows: list[float]
) -> None:
    """Integer timestamps sit on bucket edges: fixed's [lo, hi) buckets stay bounded."""
    fixed = HitCounter("fixed", window_s=window, retention_s=10**6, max_lateness_s=0)
    fixed.record_many(hits)
    converted = TieredRollups.convert(fixed.strategy, CONFIGS[0])  # 1 s / 5 s / 25 s tiers
    counter = HitCounter(converted, max_lateness_s=10**6)
    counter.clock = fixed.clock
    counter.record_many(("/a", ts) for ts in later)
    oracle = Oracle([*hits, *(("/a", ts) for ts in later)])
    assert counter.clock is not None
    for last in windows:
        for now in (counter.clock, counter.clock - 3):
            answer = counter.query("/a", last, now).answer
            _check(answer.low, oracle.count("/a", now - last, now), answer.high)


def test_convert_from_fixed_fills_the_tiers_it_can_and_starts_finer_ones_empty() -> None:
    fixed = HitCounter("fixed", window_s=60, retention_s=10**6)
    hits = _hits_per_second(3_000)
    fixed.record_many(hits)
    tiered = TieredRollups.convert(fixed.strategy, {})
    assert isinstance(tiered, TieredRollups)
    newest_end = 3_000.0  # the bucket (2940, 3000] holds the last hit
    assert tiered.horizons() == (newest_end, fixed.strategy.horizon, fixed.strategy.horizon)
    assert tiered.tier_entries() == {"fine": 0, "mid": 50, "coarse": 1}
    assert tiered.totals() == {"/a": 3_000}
    answer = tiered.query("/a", 1_000.5, 3_000.0, 3_000.0)
    _check(answer.low, Oracle(hits).count("/a", 1_000.5, 3_000.0), answer.high)
    assert answer.high - answer.low == 60  # one 60 s bucket cut, at 1000.5; 3000 is an edge


def test_convert_refuses_what_it_cannot_regroup() -> None:
    fixed = FixedWindow(window_s=7, retention_s=1000)
    fixed.record("/a", 1.0)
    with pytest.raises(SwapRefusedError, match="coarse width must be a whole multiple"):
        TieredRollups.convert(fixed, {})
    with pytest.raises(SwapRefusedError):
        TieredRollups.convert(MorrisCounter(), {})


def test_convert_between_tier_layouts_regroups_whole_buckets() -> None:
    source = HitCounter(TieredRollups(**LADDER), max_lateness_s=0)
    source.record_many(_hits_per_second(20_000))
    target = TieredRollups.convert(source.strategy, {**LADDER, "fine_s": 20, "mid_s": 120})
    assert isinstance(target, TieredRollups)
    assert source.strategy.totals() == target.totals()
    assert target.horizons() == source.strategy.horizons()  # type: ignore[attr-defined]
    answer = target.query("/a", 19_080.0, 20_000.0, 20_000.0)  # on a 120 s edge
    assert answer.exact and answer.count == 920


def test_finer_tiers_keep_being_pruned_after_a_conversion() -> None:
    sliding = HitCounter("sliding", max_window_s=1_200, max_lateness_s=0)
    hits = _hits_per_second(10_000)
    sliding.record_many(hits[:2_000])
    counter = HitCounter(TieredRollups.convert(sliding.strategy, LADDER), max_lateness_s=0)
    counter.clock = sliding.clock  # what swap_strategy keeps
    counter.record_many(hits[2_000:])
    tiered = counter.strategy
    assert isinstance(tiered, TieredRollups)
    assert tiered.tier_entries()["fine"] <= 16


@settings(max_examples=60, deadline=None)
@given(
    config=st.sampled_from(CONFIGS[:3]),
    lateness=st.sampled_from([0.0, 5.0, 60.0, 900.0]),
    spread=st.sampled_from([1.0, 30.0, 400.0]),
    batch=st.integers(2, 400),
    seed=st.integers(0, 2**16),
)
def test_pruned_events_do_not_depend_on_the_batching(
    config: dict[str, float], lateness: float, spread: float, batch: int, seed: int
) -> None:
    # out-of-order hits over many coarse retentions: a batch fills fine and mid buckets that
    # hit-by-hit recording finds cut already; only the coarse tier's buckets are counted
    rng = random.Random(seed)
    hits = [(rng.choice(["/a", "/b"]), 1e9 + 10.0 * i - rng.random() * spread) for i in range(600)]
    one_by_one = HitCounter("tiered", max_lateness_s=lateness, **config)
    for hit in hits:
        one_by_one.record(*hit)
    batched = HitCounter("tiered", max_lateness_s=lateness, **config)
    for i in range(0, len(hits), batch):
        batched.record_many(hits[i : i + batch])
    assert batched.metrics == one_by_one.metrics
    assert batched.strategy.to_state() == one_by_one.strategy.to_state()
    coarse = TieredRollups(**config).widths[2]
    pruned = {int(ts // coarse) for _, ts in hits} - {  # coarse buckets no longer held
        j for ep in ("/a", "/b") for j in one_by_one.strategy.bucket_counts(ep, "coarse")
    }
    assert one_by_one.metrics.pruned_events >= len(pruned) > 0

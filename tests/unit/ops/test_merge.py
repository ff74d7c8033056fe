"""Shard and merge (`hitcount.ops.merge`): shards merged must answer like one counter fed all.

The oracle is a single counter fed every hit in arrival order, and brute-force counts over
the union of the shards' inputs (`Oracle`); morris is checked against its variance theory.
"""

from __future__ import annotations

import math
import random
from statistics import fmean, pvariance

import pytest

from hitcount import HitCounter
from hitcount.errors import MergeRefusedError
from hitcount.ops.merge import merge_counters
from hitcount.strategies.morris import MorrisCounter
from tests.conftest import Oracle

START = 1_700_000_000.0
#: Parameters under which pruning happens within the generated traffic (about 3 hours).
PRUNING_PARAMS: dict[str, dict[str, object]] = {
    "fixed": {"window_s": 60, "retention_s": 3600},
    "sliding": {"max_window_s": 3600},
    "tiered": {
        "fine_s": 10,
        "fine_retention_s": 900,
        "mid_s": 60,
        "mid_retention_s": 3600,
        "coarse_s": 600,
        "coarse_retention_s": 7200,
    },
}


def traffic(seed: int, count: int = 6000, span_s: float = 10800.0) -> list[tuple[str, float, str]]:
    """Hits in arrival order: up to 50 s late (within the 60 s lateness), with users."""
    rng = random.Random(seed)
    hits = []
    for i in range(count):
        arrival = START + span_s * i / count
        endpoint = f"/api/{rng.choice('abcde')}" if rng.random() < 0.8 else "/"
        hits.append((endpoint, round(arrival - rng.uniform(0, 50), 3), f"u{rng.randrange(400)}"))
    return hits


def shards_of(
    hits: list[tuple[str, float, str]], parts: int, seed: int
) -> list[list[tuple[str, float, str]]]:
    """Each hit dealt to a random shard, keeping arrival order within a shard."""
    rng = random.Random(seed)
    shards: list[list[tuple[str, float, str]]] = [[] for _ in range(parts)]
    for hit in hits:
        shards[rng.randrange(parts)].append(hit)
    return shards


def fed(strategy: str, hits: list[tuple[str, float, str]], **params: object) -> HitCounter:
    """A counter fed `hits` in batches of 500, in order."""
    counter = HitCounter(strategy, **(params or PRUNING_PARAMS.get(strategy, {})))
    for start in range(0, len(hits), 500):
        counter.record_many(hits[start : start + 500])
    return counter


@pytest.mark.parametrize("strategy", ["fixed", "sliding", "tiered"])
@pytest.mark.parametrize(("parts", "seed"), [(2, 1), (3, 2)])
def test_shards_merged_hold_exactly_what_one_counter_fed_everything_holds(
    strategy: str, parts: int, seed: int
) -> None:
    hits = traffic(seed)
    single = fed(strategy, hits)
    merged = merge_counters([fed(strategy, shard) for shard in shards_of(hits, parts, seed)])
    assert merged.strategy.to_state() == single.strategy.to_state()
    assert merged.strategy.horizon == single.strategy.horizon
    assert merged.clock == single.clock == max(ts for _, ts, _ in hits)
    assert merged.metrics.total_hits == len(hits)
    assert merged.metrics.late_hits == 0
    assert merged.distinct is not None and single.distinct is not None
    assert merged.distinct.to_state() == single.distinct.to_state()  # identical registers
    oracle = Oracle((endpoint, ts) for endpoint, ts, _ in hits)
    for last in (30, 600, 3599):
        answer = merged.query("/api/c", last).answer
        assert answer == single.query("/api/c", last).answer
        assert answer.complete
        true = oracle.count("/api/c", merged.clock - last, merged.clock)
        assert answer.low <= true <= answer.high
        if strategy == "sliding":
            assert answer.count == true and answer.exact
    more = [(endpoint, ts + 3600, user) for endpoint, ts, user in hits[-300:]]
    merged.record_many(more)  # the merge goes on counting like the single counter
    single.record_many(more)
    assert merged.strategy.to_state() == single.strategy.to_state()


def test_distinct_users_of_the_merge_count_users_seen_on_several_shards_once() -> None:
    hits = traffic(5)
    merged = merge_counters([fed("sliding", shard) for shard in shards_of(hits, 3, 5)])
    clock = max(ts for _, ts, _ in hits)
    users = {user for endpoint, ts, user in hits if endpoint == "/" and ts > clock - 3600}
    answer = merged.query_distinct("/", 3600).answer
    assert answer.low <= len(users) <= answer.high
    assert answer.estimate == pytest.approx(len(users), rel=0.05)


def test_a_lagging_shard_is_pruned_to_the_latest_horizon_and_that_is_counted() -> None:
    hits = traffic(7)
    early = [hit for hit in hits if hit[1] < START + 3000]  # clock far behind the other
    late = [hit for hit in hits if hit[1] >= START + 3000]
    shards = [fed("sliding", early), fed("sliding", late)]
    kept_before = sum(counter.strategy.memory_entries() for counter in shards)
    pruned_before = sum(counter.metrics.pruned_events for counter in shards)
    states_before = [counter.strategy.to_state() for counter in shards]
    merged = merge_counters(shards)
    assert [counter.strategy.to_state() for counter in shards] == states_before
    single = fed("sliding", hits)
    assert merged.strategy.to_state() == single.strategy.to_state()
    assert merged.strategy.horizon > shards[0].strategy.horizon
    dropped = kept_before - merged.strategy.memory_entries()
    assert dropped > 0
    assert merged.metrics.pruned_events == pruned_before + dropped
    assert not merged.query("/", 3 * 3600).answer.complete


def test_metrics_are_summed_and_lateness_and_clock_are_the_largest() -> None:
    first = HitCounter("fixed", max_lateness_s=30)
    second = HitCounter("fixed", max_lateness_s=90)
    first.record_many([("/a", START), ("/a", START + 5)])
    second.record_many([("/a", START + 2), ("/b", START + 20)])
    second.metrics.bad_lines, first.metrics.lines_read = 3, 9
    first.recent_events.append({"event": "strategy_swapped", "clock": START})
    merged = merge_counters([first, second])
    assert merged.metrics.total_hits == 4
    assert (merged.metrics.bad_lines, merged.metrics.lines_read) == (3, 9)
    assert merged.max_lateness_s == 90
    assert merged.clock == START + 20
    assert list(merged.recent_events) == [{"event": "strategy_swapped", "clock": START}]
    assert merged.query("/a", 60).answer.count == 3


@pytest.mark.parametrize(
    ("first", "second", "fragment"),
    [
        (("fixed", {}), ("sliding", {}), "shard-2 holds sliding"),
        (("fixed", {"window_s": 60}), ("fixed", {"window_s": 10}), "fixed(window_s=10"),
        (("morris", {"base": 2}), ("morris", {"base": 1.5}), "morris(base=1.5"),
    ],
)
def test_shards_with_other_strategies_or_parameters_are_refused_by_name(
    first: tuple[str, dict[str, object]], second: tuple[str, dict[str, object]], fragment: str
) -> None:
    counters = [HitCounter(first[0], **first[1]), HitCounter(second[0], **second[1])]
    with pytest.raises(MergeRefusedError, match="cannot be merged") as refused:
        merge_counters(counters, ["shard-1", "shard-2"])
    assert fragment in refused.value.message and "shard-1" in refused.value.message
    assert refused.value.hint is not None and "hitcount swap" in refused.value.hint


def test_distinct_users_on_and_off_cannot_merge() -> None:
    counters = [HitCounter("fixed"), HitCounter("fixed", distinct=False)]
    with pytest.raises(MergeRefusedError, match=r"b\.json keeps distinct users off"):
        merge_counters(counters, ["a.json", "b.json"])
    with pytest.raises(MergeRefusedError, match="keeps distinct users off"):
        merge_counters([HitCounter("fixed"), HitCounter("fixed", distinct=False)])


@pytest.mark.parametrize("strategy", ["ehist", "auto"])
def test_strategies_without_a_sound_merge_refuse_but_a_single_input_is_a_copy(
    strategy: str,
) -> None:
    shards = [fed(strategy, shard, max_window_s=3600) for shard in shards_of(traffic(3), 2, 3)]
    with pytest.raises(MergeRefusedError, match=f"{strategy} states cannot be merged"):
        merge_counters(shards)
    alone = merge_counters(shards[:1])
    assert alone.strategy.to_state() == shards[0].strategy.to_state()


# -- morris -----------------------------------------------------------------------------


def _levels(base: float, shards: list[list[int]], seed: int = 0) -> list[int]:
    parts = []
    for i, levels in enumerate(shards):
        part = MorrisCounter(base=base, counters=len(levels), seed=i)
        part._counters["/"] = list(levels)
        parts.append(part)
    merged = MorrisCounter.merged(parts)
    assert isinstance(merged, MorrisCounter)
    return merged._counters["/"]


def test_morris_merge_with_an_empty_shard_or_an_exact_sum_keeps_levels_exactly() -> None:
    # base 2: f(c) = 2^c - 1. f(2) + f(0) = 3 = f(2); f(1) + f(1) + f(1) = 3 = f(2);
    # f(3) + f(4) = 7 + 15 = 22 lies between f(4) = 15 and f(5) = 31: never 3 or 6.
    assert _levels(2.0, [[2, 5, 0], [0, 0, 0]]) == [2, 5, 0]
    assert _levels(2.0, [[1], [1], [1]]) == [2]
    assert set(_levels(2.0, [[3] * 64, [4] * 64])) <= {4, 5}


def test_morris_merge_rounds_up_with_the_probability_that_keeps_it_unbiased() -> None:
    # base 2: f(3) + f(3) = 14, between f(3) = 7 and f(4) = 15: up with p = (14 - 7) / 8.
    levels = _levels(2.0, [[3] * 4000, [3] * 4000])
    share_up = levels.count(4) / len(levels)
    assert set(levels) == {3, 4}
    assert share_up == pytest.approx(7 / 8, abs=4 * math.sqrt(7 / 64 / 4000))
    standard_error = 8 * math.sqrt(7 / 64 / 4000)  # the estimate is 7 or 15
    assert fmean(2**c - 1 for c in levels) == pytest.approx(14, abs=4 * standard_error)


@pytest.mark.parametrize(("base", "k"), [(2.0, 4), (1.1, 8)])
@pytest.mark.parametrize("split", [(0.6, 0.3, 0.1), (0.34, 0.33, 0.33)])
def test_morris_merge_is_unbiased_and_within_one_counters_variance(
    base: float, k: int, split: tuple[float, float, float]
) -> None:
    """Three shards merged, over 400 seeds, against the theory in `strategies/morris.py`.

    The mean is within 4 standard errors of n, the variance at most one counter's fed all
    n hits (with 30% room for sampling), and the reported 95% interval holds.
    """
    n, runs = 3000, 400
    estimates, held = [], 0
    for run in range(runs):
        parts = []
        for i, share in enumerate(split):
            part = MorrisCounter(base=base, counters=k, seed=run * 10 + i)
            part.add_hits("/", round(n * share))
            parts.append(part)
        merged = MorrisCounter.merged(parts)
        answer = merged.query("/", -math.inf, 0.0, 0.0)
        estimates.append(answer.count)
        held += answer.low <= n <= answer.high
    theory = (base - 1) * n * (n - 1) / (2 * k)  # one counter set fed all n hits
    assert fmean(estimates) == pytest.approx(n, abs=4 * math.sqrt(theory / runs))
    assert pvariance(estimates) <= 1.3 * theory
    assert held / runs >= 0.9

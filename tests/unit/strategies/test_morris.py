"""Morris counters against their theory, with fixed seeds and statistical bounds."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from hitcount import HitCounter
from hitcount.strategies import MorrisCounter

TRIALS = 2000


def _exact_level_distribution(base: float, hits: int) -> list[float]:
    """P(counter level = c) after `hits` hits, by dynamic programming over the chain."""
    probs = [1.0]
    for _ in range(hits):
        nxt = [0.0] * (len(probs) + 1)
        for level, p in enumerate(probs):
            up = base**-level
            nxt[level] += p * (1 - up)
            nxt[level + 1] += p * up
        probs = nxt
    return probs


def _chi_square_critical(df: int, z: float = 3.09) -> float:
    """Upper 0.1% point of chi-square(df), by the Wilson-Hilferty approximation."""
    c = 2 / (9 * df)
    return float(df * (1 - c + z * math.sqrt(c)) ** 3)


def _levels(base: float, hits: int, *, per_hit: bool, seed0: int) -> list[int]:
    levels = []
    for seed in range(seed0, seed0 + TRIALS):
        counter = MorrisCounter(base=base, counters=1, seed=seed)
        if per_hit:
            for _ in range(hits):
                counter.record("/a", 0.0)
        else:
            counter.add_hits("/a", hits)
        levels.append(counter.to_state()["counters"]["/a"][0])
    return levels


def _chi_square(observed: list[int], expected: list[float]) -> tuple[float, int]:
    """Pearson's statistic with bins pooled until each expects at least 5."""
    stat, df, obs_acc, exp_acc = 0.0, -1, 0.0, 0.0
    for obs, exp in zip(observed, expected, strict=True):
        obs_acc += obs
        exp_acc += exp
        if exp_acc >= 5:
            stat += (obs_acc - exp_acc) ** 2 / exp_acc
            df += 1
            obs_acc = exp_acc = 0.0
    if exp_acc > 0:
        stat += (obs_acc - exp_acc) ** 2 / max(exp_acc, 1e-9)
        df += 1
    return stat, max(df, 1)


@pytest.mark.parametrize("per_hit", [True, False], ids=["coin-per-hit", "geometric-jumps"])
@pytest.mark.parametrize(("base", "hits"), [(2.0, 300), (1.3, 200)])
def test_counter_level_follows_the_exact_distribution(
    base: float, hits: int, per_hit: bool
) -> None:
    expected_probs = _exact_level_distribution(base, hits)
    levels = _levels(base, hits, per_hit=per_hit, seed0=1000)
    observed = [levels.count(level) for level in range(len(expected_probs))]
    stat, df = _chi_square(observed, [p * TRIALS for p in expected_probs])
    assert stat < _chi_square_critical(df), (stat, df)


@pytest.mark.parametrize(
    ("base", "counters", "hits"), [(2.0, 1, 1000), (1.1, 4, 5000), (1.5, 8, 20000)]
)
def test_estimate_is_unbiased_with_the_theoretical_variance(
    base: float, counters: int, hits: int
) -> None:
    estimates = []
    for seed in range(TRIALS):
        counter = MorrisCounter(base=base, counters=counters, seed=seed)
        counter.add_hits("/a", hits)
        estimates.append(counter.estimate(counter.to_state()["counters"]["/a"]))
    mean = sum(estimates) / TRIALS
    variance = sum((e - mean) ** 2 for e in estimates) / (TRIALS - 1)
    theory = (base - 1) * hits * (hits - 1) / (2 * counters)
    # The mean of TRIALS estimates has sd sqrt(theory / TRIALS): allow 4 sd.
    assert abs(mean - hits) < 4 * math.sqrt(theory / TRIALS)
    # The sample variance of a skewed estimator wanders more; 25% is ~5 of its sds here.
    assert variance == pytest.approx(theory, rel=0.25)


@pytest.mark.parametrize(("base", "counters"), [(1.1, 8), (2.0, 4), (2.0, 1), (1.5, 16)])
def test_interval_covers_the_truth_at_the_stated_confidence(base: float, counters: int) -> None:
    trials, hits, covered = 800, 3000, 0
    for seed in range(trials):
        counter = HitCounter("morris", base=base, counters=counters, seed=seed)
        counter.strategy.add_hits("/a", hits)  # type: ignore[attr-defined]
        counter.clock = 0.0  # what record() would have set
        answer = counter.query("/a", 60).answer
        covered += answer.low <= hits <= answer.high
    confidence = 0.95
    slack = NormalDist().inv_cdf(0.999) * math.sqrt(confidence * (1 - confidence) / trials)
    assert covered / trials >= confidence - slack


@pytest.mark.parametrize(("base", "counters"), [(2.0, 4), (2.0, 16), (1.5, 4), (2.0, 1)])
@pytest.mark.parametrize("hits", [1, 2, 3, 4, 6, 8])
def test_interval_covers_small_counts_at_the_stated_confidence(
    base: float, counters: int, hits: int
) -> None:
    """At the first levels the counters are far from normal (4 counters at level 1 after 2
    hits one time in 16): the exact interval covers the truth at least 95% of the time."""  # noqa: D205, D209
    endpoints = 1500
    counter = MorrisCounter(base=base, counters=counters, seed=hits * 100 + counters)
    covered = 0
    for endpoint in range(endpoints):  # each endpoint's counters draw afresh
        counter.add_hits(f"/e{endpoint}", hits)
        answer = counter.query(f"/e{endpoint}", 0, 1, 1)
        covered += answer.low <= hits <= answer.high
    confidence = 0.95
    slack = NormalDist().inv_cdf(0.999) * math.sqrt(confidence * (1 - confidence) / endpoints)
    assert covered / endpoints >= confidence - slack


def test_four_counters_at_level_one_may_have_seen_two_hits() -> None:
    """All four at level 1 (two hits leave them so one time in 16): the interval holds 2;
    all four at level 2 (two hits, one time in 16): it holds 2 too."""  # noqa: D205, D209
    counter = MorrisCounter(base=2.0, counters=4, seed=0)
    counter._counters["/one"] = [1, 1, 1, 1]
    counter._counters["/two"] = [2, 2, 2, 2]
    assert counter.query("/one", 0, 1, 1).low == 1 and counter.query("/one", 0, 1, 1).high >= 2
    assert counter.query("/two", 0, 1, 1).low <= 2 <= counter.query("/two", 0, 1, 1).high


def test_same_seed_same_counts_and_different_seeds_differ() -> None:
    def run(seed: int) -> list[int]:
        counter = MorrisCounter(base=1.2, counters=4, seed=seed)
        counter.add_hits("/a", 10_000)
        return list(counter.to_state()["counters"]["/a"])

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_zero_hits_is_exactly_zero_and_one_hit_is_at_least_one() -> None:
    counter = MorrisCounter(base=2.0, counters=3, seed=0)
    assert counter.query("/a", 0, 1, 1).exact
    counter.record("/a", 1.0)
    answer = counter.query("/a", 0, 1, 1)
    assert answer.count == 1 and answer.low >= 1


def test_levels_saturate_instead_of_overflowing() -> None:
    counter = MorrisCounter(base=16.0, counters=1, seed=0)
    counter._counters["/a"] = [counter.max_level]  # a counter at its ceiling
    counter.add_hits("/a", 10**9)
    answer = counter.query("/a", 0, 1, 1)
    assert math.isfinite(answer.count)


def test_bounds_are_whole_ordered_and_cover_small_counts() -> None:
    for hits in (1, 2, 3, 4, 7):
        for seed in range(200):
            counter = MorrisCounter(base=1.1, counters=8, seed=seed)
            counter.add_hits("/a", hits)
            answer = counter.query("/a", 0, 1, 1)
            assert answer.low <= answer.count <= answer.high
            assert float(answer.low).is_integer()
            if hits == 1:
                assert answer.low == 1  # never a hair above the truth


def test_morris_to_morris_swaps_only_with_the_same_parameters() -> None:
    from hitcount import SwapRefusedError

    counter = HitCounter("morris", base=2.0, counters=4)
    counter.record_many(("/a", 1_767_225_600.0 + i) for i in range(500))
    before = counter.query("/a", 60).answer
    counter.swap_strategy("morris", base=2.0, counters=4)
    assert counter.query("/a", 60).answer == before
    with pytest.raises(SwapRefusedError):
        counter.swap_strategy("morris", base=1.1, counters=8)  # would invent precision


def test_after_a_swap_morris_says_since_when_it_counts() -> None:
    counter = HitCounter("sliding", max_window_s=60, max_lateness_s=0)
    counter.record_many(("/a", 1_767_225_600.0 + i) for i in range(1000))
    counter.swap_strategy("morris", base=1.05, counters=16)
    answer = counter.query("/a", 60).answer
    assert answer.all_time
    assert answer.since == counter.strategy.horizon > 1_767_225_600.0
    retained = sum(1 for i in range(1000) if 1_767_225_600.0 + i > answer.since)
    assert answer.low <= retained <= answer.high


@pytest.mark.slow
def test_a_seed_reproduces_a_replay_whatever_the_string_hashing() -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import SAMPLES

    program = (
        "from hitcount import HitCounter, replay\n"
        "c = HitCounter('morris', base=1.1, counters=8, seed=3)\n"
        f"replay(c, [{str(SAMPLES / 'web.ndjson')!r}])\n"
        "print(c.strategy.to_state())\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in (1, 2, 3)
    }
    assert len(outputs) == 1


def test_the_interval_quantile_is_the_normal_one_for_the_confidence() -> None:
    """`_Z` is written as a constant (start-up time); it must stay the 95% normal quantile."""
    from hitcount.strategies import morris

    assert NormalDist().inv_cdf(0.5 + morris.CONFIDENCE / 2) == morris._Z

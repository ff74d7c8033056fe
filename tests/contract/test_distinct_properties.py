"""Distinct-user answers against a brute-force set of users, every strategy and precision.

The oracle is the set of users of the kept hits in the window. HyperLogLog answers carry no
certainty, so the checks come from its theory, on fixed seeds (hypothesis derandomized):

- an answer is never certain (`confidence` 0.95) and its estimate lies within its bounds;
- a window of whole minutes, complete, with at most `2^p / 4` true users (sparse registers
  at precision 25): the estimate is within 0.5% of the truth, and `low` (registers set) is
  at most the truth; with more users, within 5 standard errors (`1.04 / sqrt(2^p)`), a
  bound missed with odds under one in a million;
- over many random configurations the 95% intervals miss no more often than a binomial
  count at 5% allows (a one-in-a-million tail).
"""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter
from hitcount.model.answers import DistinctAnswer
from hitcount.sketches.hll import standard_error
from hitcount.strategies import available_strategies
from tests.contract.test_properties import _params

PATTERNS = {"/a": ("/a",), "*": ("/a", "/b", "/c")}
START = 1_700_000_000.0
Run = tuple[HitCounter, list[tuple[str, float, str]], int]


def _run(name: str, params: dict[str, object], lateness: float, precision: int, seed: int) -> Run:
    """A counter fed seeded traffic (some of it late); the hits it kept; the precision."""
    rng = random.Random(seed)
    users = rng.choice([1, 5, 40, 300, 1500, 6000])
    span = rng.choice([120.0, 900.0, 3600.0])
    counter = HitCounter(name, max_lateness_s=lateness, distinct_precision=precision, **params)
    kept = []
    for i in range(rng.choice([50, 800, 4000])):
        late = rng.choice([0, 0, 0, 1]) * rng.uniform(0, 400)
        endpoint, user = f"/{rng.choice('aabc')}", f"user-{rng.randrange(users)}"
        ts = START + span * i / 4000 - late
        if counter.record(endpoint, ts, user):
            kept.append((endpoint, ts, user))
    return counter, kept, precision


def _answers(run: Run, rng: random.Random, count: int) -> list[tuple[DistinctAnswer, int, str]]:
    """`count` random windows (half on minute edges): each answer, its truth, its pattern."""
    counter, kept, _ = run
    clock = max(ts for _, ts, _ in kept)
    reach = min(1800.0, counter.strategy.retention_s())  # mostly complete windows
    out = []
    for _ in range(count):
        now, last = rng.uniform(clock - reach / 2, clock + 60), rng.uniform(1, reach)
        if rng.random() < 0.5:
            now, last = 60.0 * math.ceil(now / 60), 60.0 * max(1, round(last / 60))
        pattern = rng.choice(list(PATTERNS))
        answer = counter.query_distinct(pattern, last, now).answer
        truth = {u for e, ts, u in kept if e in PATTERNS[pattern] and now - last < ts <= now}
        out.append((answer, len(truth), pattern))
    return out


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(available_strategies()),
    lateness=st.sampled_from([0.0, 60.0, 300.0]),
    precision=st.integers(4, 16),
    seed=st.integers(0, 2**32),
    data=st.data(),
)
def test_distinct_answers_hold_against_a_brute_force_set(
    name: str, lateness: float, precision: int, seed: int, data: st.DataObject
) -> None:
    run = _run(name, data.draw(_params(name)), lateness, precision, seed)
    if not run[1]:
        return
    sigma = standard_error(precision)
    for answer, truth, pattern in _answers(run, random.Random(seed), 12):
        where = (name, precision, pattern, truth, answer)
        assert answer.confidence == 0.95, where  # never claimed exact
        assert answer.low <= answer.estimate <= answer.high, where
        if not answer.complete or answer.buckets_partial:
            continue
        if truth <= (1 << precision) // 4:
            assert abs(answer.estimate - truth) <= 0.005 * truth, where
            assert answer.low <= truth, where  # registers set: certain while sparse
        else:
            assert abs(answer.estimate - truth) <= 5 * sigma * truth, where


def test_distinct_intervals_cover_the_truth_at_their_confidence() -> None:
    rng = random.Random(17)
    misses = total = 0
    for seed in range(40):  # parameters drawn too: strategy, lateness, precision
        name = rng.choice(available_strategies())
        params = {"max_window_s": 7200.0} if name in ("sliding", "ehist", "auto") else {}
        run = _run(name, params, rng.choice([0.0, 300.0]), rng.randint(4, 16), seed)
        for answer, truth, _ in _answers(run, rng, 10):
            if answer.complete:
                total += 1
                misses += not answer.low <= truth <= answer.high
    allowed = _binomial_quantile(total, 0.05, 1e-6)
    assert total >= 300 and misses <= allowed, (misses, total, allowed)


def _binomial_quantile(n: int, p: float, tail: float) -> int:
    """The smallest k with P(Binomial(n, p) > k) below `tail`."""
    below = 0.0
    for k in range(n + 1):
        below += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if 1.0 - below < tail:
            return k
    return n

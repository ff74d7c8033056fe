"""`fixed.prune` drops exactly the buckets before the horizon, whether it looks each bucket
number up (a short step since the last prune) or scans the buckets held (a long jump)."""  # noqa: D205, D209

from __future__ import annotations

import math
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.strategies.fixed import FixedWindow


@settings(max_examples=60, deadline=None)
@given(
    window_s=st.sampled_from([1.0, 10.0, 60.0]),
    retention_buckets=st.integers(1, 30),
    endpoints=st.integers(1, 6),
    steps=st.lists(st.tuples(st.integers(0, 80), st.booleans()), min_size=5, max_size=40),
    seed=st.integers(0, 2**32 - 1),
)
def test_prune_matches_a_brute_force_count_for_short_steps_and_long_jumps(
    window_s: float,
    retention_buckets: int,
    endpoints: int,
    steps: list[tuple[int, bool]],
    seed: int,
) -> None:
    rng = random.Random(seed)
    fixed = FixedWindow(window_s=window_s, retention_s=retention_buckets * window_s)
    oracle: Counter[tuple[str, int]] = Counter()  # (endpoint, ceil(ts / w) - 1) -> hits
    clock = 10_000 * window_s
    for advance, prune in steps:
        clock += advance * window_s / 4
        for _ in range(rng.randrange(1, 20)):
            ts = clock - rng.uniform(0, retention_buckets * window_s / 2)
            endpoint = f"/e{rng.randrange(endpoints)}"
            assert fixed.record(endpoint, ts)
            oracle[endpoint, math.ceil(ts / window_s) - 1] += 1
        if not prune:
            continue
        horizon = clock - retention_buckets * window_s
        first_kept = math.floor(horizon / window_s)
        expected = Counter(e for (e, b) in oracle if b < first_kept)
        assert fixed.prune(horizon) == dict(expected)
        oracle = Counter({key: n for key, n in oracle.items() if key[1] >= first_kept})
        held = {(e, b): n for e, buckets in fixed._buckets.items() for b, n in buckets.items()}
        assert held == dict(oracle)

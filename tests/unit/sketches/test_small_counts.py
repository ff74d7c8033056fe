"""HyperLogLog bounds at small counts cover register collisions (the truth is known)."""

from __future__ import annotations

import pytest

from hitcount.sketches.hll import HyperLogLog


def _sketch(precision: int, users: int, seed: int) -> HyperLogLog:
    sketch = HyperLogLog(precision)
    sketch.add_many(f"user-{seed}-{i}" for i in range(users))
    return sketch


def test_a_collision_no_longer_puts_the_truth_above_the_bounds() -> None:
    """Sketches where two of 22 users share a register (a 6% event at p = 12): the 95%
    bounds must cover the truth (two collisions, a 0.2% event, may fall outside)."""  # noqa: D205, D209
    collided = 0
    for seed in range(400):
        sketch = _sketch(12, 22, seed)
        if sketch.nonzero() == 21:
            collided += 1
            low, high = sketch.bounds()
            assert low <= 22 <= high, (seed, sketch.nonzero(), low, high)
    assert collided > 0  # the case the issue met (truth 22, 21 registers set)


@pytest.mark.parametrize("precision", [10, 12, 14])
def test_small_count_intervals_cover_at_least_their_confidence(precision: int) -> None:
    misses = total = 0
    for users in (1, 5, 22, 50, 100, 200):
        for seed in range(60):
            low, high = _sketch(precision, users, seed).bounds(0.95)
            total += 1
            misses += not low <= users <= high
    assert misses <= 0.05 * total


def test_distinct_queries_cover_a_collision_at_small_counts() -> None:
    """The per-endpoint tracker's window answers take the same collision bound."""
    from hitcount import HitCounter

    covered = 0
    for seed in range(400):
        counter = HitCounter("sliding")
        for i in range(22):
            counter.record("/a", 1_000.0 + i, user=f"user-{seed}-{i}")
        answer = counter.query_distinct("/a", 3600).answer
        if answer.low == 21:  # one collision among the 22 users
            covered += 1
            assert answer.low <= 22 <= answer.high, (seed, answer)
    assert covered > 0

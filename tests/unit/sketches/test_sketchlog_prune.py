"""The distinct-users register log forgets pruned pairs: its pair table follows retention."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.sketches.distinct import DistinctTracker


def _held_pairs(tracker: DistinctTracker) -> int:
    """(endpoint, bucket) sketches of a tracker fed hit by hit (the oracle)."""
    return sum(len(buckets) for buckets in tracker._sketches.values())


@settings(max_examples=40, deadline=None)
@given(
    precision=st.integers(4, 12),
    bucket_s=st.sampled_from([1.0, 10.0, 60.0]),
    retention_buckets=st.integers(1, 6),
    endpoints=st.integers(1, 5),
    batches=st.integers(12, 40),
    per_batch=st.integers(1, 60),
    late_buckets=st.integers(0, 3),
    prune_every=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_pair_table_stays_bounded_by_retained_pairs_and_answers_match(
    precision: int,
    bucket_s: float,
    retention_buckets: int,
    endpoints: int,
    batches: int,
    per_batch: int,
    late_buckets: int,
    prune_every: int,
    seed: int,
) -> None:
    """A stream many retentions long, pruned at drawn points: the bulk log's pair table never
    holds more than 1.25 times the pairs still retained, and its sketches stay byte for byte those
    of a tracker fed hit by hit (before and after each prune, and for late hits after one)."""  # noqa: D205, D209
    rng = np.random.default_rng(seed)
    names = [f"/e{i}" for i in range(endpoints)]
    bulk, one = (DistinctTracker(bucket_s, precision, retention_buckets * bucket_s) for _ in "ab")
    clock = 1_000.0 * bucket_s
    for step in range(batches):
        clock += bucket_s * float(rng.integers(1, 3))
        late = rng.uniform(0, (late_buckets + 1) * bucket_s, per_batch)
        stamps = clock - late
        codes = rng.integers(0, endpoints, per_batch).astype(np.int32)
        users = [f"u{u}" for u in rng.integers(0, 300, per_batch).tolist()]
        bulk.add_columns(names, codes, stamps, users)
        for code, ts, user in zip(codes.tolist(), stamps.tolist(), users, strict=True):
            one.add(names[code], ts, user)
        if step % prune_every:
            continue
        horizon = clock - retention_buckets * bucket_s
        assert bulk.prune(horizon) == one.prune(horizon)
        log = bulk._log
        if log is not None:
            assert 4 * len(log.pairs()) <= 5 * _held_pairs(one)
        if step % 4 == 0:
            assert sorted(bulk.sketch_rows()) == sorted(one.sketch_rows())
    assert bulk._log is None or 4 * len(bulk._log.pairs()) <= 5 * _held_pairs(one)
    assert sorted(bulk.sketch_rows()) == sorted(one.sketch_rows())
    assert bulk.query(names, 0.0, clock) == one.query(names, 0.0, clock)


def test_a_pair_both_settled_and_in_the_log_is_pruned_once() -> None:
    """Bulk adds, a query (the log settles into sketches), more bulk adds to the same pairs:
    each prune counts the buckets it drops as the tracker fed hit by hit does."""  # noqa: D205, D209
    names = ["/a", "/b"]
    bulk, one = (DistinctTracker(10.0, 8, 30.0) for _ in "ab")
    codes = np.array([0, 1], dtype=np.int32)
    for step in range(10):
        stamps = np.array([100.0 + 5 * step, 101.0 + 5 * step])
        bulk.add_columns(names, codes, stamps, ["u1", "u2"])
        bulk.query(names, 0.0, 1e9)
        bulk.add_columns(names, codes, stamps, ["u3", "u4"])
        for code, ts in zip(codes.tolist(), stamps.tolist(), strict=True):
            one.add(names[code], ts, "u1")
        horizon = stamps[0] - 30.0
        assert bulk.prune(horizon) == one.prune(horizon)

"""Distinct-user buckets are `(lo, hi]` like windows: a window on bucket edges is whole
buckets, answered from one sketch; states saved with `[lo, hi)` buckets keep them."""  # noqa: D205, D209

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.sketches.distinct import DistinctTracker


def test_the_issue_case_is_exact() -> None:
    """Users at 0, 30 and 90 s; the window (0, 60] holds one of them."""
    tracker = DistinctTracker(bucket_s=60)
    for i, ts in enumerate((0.0, 30.0, 90.0)):
        tracker.add("/a", ts, f"user{i}")
    answer = tracker.query("/a", 0.0, 60.0, clock=90.0)
    assert answer.buckets_partial == 0
    assert (answer.low, round(answer.estimate, 6)) == (1.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    width=st.sampled_from([1.0, 10.0, 60.0, 300.0]),
    slots=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 4), st.integers(0, 30)), max_size=150
    ),
    edges=st.tuples(st.integers(-2, 20), st.integers(1, 25)),
    batched=st.booleans(),
)
def test_windows_on_bucket_edges_are_whole_buckets_against_brute_force(
    width: float, slots: list[tuple[int, int, int]], edges: tuple[int, int], batched: bool
) -> None:
    """Hits on and between the edges (quarters of a bucket), by hit or in a batch: the
    answer has no partial bucket and counts the users of `(start, end]` exactly (within
    0.5%: sparse registers at precision 25)."""  # noqa: D205, D209
    hits = [(quarter * width / 4, endpoint, f"u{user}") for quarter, endpoint, user in slots]
    tracker = DistinctTracker(bucket_s=width, precision=8)
    if batched:
        codes = np.array([e for _, e, _ in hits], dtype=np.int32)
        stamps = np.array([ts for ts, _, _ in hits], dtype=np.float64)
        tracker.add_columns([f"/e{i}" for i in range(5)], codes, stamps, [u for *_, u in hits])
    else:
        for ts, endpoint, user in hits:
            tracker.add(f"/e{endpoint}", ts, user)
    start, end = edges[0] * width, (edges[0] + edges[1]) * width
    names = ["/e0", "/e2", "/e3"]
    truth = {u for ts, e, u in hits if start < ts <= end and f"/e{e}" in names}
    answer = tracker.query(names, start, end, clock=max((ts for ts, *_ in hits), default=0.0))
    assert answer.buckets_partial == 0
    assert answer.low <= len(truth) <= answer.high
    assert answer.estimate == pytest.approx(len(truth), rel=0.005, abs=0.01)


def test_a_state_saved_with_left_closed_buckets_keeps_them() -> None:
    new = DistinctTracker(bucket_s=60)
    new.add("/a", 60.0, "u")  # on an edge: the bucket (0, 60]
    state = new.to_state()
    assert state["edges"] == "(lo, hi]" and list(state["endpoints"]["/a"]) == ["0"]
    old_state = {key: value for key, value in state.items() if key != "edges"}
    old = DistinctTracker.from_state(old_state)  # saved before: no `edges` field
    assert old.edges == "[lo, hi)" and old.bucket_of(60.0) == 1
    old.add("/a", 120.0, "v")  # later hits keep the old rule: bucket [120, 180)
    old.add_columns(["/a"], np.zeros(1, np.int32), np.array([180.0]), ["w"])
    saved = old.to_state()
    assert saved["edges"] == "[lo, hi)"
    assert sorted(saved["endpoints"]["/a"], key=int) == ["0", "2", "3"]
    with pytest.raises(ValueError, match=r"\[lo, hi\) buckets"):
        new.merge(old)
    with pytest.raises(ValueError, match="edges"):
        DistinctTracker.from_state({**state, "edges": "[lo, hi]"})

"""`fixed` bucket conventions: `(lo, hi]` like windows, and states saved with `[lo, hi)`.

The oracle is a brute-force count over the hits recorded; the old convention's answers are
computed by hand from its bucket table.
"""

from __future__ import annotations

import json
import random

import pytest

from hitcount import HitCounter, from_bytes
from hitcount.errors import MergeRefusedError, StateError
from hitcount.model.answers import WindowAnswer
from hitcount.persist.document import encode, to_document
from hitcount.strategies.fixed import LEFT_CLOSED, RIGHT_CLOSED, FixedWindow
from hitcount.strategies.tiered import TieredRollups
from tests.conftest import Oracle


def _old_document(counter: HitCounter) -> bytes:
    """`counter`'s document as hitcount wrote it before `edges` existed ([lo, hi) buckets)."""
    document = to_document(counter)
    assert document["state"].pop("edges") == RIGHT_CLOSED
    return encode(document)


def test_the_issue_case_a_window_on_bucket_edges_is_exact() -> None:
    counter = HitCounter("fixed", window_s=60)
    counter.record_many(("/a", ts) for ts in (0.0, 30.0, 90.0))
    assert counter.query("/a", 60, now=60).answer == WindowAnswer.exactly(1)
    assert counter.query("/a", 120, now=120).answer == WindowAnswer.exactly(2)  # 0 is out
    assert counter.query("/a", 180, now=120).answer == WindowAnswer.exactly(3)
    assert counter.strategy.to_state()["edges"] == RIGHT_CLOSED


def test_a_hit_on_an_edge_belongs_to_the_bucket_it_ends() -> None:
    fixed = FixedWindow(window_s=10)
    for ts in (10.0, 10.5, 20.0):
        fixed.record("/a", ts)
    assert fixed.bucket_counts("/a") == {0: 1, 1: 2}  # (0, 10] {10}, (10, 20] {10.5, 20}
    fixed.prune(10.0)  # the horizon 10 drops (0, 10]: a hit at 10 is now late
    assert not fixed.record("/a", 10.0)
    assert fixed.record("/a", 10.25)


def test_an_old_left_closed_state_loads_keeps_its_convention_and_says_so() -> None:
    counter = HitCounter("fixed", window_s=60)
    # As the old hitcount counted hits at 0, 30 and 90: [0, 60) holds 2, [60, 120) holds 1.
    counter.record_many(("/a", ts) for ts in (1.0, 30.0, 90.0))
    counter.strategy.set_buckets("/a", {0: 2, 1: 1})
    old = from_bytes(_old_document(counter), "old.json")
    fixed = old.strategy
    assert isinstance(fixed, FixedWindow) and fixed.edges == LEFT_CLOSED
    # (0, 60] cuts [0, 60) at its start and [60, 120) could hold a hit at 60: the issue's
    # old answer, bounds [0, 3] and not exact.
    answer = old.query("/a", 60, now=60).answer
    assert (answer.low, answer.high, answer.exact) == (0, 3, False)
    # New hits go on in the same convention, and the state still says which.
    old.record("/a", 120.0)
    assert fixed.bucket_counts("/a") == {0: 2, 1: 1, 2: 1}
    saved = json.loads(encode(to_document(old)))
    assert saved["state"]["edges"] == LEFT_CLOSED
    again = from_bytes(encode(to_document(old, compact=True)), "again.json").strategy
    assert isinstance(again, FixedWindow) and again.edges == LEFT_CLOSED


def test_old_states_answer_within_bounds_and_new_ones_exactly_on_edges() -> None:
    rng = random.Random(3)
    hits = [("/x", float(rng.randint(0, 300))) for _ in range(200)]
    oracle = Oracle(hits)
    new = HitCounter("fixed", window_s=10, retention_s=10**6)
    legacy = HitCounter("fixed", window_s=10, retention_s=10**6)
    legacy.strategy.closed_right = False  # what a loaded old state does
    for counter in (new, legacy):
        counter.record_many(hits)
    for _ in range(100):
        now, last = 10.0 * rng.randint(1, 30), 10.0 * rng.randint(1, 30)
        truth = oracle.count("/x", now - last, now)
        assert new.query("/x", last, now).answer == WindowAnswer.exactly(truth)
        answer = legacy.query("/x", last, now).answer
        assert answer.low <= truth <= answer.high


def test_bad_edges_and_mixed_merges_are_refused() -> None:
    with pytest.raises(StateError, match="edges"):
        FixedWindow().load_state(b'{"edges": "(lo, hi)", "buckets": {}}')
    old, new = FixedWindow(), FixedWindow()
    old.closed_right = False
    with pytest.raises(MergeRefusedError, match="buckets"):
        FixedWindow.merged([old, new])
    assert FixedWindow.merged([old, old]).edges == LEFT_CLOSED  # type: ignore[attr-defined]


def test_conversions_keep_the_convention_of_the_buckets() -> None:
    old = FixedWindow(window_s=10)
    old.closed_right = False
    old.set_buckets("/a", {0: 1, 3: 2})
    coarser = FixedWindow.convert(old, {"window_s": 20})
    assert isinstance(coarser, FixedWindow) and coarser.edges == LEFT_CLOSED
    assert coarser.bucket_counts("/a") == {0: 1, 1: 2}
    tiered = TieredRollups.convert(old, {"fine_s": 10, "mid_s": 20, "coarse_s": 40})
    assert isinstance(tiered, TieredRollups) and tiered.closed_until > 0
    new = FixedWindow(window_s=10)
    new.record("/a", 10.0)
    assert TieredRollups.convert(new, {"fine_s": 10, "mid_s": 20, "coarse_s": 40}).closed_until < 0  # type: ignore[attr-defined]

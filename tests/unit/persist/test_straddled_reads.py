"""A store whose reads may catch a writer's batch half-way (a Redis cluster) is read again
when the state's parts disagree; a damaged state stays an error, and other stores fail at once.

The oracle: a state whose endpoints hold more hits than its metrics recorded is what such a
read sees between a batch's data and its metrics (QA E11); the second read is whole.
"""  # noqa: D205

from __future__ import annotations

import json

import pytest

from hitcount import HitCounter, StateError, load_counter
from hitcount.persist.answering import load_answering
from hitcount.persist.document import encode, to_document
from hitcount.persist.stores import MemoryStore


class HalfBatchStore(MemoryStore):
    """Serves `torn` reads of an implausible state first, then the whole one."""

    def __init__(self, torn: int, straddle: bool) -> None:
        super().__init__("memory://")
        counter = HitCounter("sliding", max_window_s=1e7)
        counter.record_many([("/a", 1e9 + i) for i in range(10)])
        whole = encode(to_document(counter, compact=True))
        half = json.loads(whole)
        half["metrics"]["total_hits"] = 4  # the batch's data landed, its metrics not yet
        self.reads = [json.dumps(half).encode()] * torn + [whole]
        self.reads_may_straddle = straddle

    def load(self) -> bytes | None:
        """The next read's bytes."""
        return self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]

    def load_scoped(self, scope: object) -> bytes | None:
        """A scoped read is the whole read here."""
        return self.load()


@pytest.mark.parametrize("load", [load_counter, load_answering])
def test_a_read_that_caught_a_batch_half_way_reads_again(load: object) -> None:
    store = HalfBatchStore(torn=2, straddle=True)
    state = load(store)  # type: ignore[operator]
    assert state.metrics.total_hits == 10
    assert state.query("/a", 1e8).answer.count == 10


@pytest.mark.parametrize("load", [load_counter, load_answering])
def test_parts_that_keep_disagreeing_are_a_damaged_state(load: object) -> None:
    with pytest.raises(StateError, match="more than the 4 ever recorded"):
        load(HalfBatchStore(torn=10, straddle=True))  # type: ignore[operator]


@pytest.mark.parametrize("load", [load_counter, load_answering])
def test_a_store_whose_reads_are_whole_is_not_read_again(load: object) -> None:
    with pytest.raises(StateError, match="more than the 4 ever recorded"):
        load(HalfBatchStore(torn=1, straddle=False))  # type: ignore[operator]

"""The parts of `ehist`: one endpoint's buffer and buckets, and their saved form, checked."""

from __future__ import annotations

import math
from collections import deque
from itertools import pairwise

import msgspec

from hitcount.errors import StateError
from hitcount.model.hits import MAX_TS

#: Largest bucket size accepted from a saved state.
_MAX_SIZE = 2**62


class Endpoint:
    """One endpoint: an exact buffer of recent hits and the histogram of older ones."""

    __slots__ = ("buffer", "classes", "expired", "head")

    def __init__(self, expired: list[float]) -> None:
        #: Sorted timestamps; the live part is `buffer[head:]` (the rest awaits compaction).
        self.buffer: list[float] = []
        self.head = 0
        #: `classes[j]`: the newest timestamps of the buckets of size 2**j, oldest first.
        self.classes: list[deque[float]] = []
        #: Timestamps of buckets expired while recording, reported by `prune` (shared list).
        self.expired = expired

    def frontier(self) -> float | None:
        """The newest timestamp in the histogram (None when it is empty)."""
        for bucket_ts in self.classes:
            if bucket_ts:
                return bucket_ts[-1]
        return None

    def live(self) -> list[float]:
        """The buffered timestamps, sorted."""
        return self.buffer[self.head :]

    def buckets(self) -> list[tuple[float, int]]:
        """`(newest timestamp, size)` of every bucket, oldest first."""
        return [
            (ts, 1 << size_log)
            for size_log in range(len(self.classes) - 1, -1, -1)
            for ts in self.classes[size_log]
        ]

    def ends(self) -> tuple[float, float]:
        """The newest hit of the oldest bucket (else the oldest buffered), and the newest."""
        live, full = self.live(), [c for c in self.classes if c]
        return (full[-1][0] if full else live[0]), (live[-1] if live else full[0][-1])

    def is_empty(self) -> bool:
        """Nothing buffered and no bucket."""
        return self.head == len(self.buffer) and not any(self.classes)


class EndpointState(msgspec.Struct, forbid_unknown_fields=True):
    """One endpoint as saved: `(newest timestamp, size)` buckets, oldest first, and the buffer."""

    buckets: list[tuple[float, int]]
    buffer: list[float]


class EHistState(msgspec.Struct, forbid_unknown_fields=True):
    """The saved state: every endpoint's buckets and buffer."""

    endpoints: dict[str, EndpointState]


def checked_endpoint(entry: EndpointState, endpoint: str, per_size: int) -> Endpoint:
    """One endpoint of a saved state, checked: timestamps, order, sizes, the DGIM invariant."""

    def bad(reason: str) -> StateError:
        return StateError(f"invalid ehist state: {endpoint!r}: {reason}")

    stamps = [ts for ts, _ in entry.buckets] + entry.buffer
    if any(not (math.isfinite(ts) and 0 <= ts <= MAX_TS) for ts in stamps):
        raise bad("timestamp out of range")
    if any(a > b for a, b in pairwise(stamps)):
        raise bad("timestamps out of order")
    state = Endpoint([])
    previous_size = _MAX_SIZE
    for ts, size in entry.buckets:
        if not (0 < size <= previous_size and size & (size - 1) == 0):
            raise bad(f"bucket size {size} is not a power of two at most the older one's")
        previous_size = size
        size_log = size.bit_length() - 1
        while len(state.classes) <= size_log:
            state.classes.append(deque())
        state.classes[size_log].append(ts)
    counts = [len(same) for same in state.classes]
    if any(count > per_size for count in counts):
        raise bad(f"more than {per_size} buckets of one size")
    if any(count < per_size - 1 for count in counts[:-1]):
        raise bad(f"fewer than {per_size - 1} buckets of a size below the largest")
    state.buffer = list(entry.buffer)
    return state

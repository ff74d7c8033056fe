"""Batches reduced to what a strategy keeps, in the worker that decoded them.

A strategy may offer a `Reducer` (`Strategy.reducer()`): a small picklable value that a
worker process applies to its range's hits (`reduce(codes, stamps)`): bucket counts for
`fixed` (and for `tiered`, on its fine grid: each tier regroups them), hit counts for
`morris`, timestamps sorted per endpoint for `sliding`. The result
travels back with the columns; `HitCounter.record_columns` hands it to
`Strategy.record_reduced` when no hit of the batch is late (and no endpoint cap renames
endpoints), so the parent only merges. Otherwise the columns are recorded hit by hit as
before, which keeps lateness across range boundaries exact. Each result names the reducer
that made it, and a strategy takes only what its own reducer would make.

numpy is imported inside the functions: `query` never loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Protocol

import msgspec

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Largest `endpoints * bucket span` folded into one int64 key (else a two-key sort).
_KEY_LIMIT = 1 << 62
#: Up to this many (endpoint, bucket) cells (or 4 a hit) are counted with one `bincount`.
_DENSE_CELLS = 1 << 16


class Reducer(Protocol):
    """What a worker applies to a batch of on-time-or-not hits: `names[codes[i]]` at `stamps[i]`."""

    def reduce(self, codes: npt.NDArray[np.integer], stamps: npt.NDArray[np.float64]) -> object:
        """The batch reduced; the parent uses it only when none of its hits is late."""


def _run_starts(codes: npt.NDArray[np.integer]) -> npt.NDArray[np.intp]:
    """Where each run of equal codes starts in a grouped array."""
    import numpy as np

    boundary = np.ones(len(codes), dtype=bool)
    np.not_equal(codes[1:], codes[:-1], out=boundary[1:])
    return np.flatnonzero(boundary)


def _pair_starts(
    codes: npt.NDArray[np.integer], buckets: npt.NDArray[np.integer]
) -> npt.NDArray[np.intp]:
    """Where each run of equal `(code, bucket)` pairs starts in arrays grouped by both."""
    import numpy as np

    first = np.ones(len(codes), dtype=bool)
    first[1:] = (codes[1:] != codes[:-1]) | (buckets[1:] != buckets[:-1])
    return np.flatnonzero(first)


def _runs(codes: npt.NDArray[np.integer]) -> Iterator[tuple[int, int, int]]:
    """`(code, start, end)` of each run of equal codes in a grouped array."""
    if not len(codes):
        return
    starts = _run_starts(codes).tolist()
    ends = [*starts[1:], len(codes)]
    values = codes[starts].tolist()
    yield from zip(values, starts, ends, strict=True)


class BucketCounts(msgspec.Struct, frozen=True):
    """Hits per (endpoint, bucket), grouped by endpoint code, buckets ascending."""

    made_by: BucketReducer
    codes: npt.NDArray[np.int64]
    buckets: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]

    def hits(self) -> int:
        """How many hits the counts hold."""
        return int(self.counts.sum())

    def merge_into(self, tables: MutableMapping[str, dict[int, int]], names: Sequence[str]) -> int:
        """Add the counts to per-endpoint `bucket -> count` tables; the lowest bucket added."""
        return self.add_to(lambda name: tables.setdefault(name, {}), names)

    def add_to(self, table_of: Callable[[str], dict[int, int]], names: Sequence[str]) -> int:
        """Add the counts to the `bucket -> count` table `table_of` gives for each endpoint
        name; the lowest bucket added."""  # noqa: D205, D209
        buckets, counts = self.buckets.tolist(), self.counts.tolist()
        for code, start, end in _runs(self.codes):
            table = table_of(names[code])
            run = buckets[start:end]
            if table.keys().isdisjoint(run):  # the usual run: buckets new to the endpoint
                table.update(zip(run, counts[start:end], strict=True))
                continue
            for bucket, count in zip(run, counts[start:end], strict=True):  # some held
                table[bucket] = table.get(bucket, 0) + count
        return int(self.buckets.min())

    def regrouped(self, first: int | None, step: int) -> BucketCounts:
        """The counts of buckets `first` and later (None: all), `step` of them to one bucket
        (`j // step`): a coarser grid's counts, as `tiered` keeps them."""  # noqa: D205, D209
        import numpy as np

        codes, buckets, counts = self.codes, self.buckets, self.counts
        if first is not None and len(buckets) and buckets.min() < first:
            keep = buckets >= first
            codes, buckets, counts = codes[keep], buckets[keep], counts[keep]
        if step == 1 or not len(codes):
            return BucketCounts(self.made_by, codes, buckets, counts)
        buckets = buckets // step  # still ascending within each endpoint's run
        starts = _pair_starts(codes, buckets)
        return BucketCounts(
            self.made_by, codes[starts], buckets[starts], np.add.reduceat(counts, starts)
        )


class BucketReducer(msgspec.Struct, frozen=True):
    """Counts per bucket of `width_s` seconds: `ceil(ts / w) - 1`, or `floor` for `[lo, hi)`."""

    width_s: float
    closed_right: bool

    def buckets_of(self, stamps: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The bucket of every timestamp (as a float, with the strategy's own division)."""
        import numpy as np

        w = self.width_s
        if self.closed_right:  # as `FixedWindow.bucket_of`, element by element
            j = np.ceil(stamps / w) - 1
            return j - (j * w >= stamps) + ((j + 1) * w < stamps)
        j = np.floor(stamps / w)
        return j - (j * w > stamps) + ((j + 1) * w <= stamps)

    def reduce(
        self, codes: npt.NDArray[np.integer], stamps: npt.NDArray[np.float64]
    ) -> BucketCounts:
        """One sort of (endpoint, bucket) keys; their counts."""
        import numpy as np

        if not len(stamps):
            empty = np.zeros(0, dtype=np.int64)
            return BucketCounts(self, empty, empty, empty)
        buckets = self.buckets_of(stamps).astype(np.int64)
        lowest = int(buckets.min())
        span = int(buckets.max()) - lowest + 1
        wide = codes.astype(np.int64)
        cells = span * (int(wide.max()) + 1)
        if cells <= max(4 * len(stamps), _DENSE_CELLS):  # dense: count every cell
            counts = np.bincount(wide * span + (buckets - lowest), minlength=cells)
            keys = np.flatnonzero(counts)
            return BucketCounts(self, keys // span, keys % span + lowest, counts[keys])
        if cells < _KEY_LIMIT:
            keys, counts = np.unique(wide * span + (buckets - lowest), return_counts=True)
            return BucketCounts(self, keys // span, keys % span + lowest, counts.astype(np.int64))
        order = np.lexsort((buckets, wide))
        wide, buckets = wide[order], buckets[order]
        starts = _pair_starts(wide, buckets)
        counts = np.diff(np.append(starts, len(wide))).astype(np.int64)
        return BucketCounts(self, wide[starts], buckets[starts], counts)


class HitCounts(msgspec.Struct, frozen=True):
    """Hits per endpoint code (codes with at least one hit, ascending)."""

    made_by: HitReducer
    codes: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]

    def pairs(self) -> Iterator[tuple[int, int]]:
        """`(code, hits)` in code order."""
        yield from zip(self.codes.tolist(), self.counts.tolist(), strict=True)


class HitReducer(msgspec.Struct, frozen=True):
    """Counts hits per endpoint (a strategy without time, such as `morris`)."""

    def reduce(self, codes: npt.NDArray[np.integer], stamps: npt.NDArray[np.float64]) -> HitCounts:
        """One `bincount` of the codes."""
        import numpy as np

        counts = np.bincount(codes.astype(np.int64)) if len(codes) else np.zeros(0, np.int64)
        present = np.flatnonzero(counts)
        return HitCounts(self, present.astype(np.int64), counts[present].astype(np.int64))


class SortedRuns(msgspec.Struct, frozen=True):
    """Timestamps grouped by endpoint code, ascending within each endpoint."""

    made_by: RunReducer
    #: The code of each run, and where it ends in `stamps`.
    codes: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    stamps: npt.NDArray[np.float64]

    def runs(self) -> Iterator[tuple[int, npt.NDArray[np.float64]]]:
        """`(code, its sorted timestamps)` in code order."""
        start = 0
        for code, end in zip(self.codes.tolist(), self.ends.tolist(), strict=True):
            yield code, self.stamps[start:end]
            start = end


class RunReducer(msgspec.Struct, frozen=True):
    """Sorts each endpoint's timestamps (a strategy that keeps them, such as `sliding`)."""

    def reduce(self, codes: npt.NDArray[np.integer], stamps: npt.NDArray[np.float64]) -> SortedRuns:
        """A stable sort by endpoint; by (endpoint, time) when some run is out of order."""
        import numpy as np

        if len(codes) and int(codes.min()) >= 0 and int(codes.max()) < 1 << 16:
            codes = codes.astype(np.uint16)  # same order, but sorted 7x faster than int32
        order = np.argsort(codes, kind="stable")  # a radix sort for 16-bit codes
        grouped, ordered = codes[order].astype(np.int64), stamps[order]
        backwards = ordered[1:] < ordered[:-1]
        if backwards.any() and (backwards & (grouped[1:] == grouped[:-1])).any():
            order = np.lexsort((stamps, codes))  # a late hit: sort each run by time
            grouped, ordered = codes[order].astype(np.int64), stamps[order]
        starts = _run_starts(grouped)
        ends = np.append(starts[1:], len(grouped)).astype(np.int64)[: len(starts)]  # none: []
        return SortedRuns(self, grouped[starts], ends, ordered)

"""Distinct-user sketches in chunks: one endpoint's sketches of `span` buckets in one row.

A chunk holds the register log's own arrays for its pairs (`RegisterLog.packed`'s form):
`buckets` (little-endian int64, increasing), `sizes` (uint32: each pair's entries) and
`entries` (uint32 `dense << 31 | register << 6 | rank`, increasing within a pair), plus how
many sketches it holds and the bytes of their `HyperLogLog.to_bytes()`. A whole save writes
these arrays as they are, without encoding one sketch; reading a chunk back gives each
sketch's `to_bytes()`, as a row of its own would hold.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from hitcount.sketches.hll import dense_header, sparse_limit
from hitcount.sketches.hll_bytes import dense_size
from hitcount.sketches.packed_log import DENSE
from hitcount.sketches.registers import low_words
from hitcount.sketches.sketchlog import RegisterLog

if TYPE_CHECKING:
    from hitcount.sketches.distinct import DistinctTracker

#: `(endpoint, first bucket of the chunk's span, last bucket held, sketches, bytes of their
#: to_bytes(), buckets, sizes, entries)`.
ChunkRow = tuple[str, int, int, int, int, bytes, bytes, bytes]


def encoded_lengths(
    precision: int, sizes: npt.NDArray[np.int64], firsts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Each pair's `to_bytes()` length from its entry count and first entry (as the log's
    layout: sparse at 25, sparse at p, or dense)."""  # noqa: D205, D209
    head = len(dense_header(precision))
    at_p = (firsts & DENSE) != 0
    dense = sizes > sparse_limit(precision, precision)
    return np.where(
        at_p,
        np.where(dense, dense_size(precision), head + 4 + 3 * sizes),
        head + 4 + 4 * sizes,
    ).astype(np.int64)


def chunk_rows(tracker: DistinctTracker, span: int) -> list[ChunkRow]:
    """Every sketch of the tracker in chunks of `span` buckets per endpoint, in key order."""
    log = tracker._bulk(create=True)
    assert log is not None
    keys = log.compact()
    if not len(keys):
        return []
    pair_ids, starts = log._runs(keys)
    sizes = np.diff(np.append(starts, len(keys)))
    all_endpoints, all_buckets = log._pairs.arrays()
    names = log._pairs.names()
    ranks = np.zeros(len(names), dtype=np.int64)
    ranks[np.argsort(np.array(names, dtype=object))] = np.arange(len(names))
    endpoint_ranks, buckets = ranks[all_endpoints[pair_ids]], all_buckets[pair_ids]
    order = np.lexsort((buckets, endpoint_ranks))
    sizes, starts, buckets = sizes[order], starts[order], buckets[order]
    endpoint_ranks, pair_ids = endpoint_ranks[order], pair_ids[order]
    at = np.cumsum(sizes) - sizes
    entries32 = low_words(keys, starts, sizes)  # each key's low 32 bits, the runs in order
    lengths = encoded_lengths(log.precision, sizes, entries32[at].astype(np.int64))
    group = np.floor_divide(buckets, span)
    cuts = np.flatnonzero((np.diff(endpoint_ranks) != 0) | (np.diff(group) != 0)) + 1
    bounds = [0, *cuts.tolist(), len(buckets)]
    starts_at = np.array(bounds[:-1])
    offsets = np.append(at, len(entries32))[bounds].tolist()  # of each chunk's entries
    by_rank = np.argsort(ranks)
    chunk_names = [names[i] for i in by_rank[endpoint_ranks[starts_at]].tolist()]
    firsts = (group[starts_at] * span).tolist()
    lasts = buckets[np.array(bounds[1:]) - 1].tolist()
    totals = np.add.reduceat(lengths, starts_at).tolist()  # every chunk holds a sketch
    # whole arrays as bytes once, then sliced: cheaper than a numpy slice per chunk
    wide, narrow = buckets.astype("<i8").tobytes(), sizes.astype("<u4").tobytes()
    words = entries32.tobytes()
    return [
        (name, first, last, b - a, total, wide[8 * a : 8 * b], narrow[4 * a : 4 * b],
         words[4 * low : 4 * high])
        for (a, b), (low, high), name, first, last, total in zip(
            pairwise(bounds), pairwise(offsets), chunk_names, firsts, lasts, totals, strict=True
        )
    ]  # fmt: skip


def chunk_sketches(
    precision: int, chunks: Sequence[tuple[str, bytes, bytes, bytes]]
) -> list[tuple[str, int, bytearray]]:
    """`(endpoint, bucket, to_bytes())` of every sketch of `chunks` (`(endpoint, buckets,
    sizes, entries)` each), checked as a packed state is.

    Raises:
        ValueError: damaged arrays (lengths, order, registers or ranks out of range, a pair
            twice).
    """  # noqa: D205
    names: list[str] = []
    numbers: dict[str, int] = {}
    pair_endpoints: list[npt.NDArray[np.uint32]] = []
    for endpoint, buckets, _, _ in chunks:
        if not isinstance(buckets, bytes) or len(buckets) % 8:
            raise ValueError(f"a distinct-users chunk of {endpoint} has a partial bucket")
        number = numbers.setdefault(endpoint, len(names))
        if number == len(names):
            names.append(endpoint)
        pair_endpoints.append(np.full(len(buckets) // 8, number, dtype="<u4"))
    if not chunks:
        return []
    packed = {
        "endpoints": names,
        "pair_endpoints": _text(np.concatenate(pair_endpoints).tobytes()),
        "pair_buckets": _text(b"".join(chunk[1] for chunk in chunks)),
        "pair_sizes": _text(b"".join(_blob(chunk[2]) for chunk in chunks)),
        "entries": _text(b"".join(_blob(chunk[3]) for chunk in chunks)),
    }
    return RegisterLog.from_packed(precision, packed).byte_rows()


def _blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("a distinct-users chunk's arrays must be BLOBs")
    return value


def _text(raw: bytes) -> str:
    return b64encode(raw).decode("ascii")

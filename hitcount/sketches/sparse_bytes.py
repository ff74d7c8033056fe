"""Sparse sketches' bytes laid out for many sketches at once (`RegisterLog`'s encoding).

Sparse entries are written as one block into the bytes a mask marks, in runs per sketch,
not one index per byte: a few passes over the entries, whatever their number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from hitcount.sketches.hll import SPARSE_PRECISION
from hitcount.sketches.registers import RANK_BITS

_SPARSE_MASK = (1 << SPARSE_PRECISION) - 1


def sparse_entries(keys: npt.NDArray[np.int64], kinds: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """The bytes of sparse entries, in order: big-endian `register << 6 | rank` in 4 bytes
    (kind 0, precision 25) or register in 2 and rank in 1 (kind 1, precision p)."""  # noqa: D205, D209
    low = (((keys >> RANK_BITS) & _SPARSE_MASK) << 8) | (keys & 63)
    value = np.where(kinds == 0, keys & 0x7FFFFFFF, low).astype(">u4")
    quads = value.view(np.uint8).reshape(-1, 4)
    if not bool((kinds == 1).any()):
        return quads.reshape(-1)
    keep = np.ones(quads.shape, dtype=np.bool_)
    keep[kinds == 1, 0] = False
    return quads[keep]


def sparse_bytes(
    first: npt.NDArray[np.int64],
    kind: npt.NDArray[Any],
    sizes: npt.NDArray[np.int64],
    total: int,
) -> npt.NDArray[np.bool_]:
    """Which of `total` bytes hold sparse entries: each sparse pair's `sizes` entries of
    4 (kind 0) or 3 bytes from `first` on (runs, not one index per byte)."""  # noqa: D205, D209
    span = np.where(kind < 2, np.where(kind == 0, 4, 3) * sizes, 0)
    ends = first + span
    runs = np.empty(2 * len(sizes) + 1, dtype=np.int64)
    runs[0:-1:2] = first - np.concatenate(([0], ends[:-1]))
    runs[1:-1:2] = span
    runs[-1] = total - (int(ends[-1]) if len(ends) else 0)
    flags = np.zeros(len(runs), dtype=np.bool_)
    flags[1::2] = True
    return np.repeat(flags, runs)

"""One sketch's `HyperLogLog.to_bytes()` from its register log entries, in pure Python.

The entries are a pair's run of a packed log (`sketch_chunks.py`): uint32 `dense << 31 |
register << 6 | rank`, increasing. A query reading a few chunked sketches lays them out here
without loading numpy (the bulk layout, `RegisterLog.byte_rows`, needs it); the layout is
the same byte for byte (tested against it).
"""

from __future__ import annotations

import sys
from array import array

from hitcount.sketches.hll_bytes import dense_header, dense_size, pack6, sparse_header
from hitcount.sketches.hll_math import SPARSE_PRECISION, sparse_limit

_DENSE = 1 << 31
_SPARSE_MASK = (1 << SPARSE_PRECISION) - 1


def entry_bytes(precision: int, entries: array[int]) -> bytes:
    """`to_bytes()` of the sketch whose log entries are `entries` (one pair's run).

    Raises:
        ValueError: no entries, a register out of range for a dense sketch.
    """
    if not entries:
        raise ValueError("a distinct-users sketch with no entries")
    count = len(entries)
    if not entries[0] & _DENSE:  # sparse at precision 25: each entry as a big-endian uint32
        body = array("I", entries)
        if sys.byteorder == "little":
            body.byteswap()
        return sparse_header(precision, count) + body.tobytes()
    registers = [(entry >> 6) & _SPARSE_MASK for entry in entries]
    if registers[-1] >= 1 << precision:
        raise ValueError("a distinct-users register out of range")
    if count <= sparse_limit(precision, precision):  # the old sparse form at precision p
        layout = bytearray(3 * count)
        layout[0::3] = bytes(register >> 8 for register in registers)
        layout[1::3] = bytes(register & 255 for register in registers)
        layout[2::3] = bytes(entry & 63 for entry in entries)
        return sparse_header(precision, count, high=False) + bytes(layout)
    dense = bytearray(1 << precision)
    for register, entry in zip(registers, entries, strict=True):
        dense[register] = entry & 63
    return dense_header(precision) + pack6(dense)


def encoded_length(precision: int, count: int, first: int) -> int:
    """The `to_bytes()` length of a sketch of `count` entries whose first is `first`."""
    if not first & _DENSE:
        return len(dense_header(precision)) + 4 + 4 * count
    if count <= sparse_limit(precision, precision):
        return len(dense_header(precision)) + 4 + 3 * count
    return dense_size(precision)

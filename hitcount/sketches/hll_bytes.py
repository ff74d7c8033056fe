"""The saved form of a HyperLogLog sketch: header, then sparse entries or dense registers.

`HLL1`, the precision and a kind byte, then:

- kind 2, sparse at precision 25: a `>I` count, then `>I` entries `index << 6 | rank`;
- kind 3, dense: the `2^p` registers at 6 bits each (a rank is at most 61), four registers
  in three bytes, big-endian: `3 * 2^p / 4` bytes (6 KiB at p = 13);
- kind 1, dense at 8 bits a register (written before kind 3; still read);
- kind 0, sparse at precision p: a `>I` count, then `>HB` entries (written before kind 2).

Packing and unpacking use byte translation tables and slices, not a loop per register, so
they stay fast without numpy (which `query` never imports).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy only on the batch path
    import numpy as np
    import numpy.typing as npt

MAGIC = b"HLL1"
SPARSE, DENSE_8, SPARSE_HIGH, DENSE_6 = 0, 1, 2, 3
HEADER = struct.Struct(">4sBB")  # magic, precision, kind


def _table(function: Callable[[int], int]) -> bytes:
    """A `bytes.translate` table applying `function` to each byte value."""
    return bytes(function(value) & 255 for value in range(256))


_UP2 = _table(lambda v: v << 2)
_DOWN2, _DOWN4, _DOWN6 = (
    _table(lambda v: v >> 2),
    _table(lambda v: v >> 4),
    _table(lambda v: v >> 6),
)
_LOW6 = _table(lambda v: v & 63)
_LOW2_UP4, _LOW2_UP6 = _table(lambda v: (v & 3) << 4), _table(lambda v: (v & 3) << 6)
_LOW4_UP2, _LOW4_UP4 = _table(lambda v: (v & 15) << 2), _table(lambda v: (v & 15) << 4)


def sparse_header(precision: int, count: int, *, high: bool = True) -> bytes:
    """The bytes before `count` sparse entries (`high`: at precision 25, `>I` index << 6 |
    rank; else at `precision`, `>HB` index, rank)."""  # noqa: D205, D209
    kind = SPARSE_HIGH if high else SPARSE
    return HEADER.pack(MAGIC, precision, kind) + struct.pack(">I", count)


def dense_header(precision: int, *, packed: bool = True) -> bytes:
    """The bytes before the registers of a dense sketch (`packed`: 6 bits a register)."""
    return HEADER.pack(MAGIC, precision, DENSE_6 if packed else DENSE_8)


def dense_size(precision: int) -> int:
    """Bytes of a dense sketch's saved form (header and 6-bit registers)."""
    return HEADER.size + 3 * (1 << precision) // 4


def _or(left: bytes, right: bytes) -> bytes:
    """Byte-wise OR of two strings whose set bits never overlap (a sum without carries)."""
    total = int.from_bytes(left, "big") + int.from_bytes(right, "big")
    return total.to_bytes(len(left), "big")


def pack6(registers: bytes | bytearray) -> bytes:
    """`registers` (a multiple of 4, each below 64) at 6 bits each, big-endian."""
    data = bytes(registers)
    r0, r1, r2, r3 = data[0::4], data[1::4], data[2::4], data[3::4]
    out = bytearray(3 * len(r0))
    out[0::3] = _or(r0.translate(_UP2), r1.translate(_DOWN4))
    out[1::3] = _or(r1.translate(_LOW4_UP4), r2.translate(_DOWN2))
    out[2::3] = _or(r2.translate(_LOW2_UP6), r3)
    return bytes(out)


def unpack6(body: bytes | memoryview, count: int) -> bytearray:
    """The `count` registers of `pack6` output.

    Raises:
        ValueError: `body` is not `3 * count / 4` bytes long.
    """
    data = bytes(body)
    if len(data) != 3 * count // 4:
        raise ValueError(f"dense HyperLogLog needs {3 * count // 4} bytes, got {len(data)}")
    b0, b1, b2 = data[0::3], data[1::3], data[2::3]
    registers = bytearray(count)
    registers[0::4] = b0.translate(_DOWN2)
    registers[1::4] = _or(b0.translate(_LOW2_UP4), b1.translate(_DOWN4))
    registers[2::4] = _or(b1.translate(_LOW4_UP2), b2.translate(_DOWN6))
    registers[3::4] = b2.translate(_LOW6)
    return registers


def pack6_rows(
    rows: npt.NDArray[np.intp],
    registers: npt.NDArray[np.int64],
    ranks: npt.NDArray[np.uint8],
    count: int,
    m: int,
) -> npt.NDArray[np.uint8]:
    """`pack6` of `count` dense sketches at once: register `registers[i]` of sketch
    `rows[i]` holds `ranks[i]` (the others 0); one row of `3 m / 4` bytes per sketch."""  # noqa: D205, D209
    import numpy as np  # the bulk path already holds numpy

    grid = np.zeros((count, m), dtype=np.uint8)
    grid[rows, registers] = ranks
    quad = grid.reshape(count, m // 4, 4)
    packed = np.empty((count, m // 4, 3), dtype=np.uint8)
    packed[..., 0] = (quad[..., 0] << 2) | (quad[..., 1] >> 4)
    packed[..., 1] = ((quad[..., 1] & 15) << 4) | (quad[..., 2] >> 2)
    packed[..., 2] = ((quad[..., 2] & 3) << 6) | quad[..., 3]
    return packed.reshape(count, 3 * m // 4)

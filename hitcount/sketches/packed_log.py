"""The keys of a distinct-users log (`RegisterLog`).

A sketch's registers as keys, and the arrays of a packed log (`RegisterLog.packed`) read
back, checked.
"""

from __future__ import annotations

from base64 import b64decode
from binascii import Error as Base64Error
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from hitcount.sketches.hll import SPARSE_PRECISION, HyperLogLog
from hitcount.sketches.registers import RANK_BITS

#: A key's flag for a register at the sketch's precision p (else at the sparse precision).
DENSE = 1 << 31
_SPARSE_MASK = (1 << SPARSE_PRECISION) - 1


def sketch_keys(
    sketch: HyperLogLog, pair: int, precision: int, shift: int
) -> npt.NDArray[np.int64]:
    """The log keys of a sketch's registers under pair number `pair` (shifted by `shift`):
    sparse ones at the sparse precision, else dense at `precision`."""  # noqa: D205, D209
    sparse = sketch.sparse_registers()
    flag = 0 if sketch.sparse_precision > precision and sparse is not None else DENSE
    if sparse is not None:
        indexes = np.fromiter(sparse.keys(), dtype=np.int64, count=len(sparse))
        ranks = np.fromiter(sparse.values(), dtype=np.int64, count=len(sparse))
    else:
        registers = np.frombuffer(sketch.registers(), dtype=np.uint8)
        indexes = np.flatnonzero(registers).astype(np.int64)
        ranks = registers[indexes].astype(np.int64)
    return (pair << shift) | flag | (indexes << RANK_BITS) | ranks


def packed_array(packed: Mapping[str, object], name: str, dtype: str) -> npt.NDArray[np.generic]:
    """The base64 array `name` of `packed` as `dtype` items, checked."""
    text = packed.get(name)
    if not isinstance(text, str):
        raise ValueError(f"packed distinct-users {name} must be a base64 string")
    try:
        raw = b64decode(text, validate=True)
    except (Base64Error, ValueError) as err:
        raise ValueError(f"packed distinct-users {name} is not valid base64") from err
    width = np.dtype(dtype).itemsize
    if len(raw) % width:
        raise ValueError(f"packed distinct-users {name} has a partial item")
    return np.frombuffer(raw, dtype=dtype)


def packed_entries(packed: Mapping[str, object], precision: int) -> npt.NDArray[np.int64]:
    """The low 32 bits of each key of a packed log (this form, or registers and ranks at
    precision p from the form before), checked.

    Raises:
        ValueError: a register or rank out of range.
    """  # noqa: D205
    if "entries" in packed:
        entries = packed_array(packed, "entries", "<u4").astype(np.int64)
        dense, ranks = (entries & DENSE) != 0, entries & 63
        registers = (entries >> RANK_BITS) & _SPARSE_MASK
        top = np.where(dense, 65 - precision, 65 - SPARSE_PRECISION)
        if len(entries) and bool(np.any(dense & (registers >= 1 << precision))):
            raise ValueError("packed distinct-users register out of range")
    else:
        registers = packed_array(packed, "registers", "<u2").astype(np.int64)
        ranks = packed_array(packed, "ranks", "u1").astype(np.int64)
        if len(registers) != len(ranks):
            raise ValueError("packed distinct-users registers do not match the pair sizes")
        if len(registers) and int(registers.max()) >= 1 << precision:
            raise ValueError("packed distinct-users register out of range")
        entries = DENSE | (registers << RANK_BITS) | ranks
        top = np.full(len(ranks), 65 - precision)
    if len(ranks) and (int(ranks.min()) < 1 or bool(np.any(ranks > top))):
        raise ValueError("packed distinct-users rank out of range")
    return entries

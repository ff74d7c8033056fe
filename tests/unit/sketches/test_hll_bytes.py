"""Dense HyperLogLog registers saved at 6 bits each (kind 3), and the 8-bit form before.

The oracle for the packing is the registers written as one string of 6-bit binary digits,
read as a big-endian number: what "four registers in three bytes, big-endian" means.
"""

from __future__ import annotations

import base64
import sys
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.sketches.distinct import DistinctTracker
from hitcount.sketches.hll import HyperLogLog
from hitcount.sketches.hll_bytes import pack6, pack6_rows, unpack6
from hitcount.sketches.hll_math import maximum


def _bit_string(registers: bytes) -> bytes:
    bits = "".join(format(value, "06b") for value in registers)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 12).flatmap(lambda p: st.binary(min_size=1 << p, max_size=1 << p)))
def test_six_bit_packing_is_the_registers_bit_string(raw: bytes) -> None:
    registers = bytes(value % 62 for value in raw)  # a rank is at most 61
    packed = pack6(registers)
    assert packed == _bit_string(registers)
    assert bytes(unpack6(packed, len(registers))) == registers
    rows = np.repeat(np.arange(2), len(registers))
    both = np.frombuffer(registers * 2, dtype=np.uint8)
    grid = pack6_rows(rows, np.tile(np.arange(len(registers)), 2), both, 2, len(registers))
    assert grid.tobytes() == packed * 2


@settings(max_examples=40, deadline=None)
@given(st.integers(4, 16), st.integers(0, 10**6))
def test_a_dense_sketch_saves_in_three_quarters_of_the_bytes_and_loads_back(
    precision: int, seed: int
) -> None:
    sketch = HyperLogLog(precision)
    # past the switch by a margin: two users may share a precision-25 register (at p = 15,
    # 2^13 users hold about one such pair), so limit + 1 users can still be sparse
    sketch.add_many(f"{seed}:{i}" for i in range((1 << precision) // 4 + 64 + seed % 500))
    assert not sketch.is_sparse
    data = sketch.to_bytes()
    assert data[:6] == b"HLL1" + bytes([precision, 3])
    assert len(data) == 6 + 3 * sketch.m // 4 == sketch.memory_bytes()
    again = HyperLogLog.from_bytes(data)
    assert again.registers() == sketch.registers() and again.estimate() == sketch.estimate()
    old = HyperLogLog.from_bytes(b"HLL1" + bytes([precision, 1]) + sketch.registers())
    assert old == sketch and old.to_bytes() == data  # the 8-bit form still loads
    with pytest.raises(ValueError, match="needs"):
        HyperLogLog.from_bytes(data[:-1])
    too_high = bytearray(sketch.registers())
    too_high[0] = 66 - precision  # no 64-bit hash gives this rank
    with pytest.raises(ValueError, match="register above"):
        HyperLogLog.from_bytes(b"HLL1" + bytes([precision, 3]) + pack6(too_high))


def test_bulk_sketches_encode_as_the_sketches_do() -> None:
    """The register log lays dense sketches out at 6 bits too, byte for byte."""
    tracker = DistinctTracker(precision=6)
    users = [f"u{i}" for i in range(300)]
    tracker.add_columns(
        ["/a", "/b"],
        np.array([i % 2 for i in range(300)], dtype=np.int32),
        np.array([60.0 * (i % 3) + 1 for i in range(300)]),
        users,
    )
    rows = tracker.sketch_rows()
    assert rows
    for *_, text in rows:
        sketch = HyperLogLog.from_base64(text)
        assert sketch.to_base64() == text
        if not sketch.is_sparse:
            assert base64.b64decode(text)[5] == 3
    assert any(not HyperLogLog.from_base64(text).is_sparse for *_, text in rows)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(4, 12).flatmap(
        lambda p: st.tuples(*[st.binary(min_size=1 << p, max_size=1 << p)] * 2)
    )
)
def test_merging_without_numpy_is_the_register_wise_maximum(pair: tuple[bytes, bytes]) -> None:
    """`query` merges dense sketches without numpy: the big-integer lanes must give `max`."""
    left, right = (bytearray(value % 62 for value in raw) for raw in pair)
    if pair[0][0] % 3 == 0:
        right = bytearray(left)  # equal registers take either side
    with patch.dict(sys.modules, {"numpy": None}):
        merged = maximum(left, right)
    assert merged == bytearray(map(max, left, right))

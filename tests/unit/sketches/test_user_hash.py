"""The C user hash (`_reduce.user_registers`, BLAKE2b from RFC 7693) against hashlib."""

from __future__ import annotations

from hashlib import blake2b

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.sketches import registers
from hitcount.sketches.hll import SPARSE_PRECISION

native = pytest.importorskip("hitcount.sketches._reduce")


def oracle(name: str, precision: int) -> int:
    """`index << 6 | rank` straight from hashlib's BLAKE2b (8-byte digest, big-endian)."""
    raw = blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    hashed = int.from_bytes(raw, "big")
    free_bits = 64 - precision
    rank = free_bits + 1 - (hashed & ((1 << free_bits) - 1)).bit_length()
    return (hashed >> free_bits) << 6 | rank


# Lengths around BLAKE2b's 128-byte blocks, any code point (lone surrogates included).
NAMES = st.lists(
    st.one_of(
        st.text(st.characters(codec=None), max_size=300),
        st.integers(0, 3).flatmap(
            lambda k: st.text("aé", min_size=max(0, 128 * k - 2), max_size=128 * k + 2)
        ),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(NAMES, st.integers(4, 57))
def test_c_hash_matches_hashlib(names: list[str], precision: int) -> None:
    got = np.frombuffer(native.user_registers(names, precision), dtype=np.int64)
    assert got.tolist() == [oracle(name, precision) for name in names]


@settings(max_examples=100, deadline=None)
@given(NAMES, st.sampled_from([4, 12, 14, SPARSE_PRECISION]))
def test_c_and_python_paths_agree(names: list[str], precision: int) -> None:
    got = registers.user_registers(names, precision)
    assert got.dtype == np.int64
    assert got.tolist() == registers.python_user_registers(names, precision).tolist()


def test_block_boundaries_by_hand() -> None:
    names = ["", "u42", "x" * 127, "x" * 128, "x" * 129, "é" * 64, "\ud800", "a\udfffb" * 50]
    got = native.user_registers(names, SPARSE_PRECISION)
    assert np.frombuffer(got, dtype=np.int64).tolist() == [
        oracle(name, SPARSE_PRECISION) for name in names
    ]


@pytest.mark.parametrize("bad", [3, 58, -1])
def test_precision_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="precision"):
        native.user_registers(["u"], bad)


def test_non_strings_are_refused() -> None:
    with pytest.raises(TypeError, match="str"):
        native.user_registers(["u", 3], 12)

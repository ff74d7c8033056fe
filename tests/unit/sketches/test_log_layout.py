"""The C helpers of a register log's compaction and save layout against plain Python.

`_reduce.last_per_register` compacts sorted keys in place and `_reduce.low_words` lays the
runs of a save out; each is checked against a brute-force Python oracle on drawn keys, and
the numpy fallbacks (no C compiler) against the same oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.sketches import registers

native = pytest.importorskip("hitcount.sketches._reduce")

# keys `pair << 32 | dense << 31 | register << 6 | rank` over few pairs and registers, so
# runs of one register are common; pairs up to 2**31 reach the sign bit of the key
KEY = st.builds(
    lambda pair, dense, register, rank: pair << 32 | dense << 31 | register << 6 | rank,
    st.sampled_from([0, 1, 7, 2**20, 2**31 - 1]),
    st.integers(0, 1),
    st.integers(0, 5) | st.integers(0, 2**25 - 1),
    st.integers(0, 63),
)


def last_of_each_register(keys: list[int]) -> list[int]:
    """The oracle: of sorted keys, the last key of each run of equal `key >> 6`."""
    return [k for i, k in enumerate(keys) if i + 1 == len(keys) or keys[i + 1] >> 6 != k >> 6]


@settings(max_examples=300, deadline=None)
@given(st.lists(KEY, max_size=200), st.booleans())
def test_compaction_keeps_the_largest_rank_of_each_register(keys: list[int], c: bool) -> None:
    ordered = sorted(keys)
    array = np.array(ordered, dtype=np.int64)
    if not c:
        assert registers.largest_rank_per_register(array).tolist() == (
            last_of_each_register(ordered)
        )
        return
    kept = native.last_per_register(array)
    assert array[:kept].tolist() == last_of_each_register(ordered)
    compacted = registers.largest_rank_per_register(np.array(ordered), in_place=True)
    assert compacted.tolist() == last_of_each_register(ordered)


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    """Keys, and runs over them (start, size) in any order, some empty."""
    keys = draw(st.lists(KEY, max_size=60))
    n = len(keys)
    spans = st.integers(0, n).flatmap(lambda a: st.tuples(st.just(a), st.integers(0, n - a)))
    chosen = draw(st.lists(spans, max_size=12))
    return keys, [a for a, _ in chosen], [b for _, b in chosen]


@settings(max_examples=300, deadline=None)
@given(drawn=runs(), c=st.booleans())
def test_low_words_lay_the_runs_out_in_order(
    drawn: tuple[list[int], list[int], list[int]], c: bool
) -> None:
    keys, starts, sizes = drawn
    expected = [k & 0xFFFFFFFF for a, b in zip(starts, sizes, strict=True) for k in keys[a : a + b]]
    with pytest.MonkeyPatch.context() as patched:
        if not c:
            patched.setattr(registers, "native", None)
        got = registers.low_words(
            np.array(keys, dtype=np.int64),
            np.array(starts, dtype=np.int64),
            np.array(sizes, dtype=np.int64),
        )
    assert got.dtype == np.dtype("<u4")
    assert got.tolist() == expected


@pytest.mark.parametrize(("starts", "sizes"), [([-1], [1]), ([0], [4]), ([3], [2]), ([0, 1], [1])])
def test_low_words_refuse_runs_outside_the_keys(starts: list[int], sizes: list[int]) -> None:
    keys = np.arange(3, dtype=np.int64)
    with pytest.raises(ValueError, match=r"run lies outside|as many starts"):
        native.low_words(keys, np.array(starts, dtype=np.int64), np.array(sizes, dtype=np.int64))


def test_compaction_refuses_what_is_not_int64() -> None:
    with pytest.raises(ValueError, match="int64"):
        native.last_per_register(bytearray(12))

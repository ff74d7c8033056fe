"""`fixed`'s compact state: bucket tables as little-endian int64 pairs, by numpy or by array.

Oracle: `struct.pack` of the pairs sorted by hand; tables drawn on both sides of the size
where numpy takes over, and the compact state loads back to the same buckets.
"""

from __future__ import annotations

import base64
import json
import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.model.packed import Base64Value
from hitcount.strategies import create_strategy
from hitcount.strategies.fixed import _pair_bytes


@st.composite
def tables(draw: st.DrawFn) -> dict[int, int]:
    """A bucket table of a drawn size (around where numpy takes over), values from a seed."""
    size = draw(st.sampled_from([0, 1, 7, 255, 256, 257, 1000]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    return {rng.randint(-1, 4 * 10**9): rng.randint(1, 2**40) for _ in range(size)}


def _text(value: Base64Value) -> str:
    return "".join(piece.decode() for piece in value.pieces())


@settings(max_examples=120, deadline=None)
@given(tables())
def test_pair_bytes_are_the_sorted_pairs_little_endian(buckets: dict[int, int]) -> None:
    flat = [value for pair in sorted(buckets.items()) for value in pair]
    expected = struct.pack(f"<{len(flat)}q", *flat)
    assert base64.b64decode(_text(_pair_bytes(buckets))) == expected


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["/a", "/b", "/c"]), tables(), max_size=3))
def test_compact_state_loads_back_to_the_same_buckets(tables: dict[str, dict[int, int]]) -> None:
    source = create_strategy("fixed", window_s=60, retention_s=10**9)
    source._buckets = {name: dict(table) for name, table in tables.items() if table}  # type: ignore[attr-defined]
    compact = source.to_compact_state()
    document = {
        key: {name: _text(value) for name, value in part.items()} if key == "buckets_q" else part
        for key, part in compact.items()
    }
    loaded = create_strategy("fixed", window_s=60, retention_s=10**9)
    loaded.load_state(json.dumps(document).encode())
    assert loaded.to_state() == source.to_state()

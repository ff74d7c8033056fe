"""Pair numbers given a batch at a time equal numbering one pair at a time with a dict."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.sketches.pairs import PairTable

BUCKETS = st.one_of(st.integers(-50, 50), st.integers(-(2**53), 2**53))  # far ones: the dict


@settings(max_examples=80, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.tuples(st.integers(0, 6), BUCKETS), max_size=40), min_size=1, max_size=6
    ),
    shuffle=st.randoms(),
)
def test_batch_numbers_equal_a_dict_in_order_of_arrival(
    batches: list[list[tuple[int, int]]], shuffle: object
) -> None:
    table, oracle = PairTable(), {}  # type: ignore[var-annotated]
    for batch in batches:
        names = [f"/e{i}" for i in range(7)]
        shuffle.shuffle(names)  # type: ignore[attr-defined]  # each batch names them its own way
        codes = np.array([code for code, _ in batch], dtype=np.int64)
        buckets = np.array([bucket for _, bucket in batch], dtype=np.int64)
        got = table.number(names, codes, buckets).tolist()
        expected = [oracle.setdefault((names[c], b), len(oracle)) for c, b in batch]
        assert got == expected
    assert table.pairs == list(oracle)
    assert table.buckets().tolist() == [bucket for _, bucket in oracle]
    again = PairTable()
    assert again.load(list(oracle)) and again.pairs == list(oracle)
    if oracle:
        assert not PairTable().load([*oracle, *list(oracle)[:1]])  # a repeated pair


@settings(max_examples=80, deadline=None)
@given(
    spans=st.lists(
        st.tuples(st.integers(0, 5), st.integers(1, 6), st.integers(-3, 2)), min_size=1, max_size=8
    ),
    endpoints=st.integers(1, 5),
    keep_below=st.one_of(st.none(), st.integers(0, 30)),
    shuffle=st.randoms(),
)
def test_time_ordered_batches_appended_equal_a_dict(
    spans: list[tuple[int, int, int]],
    endpoints: int,
    keep_below: int | None,
    shuffle: object,
) -> None:
    """Batches read in time order (new pairs after every held one: appended) or reaching
    back (merged in), with pairs forgotten between them, number as a dict does."""  # noqa: D205, D209
    table, oracle = PairTable(), {}  # type: ignore[var-annotated]
    start = 0
    for gap, width, back in spans:
        start += gap
        low = max(start + back, 0) if back < 0 else start
        batch = [(c, b) for b in range(low, start + width) for c in range(endpoints)]
        shuffle.shuffle(batch)  # type: ignore[attr-defined]
        names = [f"/e{i}" for i in range(endpoints)]
        codes = np.array([code for code, _ in batch], dtype=np.int64)
        buckets = np.array([bucket for _, bucket in batch], dtype=np.int64)
        got = table.number(names, codes, buckets).tolist()
        assert got == [oracle.setdefault((names[c], b), len(oracle)) for c, b in batch]
        start += width
        if keep_below is not None and len(oracle):  # forget old pairs, renumbered in order
            live = table.buckets() >= keep_below
            table.keep(live)
            oracle = {pair: i for i, pair in enumerate(p for p in oracle if p[1] >= keep_below)}
    assert table.pairs == list(oracle)

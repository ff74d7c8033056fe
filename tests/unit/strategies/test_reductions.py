"""A batch reduced in a worker leaves the state that recording its hits one by one leaves.

Oracles: the strategy fed the same hits with `record` (hit by hit), and for `fixed` bucket
counts computed here by hand with `math.ceil`/`math.floor`. Hypothesis draws the parameters
(window, bucket edges, counters, seed) as well as the hits and how they are cut in batches.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.strategies import create_strategy
from hitcount.strategies.reductions import BucketReducer, HitReducer, RunReducer

NAMES = [f"/e{i}" for i in range(6)]

hits_st = st.lists(
    st.tuples(st.integers(0, len(NAMES) - 1), st.floats(1e9, 1e9 + 5000, allow_nan=False)),
    min_size=1,
    max_size=300,
)


def _batches(hits: list[tuple[int, float]], cuts: list[int]) -> list[list[tuple[int, float]]]:
    """The hits cut into consecutive batches at `cuts` (positions into the list)."""
    edges = sorted({0, len(hits), *(c % (len(hits) + 1) for c in cuts)})
    return [hits[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _arrays(batch: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array([code for code, _ in batch], dtype=np.uint16)
    return codes, np.array([ts for _, ts in batch], dtype=np.float64)


@settings(max_examples=150, deadline=None)
@given(
    hits=hits_st,
    cuts=st.lists(st.integers(0, 400), max_size=4),
    window=st.sampled_from([0.01, 0.25, 1.0, 7.0, 60.0, 3600.0]),  # sparse to dense
    closed_right=st.booleans(),
)
def test_fixed_bucket_counts_equal_hit_by_hit_and_hand_counted_buckets(
    hits: list[tuple[int, float]], cuts: list[int], window: float, closed_right: bool
) -> None:
    reduced = create_strategy("fixed", window_s=window, retention_s=10**9)
    reduced.closed_right = closed_right  # type: ignore[attr-defined]
    one_by_one = create_strategy("fixed", window_s=window, retention_s=10**9)
    one_by_one.closed_right = closed_right  # type: ignore[attr-defined]
    for batch in _batches(hits, cuts):
        made = reduced.reducer()
        assert made is not None
        kept = reduced.record_reduced(NAMES, made.reduce(*_arrays(batch)))
        assert kept == len(batch)
    for code, ts in hits:
        one_by_one.record(NAMES[code], ts)
    assert reduced.to_state() == one_by_one.to_state()
    edge = math.ceil if closed_right else math.floor
    by_hand = Counter((NAMES[c], edge(ts / window) - (1 if closed_right else 0)) for c, ts in hits)
    got = {
        (endpoint, bucket): count
        for endpoint in reduced.endpoints()
        for bucket, count in reduced.bucket_counts(endpoint).items()  # type: ignore[attr-defined]
    }
    assert got == dict(by_hand)


@settings(max_examples=150, deadline=None)
@given(hits=hits_st, cuts=st.lists(st.integers(0, 400), max_size=4), in_order=st.booleans())
def test_sliding_sorted_runs_equal_hit_by_hit(
    hits: list[tuple[int, float]], cuts: list[int], in_order: bool
) -> None:
    """Hits in time order (one stable sort by endpoint) or not (a sort by endpoint and time)."""
    if in_order:
        hits = sorted(hits, key=lambda hit: hit[1])
    reduced = create_strategy("sliding", max_window_s=10**9)
    for batch in _batches(hits, cuts):
        assert reduced.record_reduced(NAMES, RunReducer().reduce(*_arrays(batch))) == len(batch)
    want = {NAMES[c]: sorted(ts for code, ts in hits if code == c) for c, _ in hits}
    got = {name: list(reduced.timestamps(name)) for name in reduced.endpoints()}  # type: ignore[attr-defined]
    assert got == want


@settings(max_examples=100, deadline=None)
@given(
    hits=hits_st,
    cuts=st.lists(st.integers(0, 400), max_size=4),
    base=st.sampled_from([1.1, 1.5, 2.0]),
    counters=st.integers(1, 8),
    seed=st.integers(0, 2**32),
)
def test_morris_hit_counts_draw_what_the_columns_draw(
    hits: list[tuple[int, float]], cuts: list[int], base: float, counters: int, seed: int
) -> None:
    """Same batches, same seed: the reduced counts advance the counters as the columns do."""
    params = {"base": base, "counters": counters, "seed": seed}
    reduced, columns = create_strategy("morris", **params), create_strategy("morris", **params)
    for batch in _batches(hits, cuts):
        assert reduced.record_reduced(NAMES, HitReducer().reduce(*_arrays(batch))) == len(batch)
        columns.record_columns(NAMES, *_arrays(batch))
    assert reduced.to_state() == columns.to_state()
    assert set(reduced.endpoints()) == {NAMES[c] for c, _ in hits}


@settings(max_examples=100, deadline=None)
@given(
    hits=hits_st,
    cuts=st.lists(st.integers(0, 400), max_size=6),
    other_cuts=st.lists(st.integers(0, 400), max_size=6),
    base=st.sampled_from([1.05, 1.5, 2.0]),
    counters=st.integers(1, 8),
    seed=st.integers(0, 2**32),
)
def test_morris_levels_do_not_depend_on_how_the_hits_were_cut_in_batches(
    hits: list[tuple[int, float]],
    cuts: list[int],
    other_cuts: list[int],
    base: float,
    counters: int,
    seed: int,
) -> None:
    """Serial blocks, worker ranges and gzip blocks cut a file differently: same levels."""
    params = {"base": base, "counters": counters, "seed": seed}
    one, other = create_strategy("morris", **params), create_strategy("morris", **params)
    for batch in _batches(hits, cuts):
        one.record_reduced(NAMES, HitReducer().reduce(*_arrays(batch)))
    for batch in _batches(hits, other_cuts):
        other.record_columns(NAMES, *_arrays(batch))
    assert one.to_state() == other.to_state()
    whole = create_strategy("morris", **params)
    whole.record_columns(NAMES, *_arrays(hits))
    assert whole.to_state() == one.to_state()


def test_a_reduction_made_on_another_grid_is_refused() -> None:
    """The parent records the columns instead (None), never counts in the wrong buckets."""
    fixed = create_strategy("fixed", window_s=60)
    other = BucketReducer(30.0, True).reduce(*_arrays([(0, 1e9)]))
    assert fixed.record_reduced(NAMES, other) is None
    assert fixed.record_reduced(NAMES, HitReducer().reduce(*_arrays([(0, 1e9)]))) is None
    assert create_strategy("morris").record_reduced(NAMES, other) is None
    tiered = create_strategy("tiered", fine_s=5.0)
    assert (
        tiered.record_reduced(NAMES, BucketReducer(10.0, True).reduce(*_arrays([(0, 1e9)]))) is None
    )
    assert create_strategy("ehist").reducer() is None
    assert not list(fixed.endpoints())


def test_bucket_counts_of_a_span_too_wide_for_one_key_use_a_two_key_sort() -> None:
    """Millisecond buckets from 1 s to year 9999 and 20,001 endpoints: no int64 key fits."""
    reducer = BucketReducer(0.001, True)
    codes = np.array([20_000, 0, 20_000, 1, 20_000], dtype=np.uint16)
    stamps = np.array([1.0, 2.5e11, 1.0, 3.0, 2.5e11])
    counts = reducer.reduce(codes, stamps)
    got = list(
        zip(counts.codes.tolist(), counts.buckets.tolist(), counts.counts.tolist(), strict=True)
    )
    top = math.ceil(2.5e11 / 0.001) - 1
    assert got == [(0, top, 1), (1, 2999, 1), (20_000, 999, 2), (20_000, top, 1)]


@settings(max_examples=150, deadline=None)
@given(
    hits=st.lists(
        st.tuples(st.integers(0, 70_000), st.floats(1e9, 1e9 + 50, allow_nan=False)), max_size=300
    ),
    dtype=st.sampled_from([np.int32, np.int64, np.uint16]),
    narrow=st.booleans(),
)
def test_sorted_runs_of_wide_codes_are_a_sort_by_code_and_time(
    hits: list[tuple[int, float]], dtype: type[np.integer], narrow: bool
) -> None:
    """Codes as the scanner gives them (int32) or wider than 16 bits: each endpoint's run is
    its timestamps sorted, in code order (oracle: `np.lexsort`)."""  # noqa: D205, D209
    if narrow or dtype is np.uint16:
        hits = [(code % 60_000, ts) for code, ts in hits]
    codes = np.array([code for code, _ in hits], dtype=dtype)
    stamps = np.array([ts for _, ts in hits], dtype=np.float64)
    runs = RunReducer().reduce(codes, stamps)
    order = np.lexsort((stamps, codes))
    assert runs.stamps.tolist() == stamps[order].tolist()
    got = [(code, list(run)) for code, run in runs.runs()]
    want = [
        (code, [ts for _, ts in group])
        for code, group in itertools.groupby(
            zip(codes[order].tolist(), stamps[order].tolist(), strict=True), lambda h: h[0]
        )
    ]
    assert got == want


@st.composite
def _edge_times(draw: st.DrawFn, width: float) -> float:
    """Times on, just beside and far from bucket edges, subnormal ones too."""
    edge = draw(st.integers(0, 10**9)) * width
    return draw(
        st.sampled_from([edge, math.nextafter(edge, math.inf), math.nextafter(edge, -math.inf)])
        | st.floats(0, 4e9, allow_subnormal=True)
        | st.sampled_from([5e-324, 1e-310, 0.1 + 0.2])
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), width=st.sampled_from([3.0, 0.5, 0.1, 7.3, 60.0, 1e-3]), right=st.booleans())
def test_a_hit_lands_in_the_bucket_whose_edges_hold_it(
    data: st.DataObject, width: float, right: bool
) -> None:
    """The edges are the products `j * width` the queries use: a division that rounds across
    an edge (or underflows, 5e-324 / 3 == 0) must not put a hit in the bucket beside."""  # noqa: D205, D209
    stamps = data.draw(st.lists(_edge_times(width).filter(lambda t: t > 0), min_size=1))
    strategy = create_strategy("fixed", window_s=width)
    strategy.closed_right = right  # type: ignore[attr-defined]
    bulk = BucketReducer(width, right).buckets_of(np.array(stamps))
    for ts, in_bulk in zip(stamps, bulk.tolist(), strict=True):
        j = strategy.bucket_of(ts)  # type: ignore[attr-defined]
        assert j == in_bulk
        lo, hi = j * width, (j + 1) * width
        assert (lo < ts <= hi) if right else (lo <= ts < hi)


@settings(max_examples=200, deadline=None)
@given(
    hits=hits_st,
    cuts=st.lists(st.integers(0, 400), max_size=4),
    fine=st.sampled_from([1.0, 2.0, 0.5, 0.3, 7.0]),
    steps=st.tuples(st.sampled_from([2, 3, 5]), st.sampled_from([2, 4])),
    reach=st.floats(2.0, 40.0),
    horizons=st.lists(st.tuples(st.floats(0, 5000), st.booleans()), min_size=4, max_size=4),
)
def test_tiered_fine_bucket_counts_regrouped_per_tier_equal_hit_by_hit(
    hits: list[tuple[int, float]],
    cuts: list[int],
    fine: float,
    steps: tuple[int, int],
    reach: float,
    horizons: list[tuple[float, bool]],
) -> None:
    """Each batch after a prune at a drawn horizon, or a horizon set between fine edges (as a
    swap from `sliding` sets it), where the reduction is refused and the hits are recorded
    instead; hits at or before the horizon are refused either way."""  # noqa: D205, D209
    mid, coarse = fine * steps[0], fine * steps[0] * steps[1]
    params = {"fine_s": fine, "mid_s": mid, "coarse_s": coarse}
    for tier, retention in (("fine", reach * fine), ("mid", 2 * reach * coarse)):
        params[f"{tier}_retention_s"] = retention
    params["coarse_retention_s"] = 4 * reach * coarse
    reduced, one_by_one = create_strategy("tiered", **params), create_strategy("tiered", **params)
    batches = _batches(sorted(hits, key=lambda hit: hit[1]), cuts)
    for batch, (horizon, between) in zip(batches, sorted(horizons), strict=False):
        for strategy in (reduced, one_by_one):
            if between:  # as a swap from `sliding` leaves it: anywhere
                strategy.horizon = max(strategy.horizon, 1e9 + horizon)
            else:
                strategy.prune(1e9 + horizon)  # cuts every tier on its edges
        made = reduced.reducer()
        assert made is not None
        kept = reduced.record_reduced(NAMES, made.reduce(*_arrays(batch)))
        taken = sum(one_by_one.record(NAMES[code], ts) for code, ts in batch)  # late: refused
        if kept is None:  # a horizon between fine edges: the hits themselves
            kept = sum(reduced.record(NAMES[code], ts) for code, ts in batch)
        assert kept == taken
    assert reduced.to_state() == one_by_one.to_state()

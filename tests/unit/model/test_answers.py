"""Estimates are rounded to what their bounds justify: no float noise in any answer."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter
from hitcount.model.answers import DistinctAnswer, WindowAnswer, settled


def test_the_issue_figures_are_settled() -> None:
    assert WindowAnswer(16.999999999992, 16, 18, False).count == 17
    assert WindowAnswer(1.9999999999990001, 0, 3, False).count == 2
    assert WindowAnswer(2.36e-10, 0, 5, False).count == 0
    assert WindowAnswer.exactly(7).count == 7


def test_summed_shares_of_many_endpoints_carry_no_noise() -> None:
    """Ten endpoints, each with one hit in a bucket the window covers a tenth of."""
    counter = HitCounter("fixed", window_s=10)
    for i in range(10):
        counter.record(f"/e{i}", 5.0)
    counter.record("/clock", 10.0)
    answer = counter.query("/e*", 1.0, now=10.0).answer  # (9, 10] covers 1/10 of (0, 10]
    assert (answer.count, answer.low, answer.high) == (1.0, 0, 10)
    tiny = counter.query("/e0", 1e-9, now=10.0).answer  # a sliver of the span: ~0, not 1e-12
    assert (tiny.count, tiny.low, tiny.high) == (0.0, 0, 1)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    low=st.integers(min_value=0, max_value=10**9),
    spread=st.integers(min_value=1, max_value=10**9),
    share=st.floats(min_value=-0.5, max_value=1.5),
)
def test_settled_stays_in_the_bounds_with_digits_its_spread_justifies(
    low: int, spread: int, share: float
) -> None:
    high = low + spread
    value = settled(low + share * spread, low, high)
    assert low <= value <= high
    digits = max(0, 3 - math.floor(math.log10(spread)))
    assert value == round(value, digits)
    if 0 <= share <= 1:  # inside the bounds: moved by at most the rounding
        assert abs(value - (low + share * spread)) <= 0.5 * 10.0**-digits + 1e-9 * high


def test_a_tiny_spread_keeps_no_more_than_six_decimals() -> None:
    # Linear counting at precision 25 says 1.0000000149 for one user, bounded by [1, 1.0000000149].
    assert settled(1.0000000149, 1, 1.0000000149) == 1
    assert DistinctAnswer(1.0000000149, 1, 1.0000000149, 0.95).estimate == 1
    assert DistinctAnswer(985.5123456789, 980, 990, 0.95).estimate == 985.51  # spread 10

"""One window, said four ways: every form of `--since/--until/--last/--now` counts the same.

The property draws the hits, the window and how it is written; a sliding counter (exact)
must answer the brute-force count of `start < ts <= end` whichever way it was written.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.engine import HitCounter
from hitcount.errors import ConfigurationError
from hitcount.model.windows import DEFAULT_LAST_S, WindowSpec, window_spec

BASE = 1_700_000_000  # epoch seconds near today, so instants are plain numbers


def writings(start: int, end: int, clock: int) -> list[WindowSpec]:
    """The window (start, end] written every way the options allow, on `clock`."""
    length = str(end - start)
    ways = [
        window_spec(None, str(start), str(end), None),  # --since S --until U
        window_spec(length, str(start), None, None),  # --since S --last N
        window_spec(length, None, str(end), None),  # --until U --last N
        window_spec(length, None, None, str(end)),  # --last N --now U
        window_spec(length, None, _offset(end - clock - 7), str(clock + 7)),  # from --now
        window_spec(length, None, str(end), str(end - 37)),  # --until U after --now (QA J1)
    ]
    if start < clock and end < clock:  # relative to the state's clock
        ways.append(window_spec(None, f"-{clock - start}s", f"-{clock - end}s", None))
    if end == clock:
        ways.append(window_spec(None, f"-{clock - start}s", None, None))
    return ways


def _offset(seconds: int) -> str:
    return f"+{seconds}s" if seconds > 0 else f"-{-seconds}s"


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 500), min_size=1, max_size=60),
    start=st.integers(-10, 510),
    length=st.integers(1, 520),
)
def test_every_writing_of_a_window_counts_the_brute_force_answer(
    offsets: list[int], start: int, length: int
) -> None:
    counter = HitCounter("sliding", max_window_s=10_000)
    for offset in offsets:
        counter.record("/e", float(BASE + offset))
    clock = BASE + max(offsets)
    lo, hi = BASE + start, BASE + start + length
    expected = sum(1 for offset in offsets if lo < BASE + offset <= hi)
    for spec in writings(lo, hi, clock):
        window = spec.resolve(counter.clock)
        assert window.end == hi, spec
        assert window.end - window.last_s == lo, spec
        assert counter.query("/e", window.last_s, window.end).answer.count == expected, spec
        back, end = spec.reach()  # a store reading this much back holds the whole window
        assert (end if end is not None else clock) - back <= lo
        assert end is None or end >= hi  # and up to its end


def test_no_window_is_the_last_hour_and_an_empty_state_places_nothing() -> None:
    assert WindowSpec().resolve(5000.0) == WindowSpec(last_s=DEFAULT_LAST_S).resolve(5000.0)
    assert WindowSpec().resolve(5000.0).end == 5000.0
    relative = window_spec(None, "-2h", None, None)
    assert relative.resolve(None).end is None  # no clock: a relative window is nowhere
    absolute = window_spec(None, "100", "200", None)
    assert (absolute.resolve(None).last_s, absolute.resolve(None).end) == (100.0, 200.0)
    assert absolute.reach()[0] == math.inf  # read everything: where the clock is is unknown


@pytest.mark.parametrize(
    ("last", "since", "until", "fragment"),
    [
        ("5", "0", "10", "--last cannot go with both"),
        (None, "10", "10", "must end after it starts"),
        (None, "-1h", "-2h", "must end after it starts"),
    ],
)
def test_contradicting_windows_are_refused(
    last: str | None, since: str, until: str, fragment: str
) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        window_spec(last, since, until, None).resolve(10_000.0)

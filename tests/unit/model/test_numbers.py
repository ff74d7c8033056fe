"""One way to write numbers: no exponents, no float noise, whole numbers without `.0`."""

from __future__ import annotations

import math

import pytest

from hitcount.model.metrics import plain
from hitcount.views.json_forms import _number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2678400.0, "2678400"), (253402300799.0, "253402300799"), (0.05, "0.05"),
        (87.99999999999994, "88"), (2822.8999999999996, "2822.9"), (1.5, "1.5"),
        (1e-7, "0.0000001"), (-3.0, "-3"), (math.inf, "inf"), (-math.inf, "-inf"),
        (1e20, "100000000000000000000"), (1e308, "1e+308"), (-2.5e300, "-2.5e+300"),
    ],
)  # fmt: skip
def test_plain_writes_numbers_as_people_do(value: float, text: str) -> None:
    assert plain(value) == text
    assert "e" not in plain(value).replace("inf", "") or abs(value) >= 1e21


@pytest.mark.parametrize(
    ("value", "expected"),
    [(300.0, 300), (87.99999999999994, 88), (16.999999999992, 17), (100.2376, 100.2376)],
)
def test_json_counts_and_durations_lose_float_noise(value: float, expected: float) -> None:
    assert _number(value) == expected
    assert type(_number(value)) is type(expected)

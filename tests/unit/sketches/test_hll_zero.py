"""An empty sketch estimates +0.0: "-0" once reached the text of a window without users."""

from __future__ import annotations

import math

import pytest

from hitcount.sketches.hll import HyperLogLog


@pytest.mark.parametrize("precision", [4, 12, 13, 16])
def test_an_empty_sketch_estimates_plus_zero(precision: int) -> None:
    estimate = HyperLogLog(precision).estimate()
    assert estimate == 0 and math.copysign(1.0, estimate) == 1.0

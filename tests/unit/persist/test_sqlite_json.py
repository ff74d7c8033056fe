"""`json_value`: the SQLite store reads its rows' JSON with msgspec, exactly as `json.loads`."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hitcount.errors import StateError
from hitcount.persist.stores.sqlite_bulk import json_value

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@given(_VALUES, st.booleans(), st.booleans())
@example(math.inf, False, False)  # `Infinity`: a state's horizon may be
@example([1e308 * 10, -math.inf], False, True)
@example("\ud800", False, False)  # a lone surrogate, as `json.dumps` escapes it
@example({"a": [0.1, -0.0, 2**70]}, True, False)
def test_reads_what_json_dumps_wrote_as_json_loads_does(
    value: Any, compact: bool, as_bytes: bool
) -> None:
    text = json.dumps(value, separators=(",", ":") if compact else None)
    got = json_value(text.encode() if as_bytes else text)
    assert _same(got, json.loads(text))


@pytest.mark.parametrize(
    "text", ["1e400", '{"a": 1, "a": 2}', " [1, 2] ", "NaN", "-Infinity", '"\\ud800"', "12" * 20]
)
def test_reads_the_corner_cases_as_json_loads_does(text: str) -> None:
    assert _same(json_value(text), json.loads(text))


@pytest.mark.parametrize("text", ["", "{", "[1,]", "nul", "'a'", "1 2", "\x00"])
def test_what_json_loads_refuses_is_a_damaged_row(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(StateError, match="damaged meta row 'clock': not JSON"):
        json_value(text, "meta row 'clock'")

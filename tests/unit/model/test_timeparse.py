"""Durations and instants as users type them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitcount.errors import ConfigurationError
from hitcount.model.hits import BadLine, epoch_from_value
from hitcount.model.timeparse import parse_duration, parse_instant

#: 1700000000 in Arabic-Indic and in full-width digits.
ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in "1700000000")
FULL_WIDTH = "".join(chr(0xFF10 + int(d)) for d in "1700000000")
UNIT_S = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300", 300), ("1.5", 1.5), (".5", 0.5), ("90s", 90), ("5m", 300), ("5min", 300),
        ("2h", 7200), ("1d", 86400), ("1w", 604800), ("250ms", 0.25), ("1ms", 0.001),
        ("1h30m", 5400), ("1d12h", 129600), ("1h 30m", 5400), (" 2H ", 7200), ("1m30s", 90),
        ("1w2d3h4m5s6ms", 604800 + 172800 + 10800 + 240 + 5 + 0.006),
    ],
)  # fmt: skip
def test_durations_users_type(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30m1h", "from the largest down"), ("1h1h", "from the largest down"),
        ("0", "greater than 0"), ("0h0m", "greater than 0"), ("-5", "must be a duration"),
        ("1x", "must be a duration"), ("h", "must be a duration"), ("", "must be a duration"),
        ("1h30", "must be a duration"), ("1.5.5m", "must be a duration"),
    ],
)  # fmt: skip
def test_what_is_not_a_duration_says_so(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        parse_duration(text)
    assert caught.value.param == "last"


@given(st.lists(st.integers(0, 99), min_size=len(UNIT_S), max_size=len(UNIT_S)))
def test_any_descending_sum_of_parts_is_their_total(counts: list[int]) -> None:
    parts = [(n, unit) for n, unit in zip(counts, UNIT_S, strict=True) if n]
    if not parts:
        return
    text = "".join(f"{n}{unit}" for n, unit in parts)
    expected = sum(n * UNIT_S[unit] for n, unit in parts)
    assert parse_duration(text) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "text",
    [
        "1_700_000_000",
        ARABIC_INDIC,
        FULL_WIDTH,
        "\u0662\u0660\u0662\u0663-11-14T22:13:20Z",
        "1700000000_",
        "2023-11-14_22:13:20Z",
        "2023-11-14X22:13:20",
    ],
)
def test_a_timestamp_in_other_digits_underscores_or_odd_separators_is_a_bad_line(text: str) -> None:
    # float() and fromisoformat() read these; JSON, jq and DuckDB do not: neither do we
    with pytest.raises(BadLine, match="not a number or ISO 8601 date"):
        epoch_from_value(text)
    with pytest.raises(ConfigurationError, match="--now"):
        parse_instant(text, "--now")


@pytest.mark.parametrize("text", ["\u0661\u0660", "\uff11\uff10m", "1_0s", "10_"])
def test_a_duration_in_other_digits_or_with_underscores_is_refused(text: str) -> None:
    with pytest.raises(ConfigurationError, match="must be a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1700000000", 1_700_000_000), (" 1700000000.5 ", 1_700_000_000.5), ("1.7e9", 1.7e9),
     ("2023-11-14T22:13:20Z", 1_700_000_000), ("2023-11-14t22:13:20Z", 1_700_000_000),
     ("2023-11-14 22:13:20", 1_700_000_000), ("20231114T221320Z", 1_700_000_000),
     ("2023-11-14", 1_699_920_000)],
)  # fmt: skip
def test_plain_timestamps_still_read(text: str, seconds: float) -> None:
    assert epoch_from_value(text) == seconds

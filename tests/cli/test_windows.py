"""`--since`/`--until` on every command that asks a window, one default, UTC said aloud.

The hand-made hits (tests/cli/conftest.py) end at the replay clock 2000; every expected
count is worked out next to its window, and the sample traffic is checked by brute force.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cli.conftest import HAND_HITS, SLIDING, oracle_count
from tests.cli_helpers import assert_error, ok, ok_json, pairs, read_ndjson, run, write_ndjson
from tests.conftest import SAMPLES, Oracle

# (window options, the window (start, end] they mean, hand-counted /api/login hits in it)
# login hits: 0, 1000, 1700, 1800, 2000; the clock is 2000.
RANGES: list[tuple[list[str], tuple[float, float], int]] = [
    (["--since", "1000", "--until", "1800"], (1000, 1800), 2),  # 1700, 1800 (1000 is open)
    (["--since", "999", "--until", "1800"], (999, 1800), 3),  # + 1000
    (["--since", "-1000", "--until", "-200"], (1000, 1800), 2),  # relative to the clock
    (["--since", "-1000"], (1000, 2000), 3),  # ends at the clock: 1700, 1800, 2000
    (["--since", "1000", "--last", "700"], (1000, 1700), 1),  # (since, since + N]
    (["--until", "1700", "--last", "701"], (999, 1700), 2),  # (until - N, until]
    (["--until", "-300", "--last", "700"], (1000, 1700), 1),  # until = 2000 - 300
    (["--since", "-800", "--now", "1800"], (1000, 1800), 2),  # --now is the reference
    (["--since", "1970-01-01T00:16:40Z", "--until", "1970-01-01T00:30:00Z"], (1000, 1800), 2),
    (["--since", "-1ms", "--until", "2000"], (1999.999, 2000), 1),
    (["--since", "-2001"], (-1, 2000), 5),  # every login hit, epoch 0 included
    (["--until", "-0s"], (-1600, 2000), 5),  # no length: the default hour back from 2000
    (["--since", "-1000", "--until", "+0s"], (1000, 2000), 3),  # +0s is the clock itself
]
RANGE_IDS = [" ".join(options) for options, _, _ in RANGES]


def test_hand_ranges_agree_with_the_oracle() -> None:
    """The hand-counted answers above are right (guards the table itself)."""
    oracle = Oracle(HAND_HITS)
    for options, (start, end), expected in RANGES:
        assert oracle.count("/api/login", start, end) == expected, options


@pytest.fixture
def hand_state(tmp_path: Path) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "hand.ndjson", HAND_HITS)), *SLIDING])


@pytest.mark.usefixtures("hand_state")
@pytest.mark.parametrize(("options", "window", "expected"), RANGES, ids=RANGE_IDS)
def test_query_counts_the_half_open_range(
    options: list[str], window: tuple[float, float], expected: int
) -> None:
    answer = ok_json(["query", "/api/login", *options, "--json"])
    start, end = window
    assert answer["now"] == pytest.approx(end)
    assert answer["last"] == pytest.approx(end - start)
    assert answer["count"] == expected
    assert answer["exact"] is True


@pytest.mark.usefixtures("hand_state")
@pytest.mark.parametrize(("options", "window", "expected"), RANGES, ids=RANGE_IDS)
def test_top_plot_and_events_take_the_same_range(
    options: list[str], window: tuple[float, float], expected: int
) -> None:
    start, end = window
    oracle = Oracle(HAND_HITS)
    rows = ok_json(["top", *options, "--json"])
    assert {row["endpoint"]: row["count"] for row in rows} == {
        ep: n for ep in {e for e, _ in HAND_HITS} if (n := oracle.count(ep, start, end)) > 0
    }
    chart = ok_json(["plot", "/api/login", *options, "--step", str(end - start), "--json"])
    assert chart["series"][0]["total"]["count"] == expected
    assert chart["times"] == [pytest.approx(end)]
    assert ok_json(["events", *options, "--json"]) == []  # nothing remembered here


@pytest.mark.usefixtures("hand_state")
def test_report_takes_a_range(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    ok(["report", str(out), "--since", "1000", "--until", "1800", "--step", "100"])
    assert "1970-01-01T00:30:00Z" in out.read_text()  # the window's end, 1800


@pytest.mark.usefixtures("hand_state")
def test_a_range_says_where_it_ends_instead_of_the_last_n() -> None:
    text = ok(["query", "/api/login", "--since", "1000", "--until", "1800"])
    assert "2 hits in the 13m20s to 1970-01-01T00:30:00Z (exact)" in text.stdout
    assert "window 1970-01-01T00:16:40Z < ts <= 1970-01-01T00:30:00Z" in text.stderr


@pytest.mark.usefixtures("hand_state")
@pytest.mark.parametrize(
    "command", [["query", "/api/login"], ["top"], ["plot", "/api/login"], ["compare"]]
)
def test_every_command_that_asks_a_window_defaults_to_the_last_hour(
    command: list[str], tmp_path: Path
) -> None:
    if command == ["compare"]:  # compare replays a file itself
        source = str(write_ndjson(tmp_path / "c.ndjson", HAND_HITS))
        rows = ok_json(["compare", source, "--strategies", "sliding", "--json"])
        assert rows["last"] == 3600
        return
    assert ok_json([*command, "--json"]) == ok_json([*command, "--last", "1h", "--json"])


@pytest.mark.usefixtures("hand_state")
def test_report_defaults_to_the_last_hour(tmp_path: Path) -> None:
    ok(["report", str(tmp_path / "a.html")])
    ok(["report", str(tmp_path / "b.html"), "--last", "1h"])
    first, second = ((tmp_path / n).read_text() for n in ("a.html", "b.html"))
    assert first == second


@pytest.mark.usefixtures("hand_state")
@pytest.mark.parametrize("flag", ["--since", "--until", "--now"])
def test_an_instant_without_offset_is_said_to_be_utc(flag: str) -> None:
    options = {"--since": ["--since", "1970-01-01 00:16:40", "--until", "1800"],
               "--until": ["--until", "1970-01-01T00:30", "--last", "800"],
               "--now": ["--now", "1970-01-01 00:30:00", "--last", "800"]}[flag]  # fmt: skip
    result = ok(["query", "/api/login", *options, "--json"])
    assert f"{flag} '" in result.stderr
    assert "has no UTC offset: read as UTC" in result.stderr
    assert json.loads(result.stdout)["count"] == 2  # (1000, 1800] whichever way
    with_offset = ["--now", "1970-01-01T00:30:00+00:00", "--last", "800"]
    assert "read as UTC" not in ok(["query", "/api/login", *with_offset]).stderr


@pytest.mark.usefixtures("hand_state")
@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--since", "1800", "--until", "1000"], "the window must end after it starts"),
        (["--since", "-1h", "--until", "-2h"], "the window must end after it starts"),
        (["--since", "2000", "--until", "2000"], "the window must end after it starts"),
        (["--since", "0", "--until", "10", "--last", "5"], "--last cannot go with both"),
        (["--since", "yesterday"], "--since:"),
        (["--until", "-5x"], "--until:"),
        (["--since", "-1e3s"], "--since:"),
    ],
)
def test_a_bad_range_is_one_clear_error(options: list[str], fragment: str) -> None:
    for command in (["query", "/api/login"], ["top"], ["plot", "/api/login"], ["events"]):
        assert_error(run([*command, *options]), 2, fragment)


def test_a_range_reaching_past_retained_data_has_no_upper_bound(tmp_path: Path) -> None:
    hits = [("/p", 100.0 * i) for i in range(100)]  # 0..9900, the clock 9900
    ok(["replay", str(write_ndjson(tmp_path / "p.ndjson", hits)), "-s", "sliding",
        "--max-window", "600", "--max-lateness", "0"])  # fmt: skip
    inside = ok_json(["query", "/p", "--since", "9300", "--until", "9800", "--json"])
    assert (inside["count"], inside["complete"], inside["exact"]) == (5, True, True)
    beyond = ok_json(["query", "/p", "--since", "-1h", "--until", "-5m", "--json"])
    assert beyond["complete"] is False
    assert beyond["high"] is None  # no upper bound
    assert beyond["low"] <= Oracle(hits).count("/p", 9900 - 3600, 9900 - 300)


def test_sample_traffic_ranges_match_brute_force() -> None:
    path = SAMPLES / "web.ndjson"
    oracle = Oracle(pairs(read_ndjson(path)))
    clock = max(ts for _, ts in oracle.hits)
    ok(["replay", str(path), "-s", "sliding", "--max-window", "86400"])
    rng = random.Random(16)
    for _ in range(12):
        back = rng.uniform(1, 20_000)
        length = rng.uniform(1, back)
        endpoint = rng.choice(["/api/login", "/api/*", "/", "*"])
        since, until = f"-{back:.3f}s", f"-{back - length:.3f}s"
        answer = ok_json(["query", endpoint, "--since", since, "--until", until, "--json"])
        start, end = clock - round(back, 3), clock - round(back - length, 3)
        assert answer["count"] == oracle_count(oracle, endpoint, end - start, end), (since, until)


def test_events_keep_those_whose_clock_is_in_the_window(tmp_path: Path) -> None:
    """A swap at clock 1000, more hits, a swap at clock 2000: each window keeps its own."""
    early = [(ep, ts) for ep, ts in HAND_HITS if ts <= 1000]  # the clock is 1000
    late = [(ep, ts) for ep, ts in HAND_HITS if ts > 1000]  # then 2000
    ok(["replay", str(write_ndjson(tmp_path / "a.ndjson", early)), *SLIDING])
    ok(["swap", "fixed", "--window", "10"])
    ok(["replay", str(write_ndjson(tmp_path / "b.ndjson", late)), "--append"])
    ok(["swap", "morris"])

    def clocks(*options: str) -> list[float]:
        return [row["clock"] for row in ok_json(["events", *options, "--json"])]

    assert clocks() == [1000, 2000]  # no window option: everything remembered
    assert clocks("--last", "1000") == [2000]  # (1000, 2000]: 1000 is at the open edge
    assert clocks("--last", "1001") == [1000, 2000]
    assert clocks("--since", "-1500", "--until", "-500") == [1000]  # (500, 1500]
    assert clocks("--until", "999", "--last", "999") == []
    assert clocks("--since", "999", "--name", "strategy_swapped", "-n", "1") == [2000]


@given(st.integers(min_value=1, max_value=10**10))
def test_a_window_length_is_written_as_a_duration_that_reads_back(seconds: int) -> None:
    from hitcount.cli.render.text import duration
    from hitcount.model.timeparse import parse_duration

    text = duration(seconds)
    assert parse_duration(text) == seconds
    assert len(text) <= 16  # never 499532379s: days, hours, minutes and seconds


@pytest.mark.parametrize(("seconds", "text"), [(0.001, "1ms"), (0.25, "250ms"), (0.0005, "0.5ms")])
def test_a_window_under_a_second_is_written_in_milliseconds(seconds: float, text: str) -> None:
    from hitcount.cli.render.text import duration

    assert duration(seconds) == text


def test_a_long_since_range_says_its_length_in_units(tmp_path: Path) -> None:
    source = tmp_path / "old.ndjson"
    source.write_text(
        "".join(f'{{"endpoint": "/a", "ts": {ts}}}\n' for ts in (9e8, 1.4e9))
    )  # 1998 and 2014
    ok(["replay", str(source), "-s", "sliding", "--max-window", "1e9"])
    text = ok(["query", "/a", "--since", "2001-01-01T00:00:00Z"]).stdout
    # 2001-01-01 to 2014-05-13T16:53:20Z: 4880 days 16:53:20, written in units
    assert "/a: 1 hit in the 4880d16h53m20s to 2014-05-13T16:53:20Z (exact)" in text


def test_a_last_reaching_before_year_1_is_a_usage_error() -> None:
    ok(["replay", str(SAMPLES / "web.ndjson")])
    for last in ("800000d", "99999999999999999999d"):
        for command in (["query", "*"], ["top"]):
            assert_error(run([*command, "--last", last]), 2, "would start before year 1")
    assert ok_json(["query", "*", "--last", "3650d", "--json"])["count"] > 0  # still answers


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["--until", "-1000000d"], "--until is before year 1"),
        (["--since", "-1000000d", "--until", "-999999d"], "--until is before year 1"),
        (["--since", "-1000000d"], "--since is before year 1"),
        (["--last", "1h", "--until", "-1000000d"], "--until is before year 1"),
    ],
)
def test_a_relative_time_before_year_1_is_named_in_the_usage_error(
    given: list[str], named: str
) -> None:
    ok(["replay", str(SAMPLES / "web.ndjson")])
    for command in (["query", "*"], ["top"], ["events"]):
        result = run([*command, *given])
        assert_error(result, 2, named)
        assert "None" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [["query", ""], ["top", ""], ["plot", "/api/login", ""], ["export", ""], ["report", ""]],
)
def test_an_empty_endpoint_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    """An unset `$EP` in `hitcount export "$EP" -o FILE` must not replace the file."""
    ok(["replay", str(SAMPLES / "web.ndjson")])
    out = tmp_path / "hits.prom"
    out.write_text("kept\n")
    given = [*command, "-o", str(out)] if command[0] == "export" else command
    empty = "the output path is empty" if command[0] == "report" else "the endpoint is empty"
    assert_error(run(given), 2, empty)
    assert out.read_text() == "kept\n"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (59.5, "59.5s"),
        (1795.2, "29m55.2s"),
        (3595.2, "59m55.2s"),
        (7195.2, "1h59m55.2s"),
        (119.9996, "2m"),
        (3599.9996, "1h"),
        (60.0004, "1m"),
    ],
)
def test_a_window_of_minutes_with_a_fraction_is_written_as_the_others(
    seconds: float, text: str
) -> None:
    """`3595.2s` under an hour where `1h59m55.2s` over it (QA P4); `1m60.0s` (QA S6)."""
    from hitcount.cli.render.text import duration
    from hitcount.model.timeparse import parse_duration

    assert duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds, abs=0.0005)  # to the millisecond


def test_a_refused_instant_is_shown_as_given(tmp_path: Path) -> None:
    """`--now 1e300` was shown as `1e+297`, what the milliseconds rule made of it (QA P4)."""
    result = run(["query", "/a", "--now", "1e300"])
    assert "(given '1e300')" in result.stderr

"""`hitcount.views.series` and `hitcount plot`: hits per step, against a brute-force count.

Library expectations come from conftest's `Oracle` (a full scan per step, with the step
edges worked out here, not by `series`); CLI expectations from the input read back with
the `json` module (tests/cli_helpers.py).
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import random
import re
from pathlib import Path

import pytest

from hitcount import HitCounter
from hitcount.errors import ConfigurationError, StateError
from hitcount.views.series import MAX_POINTS, Series, series
from tests.cli_helpers import assert_error, ok, ok_json, plain_output_env, run, write_ndjson
from tests.conftest import Oracle

SPARKS = set("▁▂▃▄▅▆▇█")
ANSI = re.compile(r"\x1b|\x9b")
ENDPOINTS = ["/api/login", "/api/users", "/static/app.js", "/static/app.css"]


def random_hits(seed: int, n: int = 400) -> list[tuple[str, float]]:
    """Hits on whole and half seconds in [1000, 3000], so many land exactly on step edges."""
    rng = random.Random(seed)
    return [(rng.choice(ENDPOINTS), 1000 + rng.randrange(4001) / 2) for _ in range(n)]


def oracle_count(oracle: Oracle, pattern: str, start: float, end: float) -> int:
    """Hits of every endpoint matching `pattern` with start < ts <= end."""
    endpoints = {ep for ep, _ in oracle.hits if fnmatch.fnmatchcase(ep, pattern)}
    return sum(oracle.count(ep, start, end) for ep in endpoints)


def counter_with(strategy: str, hits: list[tuple[str, float]], **params: float) -> HitCounter:
    counter = HitCounter(strategy, **params)
    shuffled = list(hits)
    random.Random(0).shuffle(shuffled)  # arrival order must not matter
    counter.record_many(shuffled)
    return counter


# -------------------------------------------------------------------------------------------
# The library against the oracle
# -------------------------------------------------------------------------------------------

# (last, step, now): whole-second edges that hits sit on, fractional ones, now past the clock
WINDOWS = [
    (600.0, 60.0, None),
    (2000.0, 100.0, None),
    (2000.0, 100.0, 2500.0),
    (90.0, 0.5, 1500.0),
    (1.0, 0.25, 2000.0),
    (300.0, 300.0, 1234.5),
    (1000.0, 125.0, 3500.0),
    (0.3, 0.1, 1000.0),  # 3 steps whose float edges do not add up exactly
]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("last", "step", "now"), WINDOWS)
def test_sliding_points_equal_the_oracle(
    seed: int, last: float, step: float, now: float | None
) -> None:
    hits = random_hits(seed)
    counter = counter_with("sliding", hits, max_window_s=10**7)
    oracle = Oracle(hits)
    patterns = ["/api/login", "/static/*", "/nothing"]
    result = series(counter, patterns, last, step, now)
    end = counter.clock if now is None else now
    assert end is not None and result.now == end
    points = round(last / step)
    for s, pattern in zip(result.series, patterns, strict=True):
        assert len(s.points) == points
        for i, point in enumerate(s.points):
            start, stop = end - last + i * step, end - last + (i + 1) * step
            assert point.end == pytest.approx(stop) and point.start == pytest.approx(start)
            expected = oracle_count(oracle, pattern, point.start, point.end)
            assert (point.count, point.low, point.high) == (expected, expected, expected)
            assert point.exact and point.complete
        whole = oracle_count(oracle, pattern, end - last, end)
        assert sum(s.counts) == whole  # every hit of the window in exactly one step
        assert s.total.count == whole and s.total.exact


def test_glob_matches_are_listed_and_summed() -> None:
    hits = random_hits(4)
    result = series(counter_with("sliding", hits, max_window_s=10**7), ["/static/*"], 3000, 100)
    assert result.series[0].matched == ("/static/app.css", "/static/app.js")
    assert result.series[0].total.count == sum(1 for ep, _ in hits if ep.startswith("/static/"))


@pytest.mark.parametrize(("last", "step"), [(600.0, 60.0), (0.3, 0.1), (2000.0, 0.2)])
def test_steps_tile_the_window_left_open_right_closed(last: float, step: float) -> None:
    now = 2000.0
    counter = counter_with("sliding", [("/a", 1000.0)], max_window_s=10**7)
    result = series(counter, ["/a"], last, step, now)
    points = result.series[0].points
    assert len(points) == len(result.times) == round(last / step)
    assert result.times[-1] == now == points[-1].end
    assert points[0].start == now - last == result.start
    for before, after in itertools.pairwise(points):
        assert after.start == before.end  # no gap, no overlap: the edge is shared
    assert [p.end for p in points] == list(result.times)
    assert all(p.end - p.start == pytest.approx(step) for p in points)


def test_a_hit_on_an_edge_counts_in_the_step_it_ends() -> None:
    hits = [("/a", 1000.0), ("/a", 1060.0), ("/a", 1120.0), ("/a", 1180.0)]
    counter = counter_with("sliding", hits, max_window_s=10**7)
    result = series(counter, ["/a"], 180, 60)  # now = 1180: steps (1000,1060] (1060,1120] ...
    assert result.series[0].counts == [1, 1, 1]  # the hit at 1000 is outside (left-open)
    result = series(counter, ["/a"], 240, 60)
    assert result.series[0].counts == [1, 1, 1, 1]


@pytest.mark.parametrize("seed", [5, 6])
@pytest.mark.parametrize(("last", "step", "window"), [(630, 45, 60), (2000, 100, 30), (50, 5, 20)])
def test_fixed_points_bound_the_true_count(seed: int, last: int, step: int, window: int) -> None:
    hits = random_hits(seed)
    counter = counter_with("fixed", hits, window_s=window, retention_s=10**7)
    oracle = Oracle(hits)
    result = series(counter, ["/api/login", "/static/*"], last, step)
    end = result.now
    estimates = 0
    for s in result.series:
        for point in s.points:
            true = oracle_count(oracle, s.endpoint, point.start, point.end)
            assert point.low <= true <= point.high
            assert point.complete
            if point.exact:
                assert point.count == true
            estimates += not point.exact
        whole = oracle_count(oracle, s.endpoint, end - last, end)
        assert s.total.low <= whole <= s.total.high
        # Each estimate is rounded to 1/1000 of its spread at most (half of it either way).
        rounding = (sum(p.high - p.low for p in s.points) + s.total.high - s.total.low) / 2000
        assert s.total.count == pytest.approx(sum(s.counts), abs=rounding + 1e-9)
        assert s.total.high - s.total.low <= sum(p.high - p.low for p in s.points)
    if step % window:
        assert estimates  # steps cutting buckets are estimates, and say so


def test_steps_past_the_retained_data_have_no_upper_bound() -> None:
    hits = [("/a", float(ts)) for ts in range(0, 2001, 10)]
    counter = counter_with("sliding", hits, max_window_s=500, max_lateness_s=0)
    result = series(counter, ["/a"], 2000, 100)
    first, last = result.series[0].points[0], result.series[0].points[-1]
    assert not first.complete and first.high == math.inf and not first.exact
    assert last.complete and last.exact and last.count == 10
    assert not result.complete and not result.series[0].total.complete


def test_morris_refuses_with_a_hint() -> None:
    counter = counter_with("morris", [("/a", 1000.0), ("/b", 1001.0)])
    for patterns in (["/a"], ["/nothing"], ["/*"]):
        with pytest.raises(ConfigurationError, match="keeps no time") as caught:
            series(counter, patterns, 60, 10)
        assert caught.value.hint is not None
        assert "replay" in caught.value.hint and "sliding" in caught.value.hint


@pytest.mark.parametrize(
    ("last", "step", "fragment"),
    [
        (60, 0, "step_s must be a positive"),
        (60, -5, "step_s must be a positive"),
        (60, math.nan, "step_s must be a positive"),
        (60, math.inf, "step_s must be a positive"),
        (0, 1, "last_s must be a positive"),
        (math.inf, 1, "last_s must be a positive"),
        (10, 60, "at least one --step"),
        (60, 7, "whole number of --step"),
        (MAX_POINTS + 1, 1, "points"),
        (10**7, 0.5, "points"),
    ],
)
def test_validation(last: float, step: float, fragment: str) -> None:
    counter = counter_with("sliding", [("/a", 1000.0)])
    with pytest.raises(ConfigurationError, match=re.escape(fragment)):
        series(counter, ["/a"], last, step)


def test_validation_of_patterns_now_and_clock() -> None:
    counter = counter_with("sliding", [("/a", 1000.0)])
    assert len(series(counter, ["/a"], MAX_POINTS, 1).times) == MAX_POINTS  # the most allowed
    with pytest.raises(ConfigurationError, match="at least one endpoint"):
        series(counter, [], 60, 10)
    with pytest.raises(ConfigurationError, match=r"^now must be a finite"):
        series(counter, ["/a"], 60, 10, math.nan)
    with pytest.raises(StateError, match="no clock"):
        series(HitCounter("sliding"), ["/a"], 60, 10)
    empty = series(HitCounter("sliding"), ["/a"], 60, 10, now=500.0)
    assert isinstance(empty, Series) and empty.series[0].counts == [0] * 6


# -------------------------------------------------------------------------------------------
# The command line
# -------------------------------------------------------------------------------------------

#: Hand-made traffic: the clock ends at 3600; steps of 10m end at 600, 1200, ... 3600.
CLI_HITS = (
    [("/api/login", 600.0 * k) for k in range(1, 7)]  # one on each step's right edge
    + [("/api/login", 3000.0 + s) for s in range(1, 11)]  # ten in (3000, 3600]
    + [("/static/a.js", 100.0 + 200 * k) for k in range(18)]  # three per step
    + [("/static/b.css", 3599.0)]
)
HOSTILE = "/x\x1b[2J[bold]y"


@pytest.fixture(autouse=True)
def _isolated(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain_output_env(monkeypatch)
    monkeypatch.chdir(state_env.parent)


@pytest.fixture
def replayed(tmp_path: Path) -> list[tuple[str, float]]:
    hits = [*CLI_HITS, (HOSTILE, 1800.0)]
    path = write_ndjson(tmp_path / "small.ndjson", hits)
    ok(["replay", str(path), "--strategy", "sliding", "--max-window", "86400"])
    return hits


@pytest.mark.usefixtures("replayed")
def test_cli_text_draws_sparklines_with_totals() -> None:
    result = ok(["plot", "/api/login", "/static/*", "--last", "1h", "--step", "10m"])
    lines = result.stdout.splitlines()
    assert len(lines) == 3  # a header with the range, then one row per endpoint
    assert "6 steps of 10m" in lines[0]
    assert "1970-01-01T00:00:00Z < ts <= 1970-01-01T01:00:00Z" in lines[0]
    login, static = lines[1], lines[2]
    assert login.startswith("/api/login") and static.startswith("/static/*")
    for row in (login, static):
        assert len([c for c in row if c in SPARKS]) == 6
    assert "▂▂▂▂▂█" in login  # 1, 1, 1, 1, 1, 11: one scale for every row
    assert "total 16 · min 1 · max 11 · peak 0.01833/s" in login  # 11 hits in 600 s
    assert "total 19 · min 3 · max 4 · peak 0.006667/s · 2 matched" in static  # 4 in 600 s
    assert not ANSI.search(result.stdout + result.stderr)


@pytest.mark.usefixtures("replayed")
def test_cli_hostile_endpoint_prints_inert() -> None:
    for extra in ([], ["--bars"]):
        result = ok(["plot", HOSTILE, "--last", "1h", "--step", "10m", *extra])
        assert not ANSI.search(result.stdout + result.stderr), repr(result.stdout)
        assert "/x\\x1b[2J[bold]y" in result.stdout  # escaped control, literal markup
        assert "total 1" in result.stdout


@pytest.mark.usefixtures("replayed")
def test_cli_json_schema_and_counts() -> None:
    document = ok_json(
        ["plot", "/api/login", "/nothing", "--last", "1h", "--step", "10m", "--json"]
    )
    assert {"last", "step", "now", "times", "series"} <= set(document)
    assert (document["last"], document["step"], document["now"]) == (3600, 600, 3600)
    assert document["times"] == [600.0 * k for k in range(1, 7)]
    login, nothing = document["series"]
    assert (login["endpoint"], login["matched"]) == ("/api/login", ["/api/login"])
    assert [p["count"] for p in login["points"]] == [1, 1, 1, 1, 1, 11]
    assert [p["end"] for p in login["points"]] == document["times"]
    for point in login["points"]:
        assert {"end", "count", "low", "high", "exact"} <= set(point)
        assert point["low"] == point["count"] == point["high"] and point["exact"] is True
    assert nothing["matched"] == [] and [p["count"] for p in nothing["points"]] == [0] * 6


def test_cli_json_counts_match_the_input_read_back(tmp_path: Path) -> None:
    hits = random_hits(9, 300)
    ok(["replay", str(write_ndjson(tmp_path / "r.ndjson", hits)), "-s", "sliding"])
    document = ok_json(["plot", "/api/*", "--last", "30m", "--step", "90s", "--json"])
    oracle = Oracle((ep, ts) for ep, ts in hits)
    for point in document["series"][0]["points"]:
        start = point["end"] - document["step"]
        assert point["count"] == oracle_count(oracle, "/api/*", start, point["end"])


@pytest.mark.usefixtures("replayed")
def test_cli_bars_one_line_per_step() -> None:
    result = ok(["plot", "/api/login", "/static/a.js", "--last", "1h", "--step", "10m", "--bars"])
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + 2 * (1 + 6)  # header; per endpoint a title and six steps
    assert lines[1].startswith("/api/login") and "total 16" in lines[1]
    steps = lines[2:8]
    assert steps[0].split()[:2] == ["1970-01-01T00:10:00Z", "1"]
    assert steps[-1].split()[:2] == ["1970-01-01T01:00:00Z", "11"]
    assert steps[-1].split()[2] == "█" * 40  # the largest count fills the bar
    assert lines[8].startswith("/static/a.js")
    widths = ok(["plot", "/api/login", "--last", "1h", "--step", "10m", "--bars", "-w", "10"])
    assert "█" * 10 in widths.stdout and "█" * 11 not in widths.stdout


@pytest.mark.usefixtures("replayed")
def test_cli_width_merges_sparkline_steps() -> None:
    result = ok(["plot", "/api/login", "--last", "1h", "--step", "1m", "--width", "20"])
    row = result.stdout.splitlines()[1]
    assert len([c for c in row if c in SPARKS]) == 20
    assert "3 steps a character" in result.stdout


@pytest.mark.usefixtures("replayed")
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--step", "0"], "--step"),
        (["--step", "soon"], "--step"),
        (["--step", "2h"], "at least one --step"),
        (["--step", "7m"], "whole number of --step"),
        (["--last", "1d", "--step", "1s"], "points"),
        (["--step", "10m", "--width", "0"], "--width"),
        (["--step", "10m", "--now", "yesterday"], "--now"),
    ],
)
def test_cli_usage_errors_exit_2(args: list[str], fragment: str) -> None:
    assert_error(run(["plot", "/api/login", "--last", "1h", *args]), 2, fragment)


def test_cli_refuses_morris_and_missing_state(tmp_path: Path) -> None:
    assert_error(run(["plot", "/a", "--last", "1h", "--step", "10m"]), 4, "no saved state")
    ok(["replay", str(write_ndjson(tmp_path / "m.ndjson", CLI_HITS)), "-s", "morris"])
    result = run(["plot", "/api/login", "--last", "1h", "--step", "10m"])
    assert_error(result, 2, "keeps no time")
    assert "hint: replay" in result.stderr


def test_cli_fixed_estimates_are_marked(tmp_path: Path) -> None:
    ok(
        [
            "replay",
            str(write_ndjson(tmp_path / "f.ndjson", CLI_HITS)),
            "-s",
            "fixed",
            "--window",
            "900",
        ]
    )
    result = ok(["plot", "/static/*", "--last", "1h", "--step", "10m", "--bars"])
    assert "~" in result.stdout and "~ marks estimates" in result.stderr
    document = ok_json(["plot", "/static/*", "--last", "1h", "--step", "10m", "--json"])
    assert any(not p["exact"] for p in document["series"][0]["points"])


def test_cli_help_has_an_example() -> None:
    result = ok(["plot", "--help"])
    assert "Example:" in result.stdout and "--step" in result.stdout


def test_sparkline_marks_unknown_steps_apart_from_zero(tmp_path: Path) -> None:
    from hitcount.cli.render.charts import UNKNOWN, sparkline

    assert sparkline([math.nan, 0.0, 1.0, 4.0], 4.0) == UNKNOWN + "▁▃█"
    hits = [("/a", 1_767_225_600.0 + 60 * i) for i in range(600)]  # 10 hours, one a minute
    ok(["replay", str(write_ndjson(tmp_path / "a.ndjson", hits)), "-s", "sliding",
        "--max-window", "3600", "--max-lateness", "0"])  # fmt: skip
    text = ok(["plot", "/a", "--last", "3h", "--step", "1h"]).stdout
    row = next(line for line in text.splitlines() if line.startswith("/a"))
    assert UNKNOWN in row and "steps unknown" in row

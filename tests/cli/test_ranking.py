"""`top GLOB --depth N --by hits|distinct|rate`, `query --depth` and `--rate`, by brute force.

The sample traffic is read with the json module; groups are cut by this file's own rule
(the first N non-empty path segments), and users counted with a set.
"""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from pathlib import Path

import pytest

from tests.cli.conftest import HAND_HITS, SLIDING
from tests.cli_helpers import assert_error, ok, ok_json, run, write_ndjson
from tests.conftest import SAMPLES

WEB = SAMPLES / "web.ndjson"
DAY = ["-s", "sliding", "--max-window", "86400"]


def rows_of(path: Path) -> list[tuple[str, float, str]]:
    with path.open(encoding="utf-8") as handle:
        return [(r["endpoint"], float(r["ts"]), r["user"]) for r in map(json.loads, handle)]


def group_of(endpoint: str, depth: int | None) -> str:
    if depth is None:
        return endpoint
    parts = [part for part in endpoint.split("/") if part]
    return "/" + "/".join(parts[:depth]) if parts else endpoint


def brute_force(
    start: float, end: float, depth: int | None, glob: str = "*"
) -> dict[str, tuple[int, set[str]]]:
    """Hits and users of every group in (start, end]: of the endpoints the glob matches,
    and of every endpoint of a group whose name it matches."""  # noqa: D205, D209
    groups: dict[str, tuple[int, set[str]]] = defaultdict(lambda: (0, set()))
    for endpoint, ts, user in rows_of(WEB):
        named = fnmatch.fnmatchcase(endpoint, glob) or (
            depth is not None and fnmatch.fnmatchcase(group_of(endpoint, depth), glob)
        )
        if start < ts <= end and named:
            hits, users = groups[group_of(endpoint, depth)]
            groups[group_of(endpoint, depth)] = (hits + 1, users | {user})
    return dict(groups)


@pytest.fixture
def web_state() -> float:
    ok(["replay", str(WEB), *DAY])
    return max(ts for _, ts, _ in rows_of(WEB))


@pytest.mark.parametrize(
    ("glob", "depth", "last"),
    [("*", None, 3600), ("/api/*", None, 3600), ("*", 1, 3600), ("*", 2, 7200),
     ("/api/*", 2, 86400), ("/static/*", 1, 600), ("/api/users/*", 3, 3600),
     ("/api/users", 2, 3600), ("/api", 1, 86400), ("/api/u*", 2, 7200)],
)  # fmt: skip
def test_top_glob_and_depth_match_brute_force(
    web_state: float, glob: str, depth: int | None, last: int
) -> None:
    options = ["--last", str(last), "-n", "1000", "--json"]
    if glob != "*":
        options.insert(0, glob)
    if depth is not None:
        options += ["--depth", str(depth)]
    rows = ok_json(["top", *options])
    expected = brute_force(web_state - last, web_state, depth, glob)
    assert {row["endpoint"]: row["count"] for row in rows} == {
        name: hits for name, (hits, _) in expected.items()
    }
    counts = [row["count"] for row in rows]
    assert counts == sorted(counts, reverse=True)
    for row in rows:  # hits per second over the window, bounds included
        assert row["rate"] == pytest.approx(row["count"] / last)
        assert row["rate_low"] == pytest.approx(row["low"] / last)
        assert row["rate_high"] == pytest.approx(row["high"] / last)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_query_depth_counts_what_top_depth_shows(web_state: float, depth: int) -> None:
    expected = brute_force(web_state - 7200, web_state, depth)
    for name, (hits, _) in sorted(expected.items())[:8]:
        answer = ok_json(["query", name, "--depth", str(depth), "--last", "2h", "--json"])
        assert answer["count"] == hits, name


def test_top_query_and_export_agree_on_a_group_of_doubled_slashes(tmp_path: Path) -> None:
    # a roll-up skips empty segments: `//wp/a/c` is in `/wp/a`, which `/wp*` matches
    hits = [("/wp/a/b", 1000.0), ("//wp/a/c", 1001.0), ("//wp/a/d", 1002.0), ("/x/y", 1002.0)]
    ok(["replay", str(write_ndjson(tmp_path / "h.ndjson", hits)), *SLIDING])
    window = ["--depth", "2", "--last", "1h", "--json"]
    top = ok_json(["top", "/wp*", *window])
    assert [(row["endpoint"], row["count"]) for row in top] == [("/wp/a", 3)]
    assert ok_json(["query", "/wp*", *window])["count"] == 3
    exported = ok(["export", "/wp*", "--depth", "2", "--last", "1h"]).stdout
    assert 'hitcount_hits{endpoint="/wp/a",window="1h"} 3' in exported


@pytest.mark.parametrize(("pattern", "depth"), [("/api/*", 1), ("/api/users/*", 2), ("/a/b/c", 2)])
def test_a_query_pattern_deeper_than_its_depth_is_a_usage_error(
    web_state: float, pattern: str, depth: int
) -> None:
    result = run(["query", pattern, "--depth", str(depth), "--last", "2h"])
    assert_error(result, 2, "more path segments than --depth")
    assert f"top {pattern} --depth {depth}" in result.stderr


def test_top_by_distinct_orders_by_users_within_bounds(web_state: float) -> None:
    rows = ok_json(["top", "--depth", "1", "--by", "distinct", "-n", "1000", "--json"])
    expected = brute_force(web_state - 3600, web_state, 1)
    assert {row["endpoint"] for row in rows} == set(expected)
    estimates = [row["distinct"] for row in rows]
    assert estimates == sorted(estimates, reverse=True)
    for row in rows:
        true_users = len(expected[row["endpoint"]][1])
        assert row["distinct_low"] <= true_users <= row["distinct_high"], row
    text = ok(["top", "--depth", "1", "--by", "distinct", "-n", "2"]).stdout
    assert "users" in text.splitlines()[0]


def test_top_by_rate_is_the_order_of_hits(web_state: float) -> None:
    by_rate = ok_json(["top", "--by", "rate", "-n", "20", "--json"])
    by_hits = ok_json(["top", "-n", "20", "--json"])
    assert by_rate == by_hits


def test_query_rate_with_certain_bounds_from_fixed_buckets(tmp_path: Path) -> None:
    hits = [("/p", float(ts)) for ts in range(0, 1000, 7)]  # 143 hits, the clock 994
    ok(["replay", str(write_ndjson(tmp_path / "p.ndjson", hits)), "-s", "fixed",
        "--window", "100"])  # fmt: skip
    answer = ok_json(["query", "/p", "--last", "250", "--rate", "--json"])
    true_hits = sum(1 for _, ts in hits if 994 - 250 < ts <= 994)
    assert answer["rate_low"] * 250 == pytest.approx(answer["low"])
    assert answer["rate_high"] * 250 == pytest.approx(answer["high"])
    assert answer["rate_low"] <= true_hits / 250 <= answer["rate_high"]
    assert answer["exact"] is False  # the window cuts a bucket: the rate is an estimate
    text = ok(["query", "/p", "--last", "250", "--rate"]).stdout
    assert f"{answer['rate']:.4g} hits/s ({answer['rate_low']:.4g}.." in text


def test_a_rate_reaching_past_retained_data_has_no_upper_bound(tmp_path: Path) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "h.ndjson", HAND_HITS)), "-s", "sliding",
        "--max-window", "300", "--max-lateness", "0"])  # fmt: skip
    answer = ok_json(["query", "/api/login", "--last", "1h", "--rate", "--json"])
    assert answer["complete"] is False
    assert answer["rate_high"] is None
    assert "no upper bound" in ok(["query", "/api/login", "--last", "1h", "--rate"]).stdout
    assert [row["rate_high"] for row in ok_json(["top", "--last", "1h", "--json"])] == [None] * 3


def test_a_strategy_without_time_has_no_rate(tmp_path: Path) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "h.ndjson", HAND_HITS)), "-s", "morris"])
    answer = ok_json(["query", "/api/login", "--rate", "--json"])
    assert (answer["rate"], answer["rate_low"], answer["rate_high"]) == (None, None, None)
    assert "no rate" in ok(["query", "/api/login", "--rate"]).stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["top", "--depth", "0"], "--depth must be >= 1"),
        (["query", "/api", "--depth", "-1"], "--depth must be >= 1"),
        (["top", "--by", "users"], "--by must be one of hits, distinct, rate"),
    ],
)
def test_bad_ranking_options_are_one_clear_error(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "h.ndjson", HAND_HITS)), *SLIDING])
    assert_error(run(args), 2, fragment)


def test_top_by_distinct_without_users_says_why(tmp_path: Path) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "h.ndjson", HAND_HITS)), *SLIDING])
    result = run(["top", "--by", "distinct"])
    assert result.exit_code == 4
    assert "no user data" in result.stderr


def test_small_rates_are_written_out_never_in_exponent_form(tmp_path: Path) -> None:
    """One hit in a day is 1/86400 = 0.00001157 hits/s: `top`, `query --rate` and `plot` write
    the digits out (the one number rule), never `1.157e-05`."""  # noqa: D205, D209
    source = write_ndjson(tmp_path / "one.ndjson", [("/rare", 1_000_000.0)])
    ok(["replay", str(source), *SLIDING])
    outputs = [
        ok(["top", "--last", "1d", "--now", "1000000"]).stdout,
        ok(["query", "/rare", "--last", "1d", "--now", "1000000", "--rate"]).stdout,
        ok(["plot", "/rare", "--last", "1d", "--now", "1000000", "--step", "1h"]).stdout,
    ]
    assert "0.00001157" in outputs[0] and "0.00001157" in outputs[1]
    for text in outputs:
        assert "e-0" not in text, text

"""The `hitcount` command line, through typer's CliRunner (and once as the installed script).

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import math
import os
import random
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer.main

from hitcount import available_strategies
from hitcount.cli import app

from ..cli_helpers import (
    COLOUR_FORCING_ENV,
    assert_error,
    ndjson_hit,
    ok,
    ok_json,
    pairs,
    plain_output_env,
    query,
    read_csv,
    read_ndjson,
    run,
    write_ndjson,
)
from ..conftest import SAMPLES, Oracle

SLIDING = ["--strategy", "sliding", "--max-window", "3600"]
ESC = "\x1b"
ANSI = re.compile(r"\x1b|\x9b")
QUERY_KEYS = {"endpoint", "last", "now", "count", "low", "high", "exact"}
METRICS_KEYS = {
    "total_hits",
    "endpoints_count",
    "pruned_events",
    "memory_entries",
    "state_bytes",
    "strategy",
    "bad_lines",
}
DEMO_TITLES = (
    "Fixed window record and query",
    "Sliding vs fixed, same hits, compared counts",
    "Swap to Morris approximation",
    "High-volume hits with pruning",
    "Snapshot, mutate, restore",
)


@pytest.fixture(autouse=True)
def _isolated(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test: its own HITCOUNT_STATE, plain (uncoloured) output, cwd = tmp_path."""
    plain_output_env(monkeypatch)
    monkeypatch.chdir(state_env.parent)


def oracle_count(oracle: Oracle, pattern: str, last: float, now: float) -> int:
    """Brute force: hits of every endpoint matching `pattern` with now - last < ts <= now."""
    endpoints = {ep for ep, _ in oracle.hits if fnmatch.fnmatchcase(ep, pattern)}
    return sum(oracle.count(ep, now - last, now) for ep in endpoints)


def metrics() -> dict[str, Any]:
    result: dict[str, Any] = ok_json(["metrics", "--json"])
    return result


# -------------------------------------------------------------------------------------------
# Hand-made hits. The replay clock ("now" by default) is the latest timestamp: 2000.
# -------------------------------------------------------------------------------------------

HAND_HITS: list[tuple[str, float]] = [
    ("/api/login", 0.0),  # epoch 0 is a real timestamp, not "missing"
    ("/api/login", 1000.0),
    ("/api/login", 1700.0),  # exactly now - 300: outside --last 300, inside --last 301
    ("/api/users", 1750.0),  # exactly now - 250
    ("/api/login", 1800.0),
    ("/static/app.js", 1900.0),
    ("/api/login", 2000.0),  # exactly now: inside every window ending now
]
HAND_NOW = 2000.0

# (endpoint or glob, --last, --now, seconds of --last, the window end, hand-counted answer)
HAND_WINDOWS: list[tuple[str, str, str | None, float, float, int]] = [
    ("/api/login", "300", None, 300, 2000, 2),  # (1700, 2000]: 1800, 2000
    ("/api/login", "301", None, 301, 2000, 3),  # (1699, 2000]: + 1700
    ("/api/login", "5m", None, 300, 2000, 2),  # 5m = 300 s
    ("/api/login", "1", None, 1, 2000, 1),  # (1999, 2000]: 2000 only
    ("/api/login", "0.5", None, 0.5, 2000, 1),
    ("/api/login", "2000", None, 2000, 2000, 4),  # (0, 2000]: the hit at 0 is out
    ("/api/login", "2001", None, 2001, 2000, 5),  # (-1, 2000]: every login hit
    ("/api/login", "1h", None, 3600, 2000, 5),
    ("/api/login", "100", "1800", 100, 1800, 1),  # (1700, 1800]: 1800
    ("/api/login", "700", "1700", 700, 1700, 1),  # (1000, 1700]: 1700
    ("/api/login", "701", "1700", 701, 1700, 2),  # (999, 1700]: 1000, 1700
    ("/api/login", "100", "1799.5", 100, 1799.5, 1),  # (1699.5, 1799.5]: 1700
    ("/api/login", "100", "1970-01-01T00:30:00Z", 100, 1800, 1),  # ISO for 1800
    ("/api/login", "100", "1970-01-01T01:30:00+01:00", 100, 1800, 1),  # same, +01:00
    ("/api/login", "1", "0", 1, 0, 1),  # (-1, 0]: the hit at epoch 0
    ("/api/login", "1", "1970-01-01T00:00:00Z", 1, 0, 1),
    ("/api/login", "0.5", "0.5", 0.5, 0.5, 0),  # (0, 0.5]: 0 is at the open edge
    ("/api/*", "300", None, 300, 2000, 3),  # 1750 (users) + 1800, 2000 (login)
    ("/api/*", "250", None, 250, 2000, 2),  # (1750, 2000]: users' hit is at the edge
    ("/api/*", "251", None, 251, 2000, 3),
    ("*", "2001", None, 2001, 2000, 7),
    ("/static/*", "300", None, 300, 2000, 1),
    ("/nowhere", "300", None, 300, 2000, 0),
]
WINDOW_IDS = [f"{ep} last={last} now={now}" for ep, last, now, *_ in HAND_WINDOWS]


def test_hand_window_table_agrees_with_the_oracle() -> None:
    """The hand-counted answers above are right (guards the table itself)."""
    oracle = Oracle(HAND_HITS)
    for endpoint, _, _, last_s, end, expected in HAND_WINDOWS:
        assert oracle_count(oracle, endpoint, last_s, end) == expected, (endpoint, last_s, end)


@pytest.fixture
def hand_file(tmp_path: Path) -> Path:
    return write_ndjson(tmp_path / "hand.ndjson", HAND_HITS)


@pytest.mark.parametrize(
    ("endpoint", "last", "now", "last_s", "end", "expected"), HAND_WINDOWS, ids=WINDOW_IDS
)
def test_sliding_query_counts_exactly_in_left_open_right_closed_window(
    hand_file: Path,
    endpoint: str,
    last: str,
    now: str | None,
    last_s: float,
    end: float,
    expected: int,
) -> None:
    ok(["replay", str(hand_file), *SLIDING])
    answer = query(endpoint, last, now)
    assert answer.keys() >= QUERY_KEYS
    assert answer["endpoint"] == endpoint
    assert answer["last"] == last_s
    assert answer["now"] == end
    assert answer["count"] == answer["low"] == answer["high"] == expected
    assert answer["exact"] is True


@pytest.mark.parametrize("order", ["reversed", "shuffled", "late-by-seconds"])
def test_out_of_order_lines_give_the_same_answers_as_sorted_ones(
    tmp_path: Path, order: str
) -> None:
    hits = list(HAND_HITS)
    if order == "reversed":
        hits.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(hits)
    else:  # each pair swapped: every line up to a few hundred seconds late
        for i in range(0, len(hits) - 1, 2):
            hits[i], hits[i + 1] = hits[i + 1], hits[i]
    assert hits != HAND_HITS
    ok(["replay", str(write_ndjson(tmp_path / "unsorted.ndjson", hits)), *SLIDING])
    for endpoint, last, now, _, _, expected in HAND_WINDOWS:
        assert query(endpoint, last, now)["count"] == expected, (endpoint, last, now)


@pytest.mark.parametrize("window", ["60", "7", "1000"])
def test_fixed_bounds_hold_the_true_count(hand_file: Path, window: str) -> None:
    ok(["replay", str(hand_file), "--strategy", "fixed", "--window", window])
    for endpoint, last, now, _, _, expected in HAND_WINDOWS:
        answer = query(endpoint, last, now)
        assert answer["low"] <= expected <= answer["high"], (endpoint, last, now, answer)
        assert answer["low"] <= answer["count"] <= answer["high"]
        if answer["exact"]:
            assert answer["count"] == expected


def test_fixed_window_covering_whole_buckets_is_exact(hand_file: Path) -> None:
    ok(["replay", str(hand_file), "--strategy", "fixed", "--window", "100"])
    # (1000, 2000]: bucket 10 = [1000, 1100) is only partly covered and holds the excluded
    # hit at 1000, so the true 3 (1700, 1800, 2000) must lie within the bounds.
    answer = query("/api/login", "1000")
    assert answer["low"] <= 3 <= answer["high"]
    assert answer["exact"] is False
    # (-100, 2000] covers every bucket whole (the newest one's span ends at now): exact
    everything = query("/api/login", "2100")
    assert everything["exact"] is True
    assert everything["count"] == 5


def test_morris_answers_cover_all_time_and_say_so(hand_file: Path) -> None:
    ok(["replay", str(hand_file), "--strategy", "morris", "--seed", "1"])
    answer = query("/api/login", "1")
    assert answer["all_time"] is True
    assert answer["exact"] is False
    text = ok(["query", "/api/login", "--last", "1"])
    assert "over all time" in text.stdout
    assert "keeps no time" in text.stderr
    assert "keeps no time" in ok(["top", "--last", "1"]).stderr


# -------------------------------------------------------------------------------------------
# Sample traffic against brute-force counts
# -------------------------------------------------------------------------------------------


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


@pytest.mark.parametrize("name", ["web.ndjson", "late.ndjson"])
def test_sample_traffic_sliding_matches_brute_force(name: str) -> None:
    path = SAMPLES / name
    oracle = Oracle(pairs(read_ndjson(path)))
    clock = max(ts for _, ts in oracle.hits)
    report = ok_json(["replay", str(path), *SLIDING, "--json"])
    assert report["bad_lines"] == 0
    assert report["hits_kept"] == len(oracle.hits)
    earlier = clock - 1234.5
    windows: list[tuple[str, str, str | None, float, float]] = [
        ("/api/login", "60", None, 60, clock),
        ("/api/login", "1h", None, 3600, clock),
        ("/", "300", None, 300, clock),
        ("/api/*", "15m", None, 900, clock),
        ("/api/login", "600", repr(earlier), 600, earlier),
        ("/api/login", "600", iso(earlier), 600, earlier),
        ("/api/login", "600", str(round(earlier * 1000)), 600, round(earlier * 1000) / 1000),
    ]
    for endpoint, last, now, last_s, end in windows:
        answer = query(endpoint, last, now)
        assert answer["now"] == pytest.approx(end, abs=1e-6)
        assert answer["count"] == oracle_count(oracle, endpoint, last_s, end), (endpoint, last)
        assert answer["exact"] is True


def test_csv_sample_matches_brute_force() -> None:
    path = SAMPLES / "web.csv"
    oracle = Oracle(pairs(read_csv(path)))
    clock = max(ts for _, ts in oracle.hits)
    report = ok_json(["replay", str(path), *SLIDING, "--json"])
    assert report["formats"] == {str(path): "csv"}
    assert report["hits_kept"] == len(oracle.hits) == 5000
    for endpoint, last_s in (("/api/login", 3600), ("/", 60), ("/static/*", 1800)):
        answer = query(endpoint, str(last_s))
        assert answer["count"] == oracle_count(oracle, endpoint, last_s, clock)


def test_gzipped_access_log_is_sniffed_and_matches_its_csv_twin() -> None:
    # sample_traffic/README.md: access.log.gz holds web.csv's hits truncated to the second.
    twin = Oracle(
        (hit.endpoint, float(math.floor(hit.ts))) for hit in read_csv(SAMPLES / "web.csv")
    )
    clock = max(ts for _, ts in twin.hits)
    report = ok_json(["replay", str(SAMPLES / "access.log.gz"), *SLIDING, "--json"])
    assert report["formats"] == {str(SAMPLES / "access.log.gz"): "combined"}
    assert report["hits_kept"] == 5000
    for endpoint, last_s in (("/api/login", 3600), ("/", 600)):
        assert query(endpoint, str(last_s))["count"] == oracle_count(twin, endpoint, last_s, clock)


def test_top_lists_the_busiest_endpoints_like_brute_force() -> None:
    path = SAMPLES / "web.ndjson"
    hits = read_ndjson(path)
    clock = max(hit.ts for hit in hits)
    counts = Counter(hit.endpoint for hit in hits if clock - 3600 < hit.ts <= clock)
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    ok(["replay", str(path), *SLIDING])
    rows = ok_json(["top", "--last", "1h", "--limit", "5", "--json"])
    assert [(row["endpoint"], row["count"]) for row in rows] == expected
    assert all(row.keys() >= QUERY_KEYS for row in rows)
    text = ok(["top", "--last", "1h", "--limit", "5"]).stdout
    for endpoint, count in expected:
        assert re.search(rf"^{re.escape(endpoint)}\s+{count}\s", text, re.MULTILINE), text


# -------------------------------------------------------------------------------------------
# replay: replace or append, gzip, stdin, CSV, sniffing
# -------------------------------------------------------------------------------------------


def test_replay_replaces_the_state_unless_append(tmp_path: Path) -> None:
    first = write_ndjson(tmp_path / "first.ndjson", [("/a", 10.0), ("/a", 20.0), ("/b", 30.0)])
    second = write_ndjson(tmp_path / "second.ndjson", [("/a", 40.0), ("/c", 50.0)])
    ok(["replay", str(first), *SLIDING])
    ok(["replay", str(second), *SLIDING])
    assert metrics()["total_hits"] == 2
    assert query("/a", "100")["count"] == 1  # first.ndjson is gone
    assert query("/b", "100")["count"] == 0

    ok(["replay", str(first), *SLIDING])
    appended = ok_json(["replay", str(second), "--append", "--json"])
    assert appended["metrics"]["total_hits"] == 5
    assert metrics()["total_hits"] == 5
    assert metrics()["endpoints_count"] == 3
    assert query("/a", "100")["count"] == 3
    assert query("/b", "100")["count"] == 1


def test_append_with_the_same_strategy_spelled_out_is_accepted(tmp_path: Path) -> None:
    hits = write_ndjson(tmp_path / "h.ndjson", [("/a", 10.0)])
    ok(["replay", str(hits), *SLIDING])
    ok(["replay", str(hits), "--append", *SLIDING])
    assert metrics()["total_hits"] == 2


@pytest.mark.parametrize(
    "other",
    [["--strategy", "fixed"], ["--strategy", "morris"], ["--max-window", "100"]],
    ids=["fixed", "morris", "other-params"],
)
def test_append_with_a_different_strategy_is_a_usage_error(
    tmp_path: Path, state_env: Path, other: list[str]
) -> None:
    hits = write_ndjson(tmp_path / "h.ndjson", [("/a", 10.0)])
    ok(["replay", str(hits), *SLIDING])
    before = state_env.read_bytes()
    result = run(["replay", str(hits), "--append", *other])
    assert_error(result, 2, "--append cannot change the strategy")
    assert state_env.read_bytes() == before


def test_append_does_not_silently_ignore_max_lateness(tmp_path: Path) -> None:
    hits = write_ndjson(tmp_path / "h.ndjson", [("/a", 10.0)])
    ok(["replay", str(hits), *SLIDING, "--max-lateness", "0"])
    result = run(["replay", str(hits), "--append", "--max-lateness", "100", "--json"])
    if result.exit_code == 0:
        assert json.loads(result.stdout)["metrics"]["max_lateness_s"] == 100
    else:
        assert_error(result, 2, "--max-lateness")


@pytest.mark.parametrize("name", ["hits.data", "hits.ndjson", "hits"])
def test_gzip_is_detected_by_content_not_name(tmp_path: Path, name: str) -> None:
    raw = "".join(json.dumps({"endpoint": "/gz", "ts": 100 + i}) + "\n" for i in range(5))
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw.encode()))
    report = ok_json(["replay", name, *SLIDING, "--json"])
    assert report["formats"] == {name: "ndjson"}
    assert report["hits_kept"] == 5
    assert report["bad_lines"] == 0
    assert query("/gz", "3")["count"] == 3  # (101, 104]: 102, 103, 104


def test_stdin_is_read_from_dash() -> None:
    text = "".join(json.dumps({"endpoint": ep, "ts": ts}) + "\n" for ep, ts in HAND_HITS)
    report = ok_json(["replay", "-", *SLIDING, "--json"], input=text)
    assert report["formats"] == {"<stdin>": "ndjson"}
    assert report["hits_kept"] == len(HAND_HITS)
    assert query("/api/login", "301")["count"] == 3


def test_gzipped_stdin_is_detected_by_content() -> None:
    text = "".join(json.dumps({"endpoint": ep, "ts": ts}) + "\n" for ep, ts in HAND_HITS)
    report = ok_json(["replay", "-", *SLIDING, "--json"], input=gzip.compress(text.encode()))
    assert report["hits_kept"] == len(HAND_HITS)
    assert query("/api/*", "300")["count"] == 3


@pytest.mark.parametrize(
    "content",
    [
        "endpoint,timestamp,user\n/a,100,u1\n/a,200,u2\n/b,150,u3\n",
        "/a,100,u1\n/a,200,u2\n/b,150,u3\n",
        "/a,100\n/a,200\n/b,150\n",
        "ts,user,path\n100,u1,/a\n200,u2,/a\n150,u3,/b\n",  # header gives the column order
        "endpoint,timestamp\n/a,1970-01-01T00:01:40Z\n/a,200\n/b,150.0\n",
    ],
    ids=["header", "no-header", "no-user", "reordered-header", "iso-ts"],
)
def test_csv_with_and_without_header(tmp_path: Path, content: str) -> None:
    (tmp_path / "hits.csv").write_text(content, encoding="utf-8")
    report = ok_json(["replay", "hits.csv", *SLIDING, "--json"])
    assert report["formats"] == {"hits.csv": "csv"}
    assert report["hits_kept"] == 3
    assert report["bad_lines"] == 0
    assert query("/a", "100")["count"] == 1  # (100, 200]: 200
    assert query("/a", "101")["count"] == 2
    assert query("*", "51")["count"] == 2  # (149, 200]: 150, 200


APACHE_LINE = (
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326'
    ' "http://example.com/" "Mozilla/5.0"\n'
)


@pytest.mark.parametrize(
    ("content", "fmt", "endpoint", "ts"),
    [
        ('{"endpoint": "/t", "ts": 500}\n', "ndjson", "/t", 500.0),
        ("/t,500\n", "csv", "/t", 500.0),
        # 2000-10-10T13:55:36-07:00 = 2000-10-10T20:55:36Z
        (APACHE_LINE, "combined", "/apache_pb.gif", 971211336.0),
    ],
    ids=["ndjson", "csv", "combined"],
)
def test_format_is_sniffed_for_a_txt_file(
    tmp_path: Path, content: str, fmt: str, endpoint: str, ts: float
) -> None:
    assert datetime(2000, 10, 10, 20, 55, 36, tzinfo=timezone.utc).timestamp() == 971211336.0
    (tmp_path / "traffic.txt").write_text("\n" + content, encoding="utf-8")
    report = ok_json(["replay", "traffic.txt", *SLIDING, "--json"])
    assert report["formats"] == {"traffic.txt": fmt}
    assert report["hits_kept"] == 1
    assert query(endpoint, "1", now=repr(ts))["count"] == 1


# -------------------------------------------------------------------------------------------
# Bad input
# -------------------------------------------------------------------------------------------

BAD_FILE_LINES = [
    '{"endpoint": "/ok", "ts": 10}',  # 1 good
    "not json at all",  # 2 invalid JSON
    '{"endpoint": "/ok"}',  # 3 missing ts
    '{"endpoint": "", "ts": 11}',  # 4 empty endpoint
    '{"endpoint": "/ok", "ts": "NaN"}',  # 5 non-finite timestamp
    "",  # 6 blank: neither a hit nor a bad line
    '{"endpoint": "/ok", "ts": 20}',  # 7 good
    "[1, 2]",  # 8 not an object
    '{"endpoint": "/ok", "ts": 1e300}',  # 9 absurd timestamp
    '{"ts": 12}',  # 10 missing endpoint
    '{"endpoint": "/ok", "ts": 30}',  # 11 good
]
BAD_LINE_NUMBERS = [2, 3, 4, 5, 8, 9, 10]


def test_bad_line_table_agrees_with_brute_force() -> None:
    bad = [n for n, line in enumerate(BAD_FILE_LINES, 1) if line and ndjson_hit(line) is None]
    assert bad == BAD_LINE_NUMBERS


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join(BAD_FILE_LINES) + "\n", encoding="utf-8")
    return path


def test_bad_lines_are_skipped_counted_and_reported(bad_file: Path) -> None:
    result = ok(["replay", "bad.ndjson", *SLIDING])
    assert f"{len(BAD_LINE_NUMBERS)} bad lines" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    # the first five are shown with file:line and a reason, then one summary line
    for number in BAD_LINE_NUMBERS[:5]:
        assert any(f"bad.ndjson:{number}: " in line for line in warnings), result.stderr
    assert "bad.ndjson:2: invalid JSON" in result.stderr
    assert "bad.ndjson:3: missing field 'ts'" in result.stderr
    assert "bad.ndjson:4: empty endpoint" in result.stderr
    assert "bad.ndjson:5: timestamp is not finite" in result.stderr
    assert f"{len(BAD_LINE_NUMBERS)} in total" in result.stderr
    assert "bad.ndjson:1:" not in result.stderr
    assert "bad.ndjson:6:" not in result.stderr
    assert query("/ok", "100")["count"] == 3
    assert metrics()["bad_lines"] == len(BAD_LINE_NUMBERS)


def test_bad_lines_json_report(bad_file: Path) -> None:
    result = ok(["replay", "bad.ndjson", *SLIDING, "--json"])
    report = json.loads(result.stdout)  # warnings went to stderr, stdout is pure JSON
    assert report["bad_lines"] == len(BAD_LINE_NUMBERS)
    assert report["hits_kept"] == 3
    assert report["metrics"]["bad_lines"] == len(BAD_LINE_NUMBERS)
    shown = report["first_bad_lines"]
    assert [(b["source"], b["line"]) for b in shown] == [
        ("bad.ndjson", n) for n in BAD_LINE_NUMBERS[: len(shown)]
    ]
    assert all(b["reason"] for b in shown)
    assert "bad.ndjson:2: invalid JSON" in result.stderr


def test_sample_bad_lines_file_count_matches_brute_force() -> None:
    path = SAMPLES / "bad_lines.ndjson"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = sum(1 for line in lines if ndjson_hit(line) is None)
    assert bad == 40  # sample_traffic/README.md
    report = ok_json(["replay", str(path), *SLIDING, "--json"])
    assert report["bad_lines"] == bad
    assert report["hits_kept"] == len(lines) - bad
    assert metrics()["bad_lines"] == bad


@pytest.mark.parametrize("append", [False, True], ids=["replace", "append"])
def test_strict_stops_at_the_first_bad_line_and_keeps_the_saved_state(
    tmp_path: Path, state_env: Path, bad_file: Path, append: bool
) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "good.ndjson", HAND_HITS)), *SLIDING])
    before = state_env.read_bytes()
    args = ["replay", "bad.ndjson", "--strict"] + (["--append"] if append else SLIDING)
    result = run(args)
    assert_error(result, 3, "bad.ndjson:2: invalid JSON")
    assert "bad.ndjson:3" not in result.stderr
    assert state_env.read_bytes() == before
    assert metrics()["total_hits"] == len(HAND_HITS)


def test_strict_on_a_later_file_saves_nothing_from_earlier_files(
    tmp_path: Path, state_env: Path, bad_file: Path
) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    ok(["replay", str(good), *SLIDING])
    before = state_env.read_bytes()
    result = run(["replay", str(good), "bad.ndjson", "--strict", "--append"])
    assert_error(result, 3, "bad.ndjson:2:")
    assert state_env.read_bytes() == before


def test_strict_without_saved_state_creates_none(state_env: Path, bad_file: Path) -> None:
    assert_error(run(["replay", "bad.ndjson", "--strict"]), 3, "bad.ndjson:2:")
    assert not state_env.exists()


def test_strict_on_stdin_names_stdin_and_the_line() -> None:
    text = '{"endpoint": "/a", "ts": 1}\n{"endpoint": "/a", "ts": "soon"}\n'
    result = run(["replay", "-", "--strict"], input=text)
    assert_error(result, 3, "<stdin>:2: timestamp is not a number or ISO 8601 date")


def test_missing_file_exits_3_and_keeps_the_saved_state(tmp_path: Path, state_env: Path) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    ok(["replay", str(good), *SLIDING])
    before = state_env.read_bytes()
    assert_error(run(["replay", str(good), "missing.ndjson"]), 3, "missing.ndjson: no such file")
    assert state_env.read_bytes() == before


def test_truncated_gzip_exits_3_and_keeps_the_saved_state(tmp_path: Path, state_env: Path) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    ok(["replay", str(good), *SLIDING])
    before = state_env.read_bytes()
    data = gzip.compress(good.read_bytes())
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    assert_error(run(["replay", "cut.gz"]), 3, "cut.gz: cannot read")
    assert state_env.read_bytes() == before


@pytest.mark.parametrize("command", ["replay", "swap"])
def test_unknown_strategy_exits_6_and_lists_the_valid_ones(tmp_path: Path, command: str) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    ok(["replay", str(good)])
    args = (
        ["replay", str(good), "--strategy", "bogus"] if command == "replay" else ["swap", "bogus"]
    )
    result = run(args)
    assert_error(result, 6, "unknown strategy 'bogus'")
    for name in ("fixed", "sliding", "morris"):
        assert name in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["query", "/a", "--last", "abc"], "--last must be a duration"),
        (["query", "/a", "--last", "-5"], "--last must be a duration"),
        (["query", "/a", "--last", "0"], "--last must be greater than 0"),
        (["top", "--last", "abc"], "--last must be a duration"),
        (["query", "/a", "--last", "5", "--now", "garbage"], "--now: "),
        (["query", "/a", "--last", "5", "--now", "nan"], "--now: "),
        (["top", "--last", "5", "--limit", "0"], "--limit must be >= 1"),
        (["replay", "good.ndjson", "--window", "-1"], "--window must be >= "),
        (["replay", "good.ndjson", "-s", "sliding", "--max-window", "-3"], "--max-window"),
        (["replay", "good.ndjson", "--max-lateness", "-1"], "--max-lateness"),
        (["replay", "good.ndjson", "-s", "morris", "--base", "1"], "--base must be > 1"),
        (["replay", "good.ndjson", "--format", "xml"], "unknown format 'xml'"),
        (["replay", "good.ndjson", "-p", "nonsense"], "--param must look like NAME=VALUE"),
        (["swap", "fixed", "--window", "-1"], "--window must be >= "),
        (["demo", "--scenario", "9"], "no scenario 9"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bad_option_values_exit_2_with_one_error_line(
    tmp_path: Path, state_env: Path, args: list[str], fragment: str
) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "good.ndjson", HAND_HITS))])
    before = state_env.read_bytes()
    assert_error(run(args), 2, fragment)
    assert state_env.read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ["query", "/a", "--last", "abc"],
        ["top", "--last", "-5"],
        ["swap", "fixed", "--window", "-1"],
    ],
)
def test_usage_errors_do_not_depend_on_saved_state(args: list[str]) -> None:
    assert run(args).exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["query", "/a", "--last", "5"],
        ["top", "--last", "5"],
        ["metrics"],
        ["events"],
        ["swap", "morris"],
        ["snapshot", "save", "snap.json"],
    ],
    ids=lambda args: args[0] if args[0] != "snapshot" else "snapshot save",
)
def test_commands_without_saved_state_exit_4(state_env: Path, args: list[str]) -> None:
    assert_error(run(args), 4, "no saved state")
    assert not state_env.exists()
    assert not Path("snap.json").exists()


def _damaged_documents() -> dict[str, Callable[[bytes], bytes]]:
    def with_field(path: list[str], value: object) -> Callable[[bytes], bytes]:
        def change(good: bytes) -> bytes:
            document = json.loads(good)
            target = document
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            return json.dumps(document).encode()

        return change

    return {
        "truncated": lambda good: good[: len(good) // 2],
        "empty": lambda good: b"",
        "foreign": lambda good: b'{"a": 1}',
        "not-an-object": lambda good: b"[1, 2]",
        "newer-version": with_field(["version"], 99),
        "clock-is-text": with_field(["clock"], "soon"),
        "total-is-text": with_field(["metrics", "total_hits"], "many"),
        "negative-total": with_field(["metrics", "total_hits"], -1),
        "state-is-list": with_field(["state"], [1]),
        "unknown-strategy": with_field(["strategy", "name"], "bogus"),
    }


DAMAGE = _damaged_documents()


@pytest.fixture
def good_state(tmp_path: Path, state_env: Path) -> bytes:
    ok(["replay", str(write_ndjson(tmp_path / "good.ndjson", HAND_HITS)), *SLIDING])
    return state_env.read_bytes()


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_state_file_exits_4_and_is_left_alone(
    good_state: bytes, state_env: Path, damage: str
) -> None:
    damaged = DAMAGE[damage](good_state)
    state_env.write_bytes(damaged)
    for args in (
        ["query", "/api/login", "--last", "60"],
        ["top", "--last", "60"],
        ["metrics"],
        ["events"],
        ["swap", "fixed"],
        ["snapshot", "save", "snap.json"],
        ["replay", "good.ndjson", "--append"],
    ):
        result = run(args)
        assert_error(result, 4, str(state_env))
        assert state_env.read_bytes() == damaged, args
    assert not Path("snap.json").exists()
    if damage == "newer-version":
        assert "newer than this hitcount understands" in run(["metrics"]).stderr


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_restoring_a_damaged_snapshot_exits_4_and_keeps_the_state(
    good_state: bytes, state_env: Path, tmp_path: Path, damage: str
) -> None:
    (tmp_path / "snap.json").write_bytes(DAMAGE[damage](good_state))
    assert_error(run(["snapshot", "restore", "snap.json"]), 4, "snap.json")
    assert_error(run(["snapshot", "show", "snap.json"]), 4, "snap.json")
    assert state_env.read_bytes() == good_state


def test_restoring_a_missing_snapshot_exits_4(good_state: bytes, state_env: Path) -> None:
    assert_error(run(["snapshot", "restore", "nope.json"]), 4, "nope.json")
    assert state_env.read_bytes() == good_state


def test_swap_morris_to_sliding_is_refused_until_reset(good_state: bytes, state_env: Path) -> None:
    ok(["swap", "morris"])
    assert metrics()["strategy"] == "morris"
    before = state_env.read_bytes()
    result = run(["swap", "sliding"])
    assert_error(result, 7, "cannot swap morris -> sliding")
    assert "--reset" in result.stderr
    assert state_env.read_bytes() == before

    swapped = ok_json(["swap", "sliding", "--reset", "--json"])
    assert swapped["new"].startswith("sliding")
    assert swapped["old"].startswith("morris")
    assert metrics()["strategy"] == "sliding"
    assert query("/api/login", "1h")["count"] == 0  # started empty
    events = ok_json(["events", "--json"])
    assert [e["event"] for e in events][-2:] == ["strategy_swapped", "strategy_reset"]
    assert ok_json(["events", "--name", "strategy_reset", "--json"])[0]["from"].startswith("morris")


def test_swap_fixed_needs_a_whole_multiple_of_the_window(tmp_path: Path, state_env: Path) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "h.ndjson", HAND_HITS)), "--window", "60"])
    totals = metrics()
    everything = query("*", "1d")
    before = state_env.read_bytes()
    assert_error(run(["swap", "fixed", "--window", "90"]), 7, "90")
    assert state_env.read_bytes() == before

    result = ok(["swap", "fixed", "--window", "120"])
    assert "fixed(window_s=60" in result.stdout
    assert "fixed(window_s=120" in result.stdout
    after = metrics()
    assert after["strategy_params"]["window_s"] == 120
    assert after["total_hits"] == totals["total_hits"] == len(HAND_HITS)
    assert after["endpoints_count"] == totals["endpoints_count"]
    regrouped = query("*", "1d")
    assert regrouped["count"] == everything["count"] == len(HAND_HITS)
    assert regrouped["exact"] is True


def test_swap_downhill_keeps_every_count(good_state: bytes) -> None:
    ok(["swap", "fixed", "--window", "10"])
    assert query("/api/login", "2001")["count"] == 5
    assert query("/api/login", "1000")["low"] <= 3 <= query("/api/login", "1000")["high"]
    ok(["swap", "morris", "--seed", "3"])
    answer = query("/api/login", "60")
    assert answer["all_time"] is True
    assert metrics()["total_hits"] == len(HAND_HITS)


# -------------------------------------------------------------------------------------------
# Endpoint text is data: escape sequences and Rich markup print inert
# -------------------------------------------------------------------------------------------

HOSTILE = [
    "\x1b[2J",
    "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\",
    "[bold red]x[/]",
    "[link=http://evil]y[/link]",
    "/rtl\u202eevil",
    "/bell\x07",
]


@pytest.fixture
def hostile_state(tmp_path: Path) -> None:
    hits = [(endpoint, 100.0 + i) for i, endpoint in enumerate(HOSTILE)]
    ok(["replay", str(write_ndjson(tmp_path / "hostile.ndjson", hits)), *SLIDING])


def assert_inert(text: str) -> None:
    assert not ANSI.search(text), repr(text)
    assert "\x07" not in text
    assert "\u202e" not in text


@pytest.mark.usefixtures("hostile_state")
def test_top_shows_hostile_endpoints_inert() -> None:
    result = ok(["top", "--last", "1h"])
    assert_inert(result.stdout + result.stderr)
    assert "[bold red]x[/]" in result.stdout
    assert "[link=http://evil]y[/link]" in result.stdout
    assert "\\x1b[2J" in result.stdout  # shown escaped, visibly
    assert "http://evil" in result.stdout
    rows = ok_json(["top", "--last", "1h", "--json"])
    assert sorted(row["endpoint"] for row in rows) == sorted(HOSTILE)


@pytest.mark.usefixtures("hostile_state")
@pytest.mark.parametrize("endpoint", HOSTILE)
def test_query_shows_a_hostile_endpoint_inert(endpoint: str) -> None:
    result = ok(["query", endpoint, "--last", "1h"])
    assert_inert(result.stdout + result.stderr)
    assert "1 hit " in result.stdout
    if "[" in endpoint and ESC not in endpoint:
        assert endpoint in result.stdout  # markup printed literally
    raw = ok(["query", endpoint, "--last", "1h", "--json"]).stdout
    assert not re.search(r"[\x00-\x1f]", raw.rstrip("\n")), raw  # JSON escapes controls
    answer = json.loads(raw)
    assert answer["endpoint"] == endpoint
    assert answer["matched"] == [endpoint]
    assert answer["count"] == 1


@pytest.mark.usefixtures("hostile_state")
def test_snapshot_show_and_errors_keep_hostile_text_inert(tmp_path: Path) -> None:
    ok(["snapshot", "save", "snap.json"])
    shown = ok(["snapshot", "show", "snap.json"])
    assert_inert(shown.stdout + shown.stderr)
    assert "[bold red]x[/]" in shown.stdout
    document = ok_json(["snapshot", "show", "snap.json", "--json"])
    assert sorted(row["endpoint"] for row in document["endpoints"]) == sorted(HOSTILE)
    failed = run(["query", "/a", "--last", "5", "--now", "\x1b[2J[bold]"])
    assert failed.exit_code == 2
    assert_inert(failed.stderr)
    assert "[bold]" in failed.stderr


def test_hostile_bad_line_warnings_are_inert(tmp_path: Path) -> None:
    (tmp_path / "evil.ndjson").write_text(
        json.dumps({"endpoint": "/x", "ts": "\x1b[2J[bold red]soon"})
        + "\n"
        + json.dumps({"endpoint": "/ok", "ts": 1})
        + "\n",
        encoding="utf-8",
    )
    result = ok(["replay", "evil.ndjson"])
    assert "evil.ndjson:1:" in result.stderr
    assert_inert(result.stdout + result.stderr)


# -------------------------------------------------------------------------------------------
# Snapshots
# -------------------------------------------------------------------------------------------


def test_snapshot_save_replay_restore_returns_to_the_saved_state(
    tmp_path: Path, state_env: Path
) -> None:
    ok(["replay", str(SAMPLES / "late.ndjson"), *SLIDING])
    saved_metrics = metrics()
    questions = [("/api/login", "1h"), ("/api/*", "10m"), ("/", "60")]
    saved_answers = [query(ep, last) for ep, last in questions]
    saved = ok_json(["snapshot", "save", "snap.json", "--json"])
    assert saved["endpoints_count"] == saved_metrics["endpoints_count"]
    assert saved["strategy"].startswith("sliding")

    more = write_ndjson(
        tmp_path / "more.ndjson", [("/api/login", 1795791700.0 + i) for i in range(9)]
    )
    ok(["replay", str(more), "--append"])
    assert metrics()["total_hits"] == saved_metrics["total_hits"] + 9

    restored = ok_json(["snapshot", "restore", "snap.json", "--json"])
    assert restored["metrics"] == saved_metrics
    assert metrics() == saved_metrics
    assert [query(ep, last) for ep, last in questions] == saved_answers
    assert ok_json(["events", "--json"])[-1]["event"] == "snapshot_restored"


def test_snapshot_show_reports_the_strategy(good_state: bytes) -> None:
    ok(["snapshot", "save", "snap.json", "--compact"])
    assert len(Path("snap.json").read_bytes().splitlines()) == 1
    shown = ok_json(["snapshot", "show", "snap.json", "--json"])
    assert shown["strategy"] == "sliding(max_window_s=3600)"
    assert shown["format"] == "hitcount-snapshot"
    assert shown["metrics"]["total_hits"] == len(HAND_HITS)
    assert shown["clock"] == HAND_NOW
    assert shown["endpoints"][0] == {"endpoint": "/api/login", "retained": 5}
    text = ok(["snapshot", "show", "snap.json"]).stdout
    assert "sliding(max_window_s=3600)" in text
    assert "/api/login" in text


def test_snapshot_file_is_a_self_describing_json_document(good_state: bytes) -> None:
    ok(["snapshot", "save", "snap.json"])
    document = json.loads(Path("snap.json").read_text(encoding="utf-8"))
    assert document["format"] == "hitcount-snapshot"
    assert document["version"] == 1
    assert document["strategy"] == {"name": "sliding", "params": {"max_window_s": 3600.0}}
    assert document["clock"] == HAND_NOW
    assert document["metrics"]["total_hits"] == len(HAND_HITS)


# -------------------------------------------------------------------------------------------
# The other commands: metrics, events, strategies, demo, --version, --help
# -------------------------------------------------------------------------------------------


def test_metrics_json_and_text(good_state: bytes) -> None:
    report = metrics()
    assert report.keys() >= METRICS_KEYS
    assert report["total_hits"] == len(HAND_HITS)
    assert report["endpoints_count"] == len({ep for ep, _ in HAND_HITS})
    assert report["memory_entries"] == len(HAND_HITS)  # sliding keeps every timestamp
    assert report["strategy"] == "sliding"
    assert report["bad_lines"] == 0
    assert report["pruned_events"] == 0
    assert report["state_bytes"] > 0
    text = ok(["metrics"]).stdout
    assert re.search(r"^total_hits\s+7\s*$", text, re.MULTILINE), text
    assert re.search(r"^strategy\s+sliding\s*$", text, re.MULTILINE), text


def test_metrics_count_pruning(tmp_path: Path) -> None:
    # 10 hits one hour apart, sliding window 600 s with no lateness allowance: only the
    # last one stays, and the nine others are pruned.
    hits = [("/p", 3600.0 * i) for i in range(10)]
    trace = tmp_path / "trace.ndjson"
    ok(["replay", str(write_ndjson(tmp_path / "p.ndjson", hits)), "-s", "sliding",
        "--max-window", "600", "--max-lateness", "0", "--trace-json", str(trace)])  # fmt: skip
    report = metrics()
    assert report["total_hits"] == 10
    assert report["pruned_events"] == 9
    assert report["memory_entries"] == 1
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    pruned = [event for event in events if event["event"] == "pruned"]
    assert sum(event["removed"] for event in pruned) == 9
    assert all(event["endpoint"] == "/p" for event in pruned)
    # Prunes are traced, not remembered: they would crowd out the notable events.
    assert ok_json(["events", "--name", "pruned", "--json"]) == []


def test_query_past_retention_says_it_is_incomplete(tmp_path: Path) -> None:
    hits = [("/p", 100.0 * i) for i in range(100)]
    ok(["replay", str(write_ndjson(tmp_path / "p.ndjson", hits)), "-s", "sliding",
        "--max-window", "600", "--max-lateness", "0"])  # fmt: skip
    inside = query("/p", "600")
    assert inside["complete"] is True
    assert inside["count"] == 6  # (9300, 9900]: 9400..9900
    beyond = query("/p", "5000")
    assert beyond["complete"] is False
    assert "true count may be higher" in ok(["query", "/p", "--last", "5000"]).stderr


def test_events_lists_swaps_text_and_json(good_state: bytes) -> None:
    assert ok_json(["events", "--json"]) == []
    assert "no such events remembered" in ok(["events"]).stderr
    ok(["swap", "fixed", "--window", "60"])
    events = ok_json(["events", "--json"])
    assert [event["event"] for event in events] == ["strategy_swapped"]
    assert events[0]["old"] == "sliding(max_window_s=3600)"
    assert events[0]["new"].startswith("fixed(window_s=60")
    assert ok_json(["events", "--name", "pruned", "--json"]) == []
    text = ok(["events"]).stdout
    assert "strategy_swapped" in text
    assert "1970-01-01T00:33:20Z" in text  # the replay clock, 2000 s


def test_strategies_lists_the_registry() -> None:
    rows = ok_json(["strategies", "--json"])
    assert [row["name"] for row in rows] == available_strategies()
    assert {"fixed", "sliding", "morris"} <= set(available_strategies())
    flags = {row["name"]: {p["flag"] for p in row["params"]} for row in rows}
    assert flags["fixed"] == {"--window", "--retention"}
    assert flags["sliding"] == {"--max-window"}
    assert {"--base", "--counters"} <= flags["morris"]
    text = ok(["strategies"]).stdout
    for name in ("fixed", "sliding", "morris", "--max-window"):
        assert name in text


def test_demo_runs_all_five_scenarios() -> None:
    result = ok(["demo"])
    for number, title in enumerate(DEMO_TITLES, 1):
        assert f"{number}. {title}" in result.stdout
    assert "FAILED" not in result.stdout
    scenarios = ok_json(["demo", "--json"])
    assert [s["scenario"] for s in scenarios] == [1, 2, 3, 4, 5]
    assert [s["title"] for s in scenarios] == list(DEMO_TITLES)
    assert all(s["passed"] is True for s in scenarios)


def test_demo_is_deterministic_and_can_run_one_scenario() -> None:
    quick = ["demo", "--scenario", "1", "-n", "2", "-n", "3", "-n", "5", "--json"]
    assert ok(quick).stdout == ok(quick).stdout  # 4 is the slow one; the full run is above
    only = ok_json(["demo", "--scenario", "3", "--json"])
    assert [s["scenario"] for s in only] == [3]
    assert_error(run(["demo", "--scenario", "9"]), 2, "no scenario 9")


def test_version_is_the_installed_distribution_version() -> None:
    assert ok(["--version"]).stdout.strip() == f"hitcount {version('hitcount')}"


def _command_paths() -> list[list[str]]:
    """Every command and subcommand registered on the app, found by walking it."""
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]

    def walk(command: Any, prefix: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


HELP_PATHS = _command_paths()


def test_help_covers_the_documented_commands() -> None:
    names = {" ".join(path) for path in HELP_PATHS}
    expected = {"replay", "query", "top", "metrics", "events", "swap", "strategies", "demo"}
    assert expected | {"snapshot", "snapshot save", "snapshot restore", "snapshot show"} <= names


@pytest.mark.parametrize(
    "path",
    HELP_PATHS,
    ids=lambda path: " ".join(path) or "hitcount",
)
def test_every_help_has_an_example(path: list[str]) -> None:
    for flag in ("--help", "-h"):
        result = ok([*path, flag])
        assert "Usage:" in result.stdout
        assert "Example:" in result.stdout, result.stdout


def test_help_shows_the_defaults_written_in_brackets() -> None:
    assert "XDG_STATE_HOME" in ok(["--help"]).stdout
    replay_help = ok(["replay", "--help"]).stdout
    assert "default: fixed" in " ".join(replay_help.split())
    assert "sniffed" in replay_help


def test_store_option_overrides_the_state_environment_variable(
    tmp_path: Path, state_env: Path
) -> None:
    other = tmp_path / "other.json"
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    ok(["--store", str(other), "replay", str(good)])
    assert other.exists()
    assert not state_env.exists()


def test_state_option_and_env_select_the_state_file(tmp_path: Path, state_env: Path) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    ok(["replay", str(good)])
    assert state_env.exists()
    other = tmp_path / "sub" / "other.json"
    ok(["--state", str(other), "replay", str(good), *SLIDING])
    assert other.exists()
    assert metrics()["strategy"] == "fixed"  # HITCOUNT_STATE's file is untouched
    assert ok_json(["--state", str(other), "metrics", "--json"])["strategy"] == "sliding"


def test_text_output_has_no_ansi_codes_when_not_a_terminal(good_state: bytes) -> None:
    for args in (["top", "--last", "1h"], ["metrics"], ["query", "/api/*", "--last", "1h"],
                 ["strategies"], ["events"], ["demo", "--scenario", "1"]):  # fmt: skip
        result = ok(args)
        assert not ANSI.search(result.stdout + result.stderr), args


# -------------------------------------------------------------------------------------------
# The installed console script
# -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_installed_console_script_end_to_end(tmp_path: Path) -> None:
    script = shutil.which("hitcount")
    assert script is not None, "the hitcount console script is not installed (pip install -e .)"
    env = {k: v for k, v in os.environ.items() if k not in COLOUR_FORCING_ENV}
    env.pop("HITCOUNT_STORE", None)
    env["HITCOUNT_STATE"] = str(tmp_path / "state.json")
    path = SAMPLES / "web.ndjson"

    def hitcount(*args: str) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [script, *args], env=env, capture_output=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        assert b"Traceback" not in done.stdout + done.stderr
        assert b"\x1b" not in done.stdout, "ANSI escape codes in piped stdout"
        return done

    hitcount("replay", str(path), *SLIDING)
    answer = json.loads(hitcount("query", "/api/login", "--last", "1h", "--json").stdout)
    hits = read_ndjson(path)
    clock = max(hit.ts for hit in hits)
    expected = sum(
        1 for hit in hits if hit.endpoint == "/api/login" and clock - 3600 < hit.ts <= clock
    )
    assert expected > 0
    assert answer["count"] == expected
    assert answer["now"] == clock
    text = hitcount("top", "--last", "1h", "--limit", "3").stdout.decode()
    assert "/api/login" in text

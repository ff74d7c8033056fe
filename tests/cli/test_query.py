"""`hitcount query`: hand-counted windows (now - N < ts <= now), sample traffic vs brute force.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from tests.cli.conftest import (
    HAND_HITS,
    HOSTILE,
    QUERY_KEYS,
    SLIDING,
    assert_inert,
    iso,
    oracle_count,
)
from tests.cli_helpers import (
    assert_error,
    ok,
    ok_json,
    pairs,
    query,
    read_ndjson,
    run,
    write_ndjson,
)
from tests.conftest import SAMPLES, Oracle

ESC = "\x1b"


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
    ("/api/login", "4m60s", None, 300, 2000, 2),  # parts add up: 240 + 60 s
    ("/api/login", "5m1s", None, 301, 2000, 3),
    ("/api/login", "500ms", None, 0.5, 2000, 1),
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
    # (1000, 2000] is on bucket edges: the hit at 1000 is in (900, 1000], wholly outside,
    # so the answer is exactly 3 (1700, 1800, 2000).
    answer = query("/api/login", "1000")
    assert (answer["count"], answer["exact"]) == (3, True)
    # (950, 2000] cuts (900, 1000], which holds 1000: the true 4 within the bounds.
    answer = query("/api/login", "1050")
    assert answer["low"] <= 4 <= answer["high"]
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


def test_a_window_outside_the_data_says_where_the_data_begins_and_ends(
    tmp_path: Path, state_env: Path
) -> None:
    rows = [{"endpoint": "/a", "ts": 1_767_225_600 + i} for i in range(0, 3600, 10)]
    path = tmp_path / "h.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ok(["replay", str(path), "-s", "sliding", "--max-window", "600"])
    before = ok(["query", "/a", "--last", "1h", "--now", "2026-01-01T00:00:00Z"])
    assert "at least 0 hits" in before.stdout
    assert "it has no data at or before 2026-01-01T00:48:" in before.stderr  # the horizon
    after = ok(["query", "/a", "--last", "5m", "--now", "2026-01-02T00:00:00Z"])
    assert "0 hits in the last 5m (exact)" in after.stdout
    assert "ends after the latest hit the state has seen (2026-01-01T00:59:50Z)" in after.stderr


def test_json_and_csv_list_the_first_100_matches_and_count_them_all(tmp_path: Path) -> None:
    lines = [{"endpoint": f"/e/{i:04d}", "ts": 1_700_000_000 + i} for i in range(250)]
    source = tmp_path / "many.ndjson"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ok(["replay", str(source), "-s", "sliding", "--max-window", "1d"])
    answer = ok_json(["query", "/e/*", "--last", "1d", "--json"])
    names = sorted(line["endpoint"] for line in lines)
    assert answer["matched"] == names[:100] and answer["matched_count"] == 250
    assert answer["count"] == 250
    row = ok(["query", "/e/*", "--last", "1d", "--csv"]).stdout.splitlines()[1]
    assert ";".join(names[:100]) in row


def test_a_literal_target_with_glob_characters_cannot_hide_the_globs_sum(tmp_path: Path) -> None:
    """A scanner's request for the target `/api/*` made `query '/api/*'` answer for it alone,
    "exact" (QA I6): a glob now names every endpoint it matches and the one of its name;
    brackets ask for that one alone."""  # noqa: D205, D209
    lines = [f'10.0.0.{i} - - [27/Nov/2026:12:00:0{i} +0000] "GET {target} HTTP/1.1" 200 5'
             for i, target in enumerate(["/api/users/1", "/api/users/2", "/api/*", "/api/login",
                                         "/[x]", "/x"])]  # fmt: skip
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    state = ["--state", str(tmp_path / "s.db")]
    ok([*state, "replay", str(log), "-s", "sliding", "--max-window", "1d"])
    for pattern, count, matched in [
        ("/api/*", 4, ["/api/*", "/api/login", "/api/users/1", "/api/users/2"]),
        ("*", 6, None),
        ("/api/[*]", 1, ["/api/*"]),
        ("/[x]", 2, ["/[x]", "/x"]),
        ("/[[]x]", 1, ["/[x]"]),
    ]:
        answer = ok_json([*state, "query", pattern, "--last", "1d", "--json"])
        assert answer["count"] == count, pattern
        assert matched is None or answer["matched"] == matched, pattern
    rows = ok_json([*state, "top", "/api/*", "--last", "1d", "--json"])
    assert sorted(row["endpoint"] for row in rows) == ["/api/*", "/api/login", "/api/users/1",
                                                       "/api/users/2"]  # fmt: skip


@pytest.mark.parametrize("strategy", ["ehist", "auto", "sliding"])
def test_answers_of_a_strategy_that_refused_late_hits_in_its_window_say_so(
    strategy: str, tmp_path: Path, state_env: Path
) -> None:
    """3,000 hits 1.2 s apart, then 300 stamped 10 min back: ehist and auto refuse them
    (more than --max-lateness behind), sliding takes them; a window that may hold them says
    so, is not exact and its upper bound takes them in (QA L4), one within the lateness
    allowance before the clock is unchanged."""  # noqa: D205, D209
    t0 = 1_795_000_000
    hits = [("/a", t0 + 1.2 * i) for i in range(3000)] + [
        ("/a", t0 + 3000 + 0.1 * i) for i in range(300)
    ]
    ok(["replay", str(write_ndjson(tmp_path / "late.ndjson", hits)), "-s", strategy])
    warned = "refused 300 hits of this state as too late"
    for command in (["query", "/a", "--last", "30m"], ["top", "--last", "30m"]):
        shown = ok(command)
        assert (warned in shown.stderr) == (strategy != "sliding")
    assert warned not in ok(["query", "/a", "--last", "30s"]).stderr
    truth = 1500 + 300  # the hits on time after the window's start, and every refused one
    for answer in (
        ok_json(["query", "/a", "--last", "30m", "--json"]),
        ok_json(["top", "--last", "30m", "--json"])[0],
    ):
        assert answer["low"] <= truth <= answer["high"]
        assert answer["exact"] == (answer["count"] == truth)
    assert ok_json(["query", "/a", "--last", "30s", "--json"])["exact"]


@pytest.mark.parametrize("strategy", ["ehist", "auto"])
def test_an_append_cannot_raise_the_allowance_over_refused_hits(
    strategy: str, tmp_path: Path, state_env: Path
) -> None:
    """A hit refused under --max-lateness 60 lies before clock - 60: raising the allowance
    made a window starting after clock - 300 exact though it may hold one (QA S1). Refused
    once a hit has been refused; lowering it, or raising it with nothing refused, is fine."""  # noqa: D205, D209
    t0 = 1_795_000_000
    on_time = write_ndjson(tmp_path / "a.ndjson", [("/a", t0 + 5.0 * i) for i in range(200)])
    ok(["replay", str(on_time), "-s", strategy, "--max-lateness", "60"])
    ok(["replay", "--append", "--again", str(on_time), "--max-lateness", "120"])  # none refused
    late = write_ndjson(tmp_path / "b.ndjson", [("/a", t0 + 895.0)])
    assert "1 too late" in ok(["replay", "--append", str(late)]).stdout
    later = write_ndjson(tmp_path / "c.ndjson", [("/a", t0 + 1000.0)])
    refused = run(["replay", "--append", str(later), "--max-lateness", "300"])
    assert_error(refused, 2, "cannot raise --max-lateness to 300 s")
    ok(["replay", "--append", str(later), "--max-lateness", "100"])
    answer = ok_json(["query", "/a", "--last", "110", "--json"])
    truth = 2 * 21 + 1 + 1  # on time in (890, 1000] (given twice), the refused one, the new one
    assert answer["low"] <= truth <= answer["high"] and not answer["exact"]

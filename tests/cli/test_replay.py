"""`hitcount replay`: replace or append, formats, gzip, stdin, bad lines, --strict.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

import gzip
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.cli.conftest import HAND_HITS, SLIDING, assert_inert, metrics, oracle_count
from tests.cli_helpers import (
    assert_error,
    ndjson_hit,
    ok,
    ok_json,
    pairs,
    query,
    read_csv,
    run,
    write_ndjson,
)
from tests.conftest import SAMPLES, Oracle


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
    ok(["replay", str(hits), "--append", "--again", *SLIDING])
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
    result = run(["replay", str(hits), "--append", "--again", "--max-lateness", "100", "--json"])
    if result.exit_code == 0:
        assert json.loads(result.stdout)["metrics"]["max_lateness_s"] == 100
    else:
        assert_error(result, 2, "--max-lateness")


@pytest.mark.parametrize(
    ("given", "seconds"), [("2m", 120), ("1m30s", 90), ("45", 45), ("1e3", 1000)]
)
def test_max_lateness_takes_a_duration(tmp_path: Path, given: str, seconds: float) -> None:
    # clock 1000; a line 100 s late counts while the allowance is at least 100 s
    hits = write_ndjson(tmp_path / "h.ndjson", [("/a", 1000.0), ("/a", 900.0)])
    sliding = ["--strategy", "sliding", "--max-window", "10"]
    report = ok_json(["replay", str(hits), *sliding, "--max-lateness", given, "--json"])
    assert report["metrics"]["max_lateness_s"] == seconds
    assert report["hits_kept"] == (2 if seconds >= 100 else 1)


@pytest.mark.parametrize("given", ["-5", "soon", "nan", "1e400"])
def test_max_lateness_refuses_what_is_not_a_duration(tmp_path: Path, given: str) -> None:
    hits = write_ndjson(tmp_path / "h.ndjson", [("/a", 1000.0)])
    assert_error(run(["replay", str(hits), "--max-lateness", given]), 2, "--max-lateness")


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
    result = run(["replay", str(good), "bad.ndjson", "--strict", "--append", "--again"])
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


def test_rotated_logs_named_newest_first_are_replayed_in_time_order(
    tmp_path: Path, state_env: Path
) -> None:
    t0 = 1_767_225_600
    names = ["access.log", "access.log.1", "access.log.2.gz"]  # as the shell sorts them
    for age, name in enumerate(names):
        start = t0 + (2 - age) * 5000  # access.log is the newest
        lines = "".join(json.dumps({"endpoint": "/a", "ts": start + i}) + "\n" for i in range(5000))
        data = lines.encode()
        (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    result = ok(["replay", "--format", "ndjson", *(str(tmp_path / n) for n in names)])
    assert "15000 hits kept, 0 too late" in result.stdout
    assert "replaying the inputs in time order (by their first hit)" in result.stderr
    assert result.stderr.index("access.log.2.gz") < result.stderr.index("access.log.1")
    assert metrics()["total_hits"] == 15000


def test_counts_of_one_are_singular(tmp_path: Path, state_env: Path) -> None:
    path = tmp_path / "one.ndjson"
    path.write_text('{"endpoint": "/a", "ts": 1767225600}\nnot json\n')
    out = ok(["replay", str(path)]).stdout
    assert ": 1 hit kept, 0 too late, 1 bad line\n" in out
    assert "state: fixed · 1 endpoint · 1 entry ·" in out
    assert "replayed 2 lines" in out


def test_trace_json_to_stdout_keeps_stdout_for_the_events_alone(
    tmp_path: Path, state_env: Path
) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    snapshot = tmp_path / "s.json"
    for args, summary in (
        (["replay", str(good), "--trace-json", "-"], "saved to"),
        (["swap", "morris", "--trace-json", "-"], "swapped"),
        (["snapshot", "restore", str(snapshot), "--trace-json", "-"], "restored"),
    ):
        if args[0] == "snapshot":
            ok(["snapshot", "save", str(snapshot)])
        result = ok(args)
        events = [json.loads(line) for line in result.stdout.splitlines()]  # every line
        assert events and all("event" in event for event in events), args
        assert summary in result.stderr, args


def test_a_replay_longer_than_the_strategy_keeps_says_how_much_and_which_option(
    tmp_path: Path, state_env: Path
) -> None:
    rows = [{"endpoint": "/a", "ts": 1_767_225_600 + i * 60} for i in range(100)]  # 99 min
    path = tmp_path / "h.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    warned = ok(["replay", str(path), "-s", "sliding", "--max-window", "600"]).stderr
    assert "the input goes back to 2026-01-01T00:00:00Z, but sliding keeps only what" in warned
    assert "--max-window 2h would keep it" in warned  # 99 min + 60 s of lateness, rounded up
    assert "can no longer be answered" not in ok(["replay", str(path)]).stderr  # fixed: 1 day
    assert "can no longer be answered" not in ok(["replay", str(path), "-s", "morris"]).stderr


def test_a_buffer_shorter_than_the_lateness_allowance_is_adjusted_with_a_note(
    tmp_path: Path,
) -> None:
    """The issue's four hits: the one 125 s late is inside --max-lateness 300 and counts."""
    log = write_ndjson(tmp_path / "late.ndjson", [("/a", t) for t in (0.0, 10.0, 130.0, 5.0)])
    result = ok(["replay", str(log), "-s", "ehist", "--buffer", "5", "--max-lateness", "300"])
    assert "note: --buffer 5 is shorter than --max-lateness 300" in result.stderr
    answer = query("/a", "1000")
    assert (answer["count"], answer["exact"]) == (4, True)
    quiet = ok(["replay", str(log), "-s", "ehist", "--max-lateness", "60"])
    assert "--buffer" not in quiet.stderr


def test_an_append_onto_no_state_says_it_starts_one(tmp_path: Path) -> None:
    """A typo in a cron job's --state started a new state in silence (QA round 14)."""
    source = tmp_path / "a.ndjson"
    source.write_text('{"endpoint": "/a", "ts": 1}\n')
    state = ["--state", str(tmp_path / "typo.db")]
    first = ok([*state, "replay", "--append", str(source)])
    assert "yet: --append starts a new one" in first.stderr
    again = ok([*state, "replay", "--append", "--again", str(source)])
    assert "starts a new one" not in again.stderr


def test_one_ancient_timestamp_does_not_advise_a_longer_retention(tmp_path: Path) -> None:
    """A line stamped 0 among an hour of hits is too late, and said so; it advised
    `--max-window 20785d` (QA P5). An input whose old hits were kept, then pruned, still
    gets the advice."""  # noqa: D205, D209
    rows = [{"endpoint": "/a", "ts": 1_795_000_000 + 60 * i} for i in range(10)]
    source = tmp_path / "a.ndjson"
    source.write_text("".join(json.dumps(row) + "\n" for row in [*rows[:5], {"endpoint": "/a",
                      "ts": 0}, *rows[5:]]))  # fmt: skip
    shown = ok(["--state", str(tmp_path / "s.db"), "replay", str(source), "-s", "sliding",
                "--max-window", "400d"])  # fmt: skip
    assert "1 too late" in shown.stdout and "would keep it" not in shown.stderr
    pruned = ok(["--state", str(tmp_path / "p.db"), "replay", str(source), "-s", "sliding",
                 "--max-window", "2m"])  # fmt: skip
    assert "would keep it" in pruned.stderr

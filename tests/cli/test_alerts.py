"""`replay --alert`: lines on stderr, `--trace-json`, `--exit-on-alert`, bad rules, parallel."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hitcount import HitCounter, replay
from hitcount.errors import ExitCode
from hitcount.ingest import parallel, workers
from hitcount.model.events import THRESHOLD_CLEARED, THRESHOLD_EXCEEDED, Event
from tests.cli_helpers import assert_error, ok, ok_json, plain_output_env, run, write_ndjson

T0 = 1_700_000_000.0


def stamp(ts: float) -> str:
    """ISO 8601 the test's own way."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(autouse=True)
def _plain(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain_output_env(monkeypatch)
    monkeypatch.chdir(state_env.parent)


def burst_file(path: Path) -> Path:
    """/login at 0..4, an escape-laden endpoint twice, then /other at 100 (seconds after T0)."""
    hits = [("/login", T0 + t) for t in range(5)]
    hits += [("/x\x1b[2J", T0 + 6), ("/x\x1b[2J", T0 + 7), ("/other", T0 + 100)]
    return write_ndjson(path, hits)


def test_alerts_print_one_line_each_on_stderr(tmp_path: Path) -> None:
    burst_file(tmp_path / "burst.ndjson")
    result = ok(["replay", "burst.ndjson", "--alert", "/login>3/10s", "--alert", "/x*>1/1m"])
    # /login: 4 hits in (-7, 3] at 3; its latest 4 are 1..4, so at or below 3 from 11,
    # cleared at 21 (noticed at 100). /x...: 2 hits at 7; falls at 66, cleared at 126 (not yet).
    assert result.stderr.splitlines() == [
        f"hitcount: alert: /login: 4 hits in 10s > 3 at {stamp(T0 + 3)} (/login>3/10s)",
        f"hitcount: alert: /x\\x1b[2J: 2 hits in 1m > 1 at {stamp(T0 + 7)} (/x*>1/60s)",
        f"hitcount: alert cleared: /login: 0 hits in 10s at {stamp(T0 + 21)},"
        " <= 3 for a full window (/login>3/10s)",
    ]
    assert "\x1b" not in result.stderr
    assert result.stdout.startswith("replayed 8 lines")


def test_alerts_go_to_trace_json_and_stay_in_the_state(tmp_path: Path) -> None:
    burst_file(tmp_path / "burst.ndjson")
    ok(["replay", "burst.ndjson", "--alert", "/login>3/10s", "--trace-json", "trace.json"])
    events = [json.loads(line) for line in (tmp_path / "trace.json").read_text().splitlines()]
    alerts = [e for e in events if e["event"].startswith("threshold_")]
    common = {"endpoint": "/login", "limit": 3, "window": 10.0, "rule": "/login>3/10s"}
    assert alerts == [
        {"event": "threshold_exceeded", "clock": T0 + 3, "count": 4, "ts": T0 + 3, **common},
        {"event": "threshold_cleared", "clock": T0 + 100, "count": 0, "ts": T0 + 21, **common},
    ]
    remembered = ok_json(["events", "--json"])
    assert [e for e in remembered if e["event"].startswith("threshold_")] == alerts


def test_exit_on_alert_exits_9_and_saves_the_hits_read_up_to_that_batch(tmp_path: Path) -> None:
    # The alert fires in the first batch: a 1 MiB block of lines (the C scanner reads CSV),
    # or 8192 lines when hitcount was built without it.
    from hitcount.ingest import lines
    from hitcount.ingest.reader import _CHUNK_BYTES

    rows = [f"/e{i % 5},{T0 + i}" for i in range(150_000)]
    rows[100:103] = [f"/login,{T0 + 100}", f"/login,{T0 + 101}", f"/login,{T0 + 102}"]
    text = "\n".join(rows) + "\n"
    (tmp_path / "big.csv").write_text(text, encoding="utf-8")
    batch = 8192 if lines.native is None else text[:_CHUNK_BYTES].count("\n")

    result = run(["replay", "big.csv", "--alert", "/login>2/1m", "--exit-on-alert"])

    assert result.exit_code == ExitCode.ALERT == 9
    assert result.stdout == ""
    # the rest of the batch is counted and saved, so its alerts are shown (and hooked) too
    assert result.stderr.splitlines() == [
        f"hitcount: alert: /login: 3 hits in 1m > 2 at {stamp(T0 + 102)} (/login>2/60s)",
        f"hitcount: alert cleared: /login: 0 hits in 1m at {stamp(T0 + 220)}, <= 2 for a full"
        " window (/login>2/60s)",
        "hitcount: error: stopped at the first alert (--exit-on-alert): /login went above 2"
        f" hits in 60s at {stamp(T0 + 102)}; the hits read up to the end of that batch were"
        " counted and saved, and their alerts shown",
    ]
    shown = [e for e in ok_json(["events", "--json"]) if e["event"].startswith("threshold_")]
    assert [e["event"] for e in shown] == ["threshold_exceeded", "threshold_cleared"]
    metrics = ok_json(["metrics", "--json"])
    assert metrics["total_hits"] == metrics["lines_read"] == batch < len(rows)
    assert metrics["clock"] == T0 + batch - 1
    assert ok_json(["query", "/login", "--last", "1d", "--json"])["count"] == 3

    ok(["replay", "big.csv", "--alert", "/login>2/1m"])  # without the flag: to the end
    assert ok_json(["metrics", "--json"])["total_hits"] == len(rows)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--alert", "/login>100"], "--alert must look like ENDPOINT>LIMIT/WINDOW, e.g."),
        (["--alert", "/login"], "--alert must look like ENDPOINT>LIMIT/WINDOW, e.g."),
        (["--alert", "/login>lots/60s"], "--alert must look like ENDPOINT>LIMIT/WINDOW"),
        (["--alert", "/login>5/soon"], "--alert '/login>5/soon': the window must be a dura"),
        (["--alert", "/login>5/0"], "the window must be greater than 0"),
        (["--alert", "/a>1/1m", "--alert", "oops"], "got 'oops'"),
        (["--exit-on-alert"], "--exit-on-alert needs at least one --alert"),
    ],
)
def test_bad_alert_rules_are_usage_errors_and_touch_no_state(
    tmp_path: Path, state_env: Path, args: list[str], fragment: str
) -> None:
    burst_file(tmp_path / "burst.ndjson")
    ok(["replay", "burst.ndjson"])
    before = state_env.read_bytes()
    assert_error(run(["replay", "burst.ndjson", *args]), ExitCode.USAGE, fragment)
    assert state_env.read_bytes() == before


def test_a_bad_rule_says_to_quote_it(tmp_path: Path) -> None:
    burst_file(tmp_path / "burst.ndjson")
    result = run(["replay", "burst.ndjson", "--alert", "/login"])
    assert "hint: LIMIT is a whole number of hits; quote the rule" in result.stderr


def test_the_parallel_replay_alerts_exactly_as_hit_by_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    hits, ts = [], T0
    for i in range(40_000):
        ts += rng.expovariate(20.0)
        burst = 1000 <= i % 5000 < 1100  # every 5000 hits, /e1 gets 100 in a row
        hits.append(("/e1" if burst else f"/e{rng.randrange(7)}", round(ts, 3)))
    path = write_ndjson(tmp_path / "big.ndjson", hits)
    rules = ["/e[0-2]>40/5s", "/e6>3/1s"]

    def alerts_of(counter: HitCounter) -> list[tuple[str, object]]:
        seen: list[tuple[str, object]] = []

        def keep(event: Event) -> None:
            seen.append((event.name, {**event.payload, "clock": event.clock}))

        for rule in rules:
            counter.add_alert(rule)
        counter.subscribe(THRESHOLD_EXCEEDED, keep)
        counter.subscribe(THRESHOLD_CLEARED, keep)
        return seen

    one_by_one = HitCounter("fixed")
    expected = alerts_of(one_by_one)
    for endpoint, when in hits:
        one_by_one.record(endpoint, when)

    monkeypatch.setenv("HITCOUNT_WORKERS", "2")
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 100_000)
    assert parallel.worker_count(str(path)) == 2
    in_parallel = HitCounter("fixed")
    got = alerts_of(in_parallel)
    replay(in_parallel, [str(path)])

    assert got == expected
    names = [name for name, _ in expected]
    assert names.count(THRESHOLD_EXCEEDED) >= 8 and names.count(THRESHOLD_CLEARED) >= 8


@pytest.mark.parametrize("suffix", [".db", ".json"])
def test_a_restored_snapshot_carries_a_burst_in_progress(tmp_path: Path, suffix: str) -> None:
    """The alert state goes with a snapshot: an --append after `snapshot restore` with the
    same rule continues the burst, as one after the original state does (no second alert)."""  # noqa: D205, D209
    first, more = tmp_path / "first.ndjson", tmp_path / "more.ndjson"
    first.write_text('{"endpoint": "/a", "ts": 1700000000}\n{"endpoint": "/a", "ts": 1700000030}\n')
    more.write_text('{"endpoint": "/a", "ts": 1700000070}\n')
    rule = ["--alert", "/a>0/1h"]
    original = ["--state", str(tmp_path / f"original{suffix}")]
    assert "alert:" in ok([*original, "replay", str(first), *rule]).stderr
    snapshot = tmp_path / "snap.json"
    ok([*original, "snapshot", "save", str(snapshot)])
    restored = ["--state", str(tmp_path / f"restored{suffix}")]
    ok([*restored, "snapshot", "restore", str(snapshot)])
    for state in (original, restored):
        assert "alert:" not in ok([*state, "replay", "--append", str(more), *rule]).stderr


@pytest.mark.parametrize(
    ("limit", "deltas", "expected"),
    [
        (2, (0, 1, 2, 100, 120), [("threshold_exceeded", 2, 3), ("threshold_cleared", 120, 1)]),
        (1, (0, 1, 100, 120), [("threshold_exceeded", 1, 2), ("threshold_cleared", 120, 1),
                               ("threshold_exceeded", 120, 2)]),
    ],
)  # fmt: skip
def test_a_hit_at_the_clearing_instant_is_counted_after_the_clear(
    tmp_path: Path, limit: int, deltas: tuple[int, ...], expected: list[tuple[str, int, int]]
) -> None:
    """As the README says (QA R7): the clear at B+120 counts the hits read before it (B+100),
    and the hit at B+120 comes after; above the limit again, it alerts at once."""  # noqa: D205, D209
    b = 1_795_780_800
    source = write_ndjson(tmp_path / "a.ndjson", [("/x", b + d) for d in deltas])
    ok(["replay", str(source), "--alert", f"/x>{limit}/60s"])
    got = [(e["event"], e["ts"] - b, e["count"]) for e in ok_json(["events", "--json"])]
    assert got == expected

"""`hitcount swap`: conversions downhill, refusals until --reset.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import HAND_HITS, SLIDING, metrics
from tests.cli_helpers import assert_error, ok, ok_json, query, run, write_ndjson
from tests.conftest import fresh_namespace


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
    # (-10, 2000] is on bucket edges: the hit at 0 is in the whole bucket (-10, 0].
    assert query("/api/login", "2010")["count"] == 5
    assert query("/api/login", "2010")["exact"] is True
    assert query("/api/login", "1000")["low"] <= 3 <= query("/api/login", "1000")["high"]
    ok(["swap", "morris", "--seed", "3"])
    answer = query("/api/login", "60")
    assert answer["all_time"] is True
    assert metrics()["total_hits"] == len(HAND_HITS)


def _hits(count: int, start: float, step: float) -> list[dict[str, object]]:
    return [{"endpoint": f"/e{i % 3}", "ts": start + i * step} for i in range(count)]


def test_a_swap_that_keeps_less_says_how_much_and_needs_force(
    tmp_path: Path, state_env: Path
) -> None:
    t0 = 1_767_225_600.0
    rows = _hits(2000, t0, 30.0)  # one hit every 30 s over about 16.7 h
    path = tmp_path / "h.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ok(["replay", str(path), "-s", "sliding", "--max-window", "86400"])
    before = state_env.read_bytes()
    clock = max(float(str(row["ts"])) for row in rows)
    # sliding 600 keeps what is after floor((clock - 600 - 60 lateness) / 37.5) * 37.5
    horizon = math.floor((clock - 600 - 60) / 37.5) * 37.5
    dropped = sum(1 for row in rows if float(str(row["ts"])) <= horizon)
    result = run(["swap", "sliding", "--max-window", "600"])
    assert_error(result, 7, f"swapping would drop {dropped} hits at or before")
    assert "--force" in result.stderr
    assert state_env.read_bytes() == before
    assert_error(run(["swap", "ehist"]), 7, "keeps less than the state holds")  # 1 h by default

    forced = ok(["swap", "sliding", "--max-window", "600", "--force"])
    assert f"(dropped {dropped} hits at or before" in forced.stdout
    assert query("*", "1d")["count"] == len(rows) - dropped


def test_a_swap_onto_the_same_strategy_and_parameters_does_nothing(
    good_state: bytes, state_env: Path
) -> None:
    assert SLIDING[:2] == ["--strategy", "sliding"]
    name, flags = "sliding", SLIDING[2:]  # what good_state replayed with
    result = ok(["swap", name, *flags])
    assert result.stdout.startswith("nothing to do: the state already uses")
    assert "strategy_swapped" not in [e["event"] for e in ok_json(["events", "--json"])]
    assert ok_json(["swap", name, *flags, "--json"])["unchanged"] is True


def test_a_swap_to_morris_draws_the_same_levels_from_every_store(tmp_path: Path) -> None:
    """The counters are fed in one order (sorted endpoints), not the order a store loads."""
    hits = [(f"/e{(i * 7919) % 97}", 1_000.0 + i) for i in range(3_000)]
    log = write_ndjson(tmp_path / "h.ndjson", hits)
    answers = []
    for name in ("s.db", "s.json"):
        state = ["--state", str(tmp_path / name)]
        ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
        ok([*state, "swap", "morris", "--seed", "7"])
        answers.append(ok_json([*state, "top", "--limit", "100", "--json"]))
    assert answers[0] == answers[1]


@pytest.mark.parametrize("kind", ["db", "json", "redis"])
def test_after_a_swap_to_morris_no_hit_is_late_on_any_store(
    tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    """`morris` keeps no time, so no hit is ever late; a Redis append took the swap's
    horizon for a cut-off and refused an older hit the file stores kept (QA J2)."""  # noqa: D205, D209
    if kind == "redis":
        state = ["--store", f"{request.getfixturevalue('redis_url')}?namespace={fresh_namespace()}"]
    else:
        state = ["--state", str(tmp_path / f"s.{kind}")]
    first, older = tmp_path / "first.ndjson", tmp_path / "older.ndjson"
    first.write_text('{"endpoint": "/a", "ts": 1795000000}\n')
    older.write_text('{"endpoint": "/a", "ts": 1794990000}\n')
    ok([*state, "replay", str(first), "-s", "sliding", "--max-window", "60"])
    ok([*state, "swap", "morris"])
    appended = subprocess.run(  # a process of its own: numpy unloaded, the per-line path
        [sys.executable, "-m", "hitcount", *state, "replay", str(older), "--append"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "1 hit kept, 0 too late" in appended.stdout
    figures = ok_json([*state, "metrics", "--json"])
    assert (figures["total_hits"], figures["late_hits"]) == (2, 0)


@pytest.mark.parametrize("target", ["ehist", "auto"])
def test_a_swap_keeps_the_lateness_allowance_exact(
    target: str, tmp_path: Path, state_env: Path
) -> None:
    """--buffer 0 under --max-lateness 600: a hit 400 s behind the clock is still taken
    after the swap, as a replay straight into the strategy takes it."""  # noqa: D205, D209
    first = [("/a", 1795000000.0), ("/a", 1795000200.0), ("/a", 1795000400.0), ("/b", 1795000500.0)]
    ok(["replay", str(write_ndjson(tmp_path / "p1.ndjson", first)), "-s", "sliding",
        "--max-window", "1d", "--max-lateness", "600"])  # fmt: skip
    ok(["swap", target, "-p", "max_window_s=3600", "-p", "buffer_s=0"])
    late = ok(
        ["replay", "--append", str(write_ndjson(tmp_path / "p2.ndjson", [("/a", 1795000100.0)]))]
    )
    assert "1 hit kept, 0 too late" in late.stderr + late.stdout
    assert query("/a", "1h")["count"] == 4


@pytest.mark.parametrize("kind", ["db", "json", "redis"])
@pytest.mark.parametrize("target", ["ehist", "auto"])
@pytest.mark.parametrize(
    ("source", "swap"),
    [(["sliding", "--max-window", "1h"], ["-p", "max_window_s=7200", "--force"]),
     (["fixed", "--retention", "1h"], ["--reset"])],
)  # fmt: skip
def test_after_a_swap_into_ehist_new_hits_are_not_late(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    kind: str,
    target: str,
    source: list[str],
    swap: list[str],
) -> None:
    """A swap into a longer ehist/auto window (or `--reset`) kept a horizon whose
    `horizon + max_window_s` lay after the clock: every new hit was refused as late for up
    to a window of log time, on every store (QA 14b Q1). Hits inside the allowance count,
    by the per-line path and by batches, and one past it is still refused."""  # noqa: D205, D209
    if kind == "redis":
        state = ["--store", f"{request.getfixturevalue('redis_url')}?namespace={fresh_namespace()}"]
    else:
        state = ["--state", str(tmp_path / f"s.{kind}")]
    t0 = 1_795_000_000
    first = write_ndjson(tmp_path / "a.ndjson", [("/a", t0 + 5.0 * i) for i in range(200)])
    ok([*state, "replay", str(first), "-s", *source, "--max-lateness", "600"])
    ok([*state, "swap", target, *swap])
    clock = t0 + 995
    late_ok = [("/a", clock + 1.0), ("/a", clock + 5.0), ("/a", clock + 1005.0)]
    for number, hits in enumerate([late_ok[:1], late_ok[1:], [("/a", clock - 2000.0)]]):
        source = write_ndjson(tmp_path / f"b{number}.ndjson", hits)
        shown = subprocess.run(  # the per-line path, numpy unloaded
            [sys.executable, "-m", "hitcount", *state, "replay", str(source), "--append"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        expected = "0 hits kept, 1 too late" if number == 2 else f"{len(hits)} hit"
        assert expected in shown.stdout, (number, shown.stdout)
    batch = write_ndjson(tmp_path / "c.ndjson", [("/a", clock + 1005.0 + s) for s in range(3)])
    assert "3 hits kept, 0 too late" in ok([*state, "replay", str(batch), "--append"]).stdout


@pytest.mark.parametrize("target", ["ehist", "auto"])
@pytest.mark.parametrize("pad", [0, 80])  # under 256 KiB: line by line; over: in batches
def test_after_a_swap_into_a_longer_window_a_batch_keeps_every_hit_in_order(
    tmp_path: Path, target: str, pad: int
) -> None:
    """A batch is recorded endpoint by endpoint: one endpoint's newest hit moved the late
    edge before the next endpoint's older hits were taken, refusing half of a log in time
    order (QA 16 T1). Every hit in order is kept, by batches and line by line alike."""  # noqa: D205, D209
    state = ["--state", str(tmp_path / "s.db")]
    first = write_ndjson(
        tmp_path / "p.ndjson", [("/a", 1_000_000.0 + i) for i in range(0, 7200, 10)]
    )
    ok([*state, "replay", str(first), "-s", "sliding", "--max-window", "1h", "--max-lateness",
        "120"])  # fmt: skip
    ok([*state, "swap", target, "-p", "max_window_s=7200", "--force"])
    log = tmp_path / "b.ndjson"
    log.write_text("".join(
        json.dumps({"endpoint": e, "ts": 1_007_190 + i, "pad": "x" * pad}) + "\n"
        for i in range(1, 3001) for e in ("/a", "/b")
    ))  # fmt: skip
    shown = subprocess.run(  # a process of its own: the size decides the path
        [sys.executable, "-m", "hitcount", *state, "replay", "--append", str(log)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "6000 hits kept, 0 too late" in shown.stdout

"""`hitcount swap`: conversions downhill, refusals until --reset.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import HAND_HITS, metrics
from tests.cli_helpers import assert_error, ok, ok_json, query, run, write_ndjson


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

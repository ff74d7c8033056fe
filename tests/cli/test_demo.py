"""`hitcount demo`.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

from tests.cli_helpers import assert_error, ok, ok_json, run

DEMO_TITLES = (
    "Fixed window record and query",
    "Sliding vs fixed, same hits, compared counts",
    "Swap to Morris approximation",
    "High-volume hits with pruning",
    "Snapshot, mutate, restore",
)


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


def test_every_scenario_shows_a_trace_of_its_events() -> None:
    scenarios = ok_json(["demo", "-n", "2", "--json"])
    (second,) = scenarios
    assert [e["event"] for e in second["events"]] == ["hit_recorded"] * 3  # the first hits
    assert second["untraced"] == {"hit_recorded": 197}  # 200 hits, 3 shown
    text = ok(["demo", "-n", "2"]).stdout
    assert "event hit_recorded endpoint=/api/search" in text
    assert "... and 197 more hit_recorded events" in text

"""`hitcount events`.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import ok, ok_json, run


def test_events_lists_swaps_text_and_json(good_state: bytes) -> None:
    assert ok_json(["events", "--json"]) == []
    empty = ok(["events"])
    assert "no such events remembered" in empty.stderr
    assert empty.stdout == ""  # no table header over nothing
    ok(["swap", "fixed", "--window", "60"])
    events = ok_json(["events", "--json"])
    assert [event["event"] for event in events] == ["strategy_swapped"]
    assert events[0]["old"] == "sliding(max_window_s=3600)"
    assert events[0]["new"].startswith("fixed(window_s=60")
    assert [e["event"] for e in ok_json(["events", "--json"])] == ["strategy_swapped"]  # no prune
    text = ok(["events"]).stdout
    assert "strategy_swapped" in text
    assert "1970-01-01T00:33:20Z" in text  # the replay clock, 2000 s


def test_events_that_are_never_remembered_are_refused_with_the_way_to_see_them(
    good_state: bytes,
) -> None:
    for name in ("pruned", "hit_recorded", "metrics_updated"):
        result = run(["events", "--name", name])
        assert result.exit_code == 2
        assert f"{name} events are not remembered" in result.stderr
        assert "--trace-json" in result.stderr
    help_text = ok(["events", "--help"]).stdout
    assert "prunes" not in help_text.split("Hits, prunes")[0]  # no longer promised


def test_events_beyond_the_limit_are_said_to_be_left_out(tmp_path: Path) -> None:
    import json

    log = tmp_path / "e.ndjson"  # 80 endpoints past a budget of 5: 80 switches
    log.write_text("".join(json.dumps({"endpoint": f"/e{i % 80}", "ts": 1000 + i}) + "\n"
                           for i in range(800)))  # fmt: skip
    for name in ("s.db", "s.json"):
        state = ["--state", str(tmp_path / name)]
        ok([*state, "replay", str(log), "-s", "auto", "--memory-budget", "5"])
        shown = ok([*state, "events", "--json"])
        rows = json.loads(shown.stdout)
        assert len(rows) == 50 and rows[-1]["endpoint"] == "/e79"  # the last 50, oldest first
        assert "earlier ones were left out (--limit N shows more)" in shown.stderr
        every = ok([*state, "events", "-n", "80"])
        assert every.stdout.count("endpoint_switched") == 80
        assert "left out" not in every.stderr


def test_until_alone_keeps_every_event_up_to_it(tmp_path: Path) -> None:
    """`--until X` alone was the hour before X, and its empty answer said the log held no
    such events (QA R4); `--last` still bounds it, and an empty answer names its window."""  # noqa: D205, D209
    log, state = tmp_path / "a.ndjson", ["--state", str(tmp_path / "s.db")]
    rows = [{"endpoint": "/x", "ts": t} for t in (1_000_000, 1_000_001, 1_000_002, 1_009_000)]
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ok([*state, "replay", str(log), "--alert", "/x>2/60s"])
    every = ok_json([*state, "events", "--json"])
    assert [e["event"] for e in every] == ["threshold_exceeded", "threshold_cleared"]
    exceeded_at = every[0]["clock"]
    assert ok_json([*state, "events", "--until", "1008000", "--json"]) == every[:1]
    assert ok_json([*state, "events", "--now", "1008000", "--json"]) == every[:1]
    shown = ok([*state, "events", "--until", "1008000", "--last", "1h"])
    assert "no such events in the state's event log with a log clock in" in shown.stderr
    assert exceeded_at == 1_000_002


def test_a_json_state_names_the_window_and_says_it_keeps_the_last_events_when_full(
    tmp_path: Path,
) -> None:
    """On a JSON (or Redis) state an empty window did not name itself, and the note that
    only the last 200 events are kept came with every empty answer (QA S5)."""  # noqa: D205, D209
    log, state = tmp_path / "a.ndjson", ["--state", str(tmp_path / "s.json")]
    rows = [{"endpoint": "/x", "ts": t} for t in (1_000_000, 1_000_001, 1_000_002, 1_009_000)]
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ok([*state, "replay", str(log), "--alert", "/x>2/60s"])
    shown = ok([*state, "events", "--until", "999999"])
    assert "no such events remembered with a log clock in the start .." in shown.stderr
    assert "keeps only its last" not in shown.stderr

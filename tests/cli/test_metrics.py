"""`hitcount metrics`.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.conftest import HAND_HITS, metrics
from tests.cli_helpers import ok, ok_json, write_ndjson
from tests.conftest import SAMPLES

METRICS_KEYS = {
    "total_hits",
    "endpoints_count",
    "pruned_events",
    "memory_entries",
    "state_bytes",
    "strategy",
    "bad_lines",
}


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
    assert "pruned" not in [e["event"] for e in ok_json(["events", "--json"])]


def test_metrics_shows_the_distinct_users_precision(tmp_path: Path) -> None:
    hits = [{"endpoint": f"/e{i % 3}", "ts": 1000 + i, "user": f"u{i % 50}"} for i in range(300)]
    first, more = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_text("".join(json.dumps(hit) + "\n" for hit in hits[:200]))
    more.write_text("".join(json.dumps(hit) + "\n" for hit in hits[200:]))
    for name in ("s.db", "s.json"):
        state = ["--state", str(tmp_path / name)]
        ok([*state, "replay", str(first)])
        assert ok_json([*state, "metrics", "--json"])["distinct_precision"] == 13
        ok([*state, "replay", "--append", str(more), "--distinct-precision", "10"])
        assert ok_json([*state, "metrics", "--json"])["distinct_precision"] == 10  # folded
        ok([*state, "replay", str(first), "--no-distinct"])
        assert ok_json([*state, "metrics", "--json"])["distinct_precision"] is None
        text = ok([*state, "metrics"]).stdout
        assert re.search(r"^distinct_precision +-$", text, re.MULTILINE)


def test_a_replays_json_metrics_are_the_counters_and_an_appends_the_stored_sizes(
    tmp_path: Path,
) -> None:
    """As the README says: a whole replay reports its counter's estimate of `state_bytes`
    and no file sizes; an append onto SQLite, like `metrics`, the file sizes."""  # noqa: D205, D209
    state = ["--state", str(tmp_path / "s.db")]
    whole = ok_json([*state, "replay", str(SAMPLES / "web.ndjson"), "--json"])["metrics"]
    assert "database_bytes" not in whole and whole["state_bytes"] > 0
    more = tmp_path / "more.ndjson"
    more.write_text('{"endpoint": "/x", "ts": 1795823999}\n')
    appended = ok_json([*state, "replay", "--append", str(more), "--json"])["metrics"]
    assert appended["state_bytes"] == appended["database_bytes"] + appended["wal_bytes"]
    stored = ok_json([*state, "metrics", "--json"])
    assert stored["database_bytes"] > 0 and stored["state_bytes"] == (
        stored["database_bytes"] + stored["wal_bytes"]
    )

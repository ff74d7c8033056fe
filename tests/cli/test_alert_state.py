"""Alert state is kept with the saved state: an `--append` continues a burst, then clears it.

Hand-computed case: rule `/a>2/10s`; the burst starts in the first file (3 hits by 102) and goes
on in the second (103-105); the last hit of /a is at 105, so the count falls to 2 at 113
(103 + 10) and the alert clears one quiet window later, at 123, noticed at the /b hit at 200.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import ok

RULE = "/a>2/10s"


def _write(path: Path, hits: list[tuple[str, float]]) -> str:
    path.write_text("".join(json.dumps({"endpoint": e, "ts": t}) + "\n" for e, t in hits))
    return str(path)


def _alerts(trace: Path) -> list[tuple[str, float]]:
    events = (json.loads(line) for line in trace.read_text().splitlines())
    return [(e["event"], e["ts"]) for e in events if e["event"].startswith("threshold_")]


@pytest.mark.parametrize("name", ["state.json", "state.db"])
def test_an_append_continues_a_burst_instead_of_announcing_it_again(
    tmp_path: Path, name: str
) -> None:
    state = ["--state", str(tmp_path / name)]
    first = _write(tmp_path / "1.ndjson", [("/a", 100), ("/a", 101), ("/a", 102)])
    second = _write(tmp_path / "2.ndjson", [("/a", 103), ("/a", 104), ("/a", 105)])
    third = _write(tmp_path / "3.ndjson", [("/b", 200)])
    trace = tmp_path / "trace.ndjson"
    ok([*state, "replay", first, "--alert", RULE, "--trace-json", str(trace)])
    assert _alerts(trace) == [("threshold_exceeded", 102)]
    ok([*state, "replay", "--append", second, "--alert", RULE, "--trace-json", str(trace)])
    assert _alerts(trace) == []  # the same burst: no second alert
    ok([*state, "replay", "--append", third, "--alert", RULE, "--trace-json", str(trace)])
    assert _alerts(trace) == [("threshold_cleared", 123)]
    fourth = _write(tmp_path / "4.ndjson", [("/a", 300), ("/a", 301), ("/a", 302)])
    ok([*state, "replay", "--append", fourth, "--alert", RULE, "--trace-json", str(trace)])
    assert _alerts(trace) == [("threshold_exceeded", 302)]  # a new burst alerts again


def test_a_rule_not_watched_in_between_keeps_its_tracks(tmp_path: Path) -> None:
    state = ["--state", str(tmp_path / "state.json")]
    first = _write(tmp_path / "1.ndjson", [("/a", 100), ("/a", 101), ("/a", 102)])
    quiet = _write(tmp_path / "2.ndjson", [("/c", 103)])
    more = _write(tmp_path / "3.ndjson", [("/a", 104)])
    trace = tmp_path / "trace.ndjson"
    ok([*state, "replay", first, "--alert", RULE])
    ok([*state, "replay", "--append", quiet])  # no --alert: the saved tracks stay
    ok([*state, "replay", "--append", more, "--alert", RULE, "--trace-json", str(trace)])
    assert _alerts(trace) == []

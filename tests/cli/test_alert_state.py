"""Alert state is kept with the saved state: an `--append` continues a burst, then clears it.

Hand-computed case: rule `/a>2/10s`; the burst starts in the first file (3 hits by 102) and goes
on in the second (103-105); the last hit of /a is at 105, so the count falls to 2 at 113
(103 + 10) and the alert clears one quiet window later, at 123, noticed at the /b hit at 200.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli_helpers import ok
from tests.conftest import fresh_namespace

RULE = "/a>2/10s"


def _write(path: Path, hits: list[tuple[str, float]]) -> str:
    path.write_text("".join(json.dumps({"endpoint": e, "ts": t}) + "\n" for e, t in hits))
    return str(path)


def _alerts(stderr: str) -> list[tuple[str, str]]:
    """The alert lines a replay printed: (exceeded or cleared, the log time they name)."""
    found = re.findall(r"hitcount: alert( cleared)?: /a: .*? at 1970-01-01T(\S+?)Z", stderr)
    return [("cleared" if cleared else "exceeded", at) for cleared, at in found]


@pytest.fixture(params=["state.json", "state.db", "redis"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """A JSON document, a SQLite database, a Redis server (each state new)."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        return ["--store", f"{url}?namespace={fresh_namespace()}"]
    return ["--state", str(tmp_path / request.param)]


def test_an_append_continues_a_burst_instead_of_announcing_it_again(
    tmp_path: Path, state: list[str]
) -> None:
    first = _write(tmp_path / "1.ndjson", [("/a", 100), ("/a", 101), ("/a", 102)])
    second = _write(tmp_path / "2.ndjson", [("/a", 103), ("/a", 104), ("/a", 105)])
    third = _write(tmp_path / "3.ndjson", [("/b", 200)])
    assert _alerts(ok([*state, "replay", first, "--alert", RULE]).stderr) == [
        ("exceeded", "00:01:42")
    ]
    again = ok([*state, "replay", "--append", second, "--alert", RULE])
    assert _alerts(again.stderr) == []  # the same burst: no second alert
    ended = ok([*state, "replay", "--append", third, "--alert", RULE])
    assert _alerts(ended.stderr) == [("cleared", "00:02:03")]  # 123 s
    fourth = _write(tmp_path / "4.ndjson", [("/a", 300), ("/a", 301), ("/a", 302)])
    new = ok([*state, "replay", "--append", fourth, "--alert", RULE])
    assert _alerts(new.stderr) == [("exceeded", "00:05:02")]  # a new burst alerts again


def test_a_rule_not_watched_in_between_keeps_its_tracks(tmp_path: Path, state: list[str]) -> None:
    first = _write(tmp_path / "1.ndjson", [("/a", 100), ("/a", 101), ("/a", 102)])
    quiet = _write(tmp_path / "2.ndjson", [("/c", 103)])
    more = _write(tmp_path / "3.ndjson", [("/a", 104), ("/a", 105), ("/a", 106)])
    ok([*state, "replay", first, "--alert", RULE])
    ok([*state, "replay", "--append", quiet])  # no --alert: the saved tracks stay
    assert _alerts(ok([*state, "replay", "--append", more, "--alert", RULE]).stderr) == []

"""`hitcount top`: the busiest endpoints against brute force; endpoint text printed inert.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.cli.conftest import HOSTILE, QUERY_KEYS, SLIDING, assert_inert
from tests.cli_helpers import ok, ok_json, read_ndjson
from tests.conftest import SAMPLES


def test_top_lists_the_busiest_endpoints_like_brute_force() -> None:
    path = SAMPLES / "web.ndjson"
    hits = read_ndjson(path)
    clock = max(hit.ts for hit in hits)
    counts = Counter(hit.endpoint for hit in hits if clock - 3600 < hit.ts <= clock)
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    ok(["replay", str(path), *SLIDING])
    rows = ok_json(["top", "--last", "1h", "--limit", "5", "--json"])
    assert [(row["endpoint"], row["count"]) for row in rows] == expected
    assert all(row.keys() >= QUERY_KEYS for row in rows)
    text = ok(["top", "--last", "1h", "--limit", "5"]).stdout
    for endpoint, count in expected:
        assert re.search(rf"^{re.escape(endpoint)}\s+{count}\s", text, re.MULTILINE), text


@pytest.mark.usefixtures("hostile_state")
def test_top_shows_hostile_endpoints_inert() -> None:
    result = ok(["top", "--last", "1h"])
    assert_inert(result.stdout + result.stderr)
    assert "[bold red]x[/]" in result.stdout
    assert "[link=http://evil]y[/link]" in result.stdout
    assert "\\x1b[2J" in result.stdout  # shown escaped, visibly
    assert "http://evil" in result.stdout
    rows = ok_json(["top", "--last", "1h", "--json"])
    assert sorted(row["endpoint"] for row in rows) == sorted(HOSTILE)


def test_numbers_read_the_same_everywhere(tmp_path: Path, state_env: Path) -> None:
    strategies = ok(["strategies"]).stdout
    assert "2678400" in strategies and "e+" not in strategies
    ok(["replay", str(SAMPLES / "web.ndjson")])  # fixed, one day kept
    table = ok(["top", "--last", "30d", "-n", "3"]).stdout
    assert " none " in table and "inf" not in table  # as `query` says: no upper bound
    as_json = ok_json(["query", "/", "--last", "300", "--json"])
    assert as_json["last"] == 300 and isinstance(as_json["last"], int)


def test_long_endpoints_end_in_an_ellipsis_on_a_narrow_terminal_and_counts_never_wrap(
    tmp_path: Path, state_env: Path
) -> None:
    from typer.testing import CliRunner

    from hitcount.cli import app

    long = "/api/very/long/endpoint/" + "segment/" * 12
    path = tmp_path / "long.ndjson"
    path.write_text(
        "".join(f'{{"endpoint": "{long}{i % 3}", "ts": {1_767_225_600 + i}}}\n' for i in range(50))
    )
    ok(["replay", str(path)])
    terminal = {"TTY_COMPATIBLE": "1", "COLUMNS": "80", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, ["top", "--last", "1h"], env=terminal)
    assert result.exit_code == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "/api/very" in line]
    assert len(rows) == 3  # one line each: the count is on the endpoint's line
    assert all("…" in row and re.search(r"\b1[67]\s+1[67]\s+1[67]\s+yes", row) for row in rows)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # bold headers
    assert all(len(line) <= 80 for line in plain.splitlines())

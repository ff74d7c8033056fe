"""`hitcount strategies`: the registry on the command line.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

from hitcount import available_strategies
from tests.cli_helpers import ok, ok_json


def test_strategies_lists_the_registry() -> None:
    rows = ok_json(["strategies", "--json"])
    assert [row["name"] for row in rows] == available_strategies()
    assert {"fixed", "sliding", "morris"} <= set(available_strategies())
    flags = {row["name"]: {p["flag"] for p in row["params"]} for row in rows}
    assert flags["fixed"] == {"--window", "--retention"}
    assert flags["sliding"] == {"--max-window"}
    assert {"--base", "--counters"} <= flags["morris"]
    text = ok(["strategies"]).stdout
    for name in ("fixed", "sliding", "morris", "--max-window"):
        assert name in text

"""Answers in JSON carry the state's keys and filters, as the text footer names them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import ok, ok_json

ALL_TIME = ["-s", "sliding", "--max-window", "1e9"]


def lines(tmp_path: Path) -> Path:
    source = tmp_path / "hits.ndjson"
    rows = [{"endpoint": f"/p{i % 3}", "ts": 1000 + i, "status": 200 + 100 * (i % 4)}
            for i in range(40)]  # fmt: skip
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return source


def test_query_top_and_plot_json_name_the_keys(tmp_path: Path) -> None:
    ok(["replay", str(lines(tmp_path)), *ALL_TIME, "--key", "{status_class}",
        "--where", "status>=300"])  # fmt: skip
    described = ok_json(["metrics", "--json"])["keys"]
    assert described == "key {status_class} where status>=300"
    window = ["--now", "1040", "--last", "1000"]
    query = ok_json(["query", "*xx", *window, "--json"])
    assert (query["count"], query["keys"]) == (30, described)  # 3 of every 4 lines
    rows = ok_json(["top", *window, "--json"])
    assert {row["endpoint"]: (row["count"], row["keys"]) for row in rows} == {
        "3xx": (10, described), "4xx": (10, described), "5xx": (10, described)
    }  # fmt: skip
    assert ok_json(["plot", "*", *window, "--json"])["keys"] == described
    footer = ok(["query", "*xx", *window]).stderr
    assert f"endpoints are {described}" in footer


def test_a_state_of_paths_has_no_keys_in_its_answers(tmp_path: Path) -> None:
    ok(["replay", str(lines(tmp_path)), *ALL_TIME])
    window = ["--now", "1040", "--last", "1000"]
    assert "keys" not in ok_json(["query", "/p*", *window, "--json"])
    assert all("keys" not in row for row in ok_json(["top", *window, "--json"]))
    assert "keys" not in ok_json(["plot", "/p0", *window, "--json"])

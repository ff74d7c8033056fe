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
    header = ok(["plot", "/p0", *window, "--csv"]).stdout.splitlines()[0].split(",")
    assert "keys" not in header
    assert "strategy" in header


def test_plot_csv_names_the_strategy_and_the_keys_on_every_row(tmp_path: Path) -> None:
    """`plot --csv` carries what `plot --json` does: the strategy that answered, the keys."""
    import csv
    import io

    ok(["replay", str(lines(tmp_path)), *ALL_TIME, "--key", "{status_class}",
        "--where", "status>=300"])  # fmt: skip
    window = ["--now", "1040", "--last", "40", "--step", "10"]
    payload = ok_json(["plot", "3xx", "5xx", *window, "--json"])
    rows = list(csv.DictReader(io.StringIO(ok(["plot", "3xx", "5xx", *window, "--csv"]).stdout)))
    assert len(rows) == 2 * 4
    assert {(row["strategy"], row["keys"]) for row in rows} == {
        (payload["strategy"], "key {status_class} where status>=300")
    }
    by_hand = {"3xx": [3, 2, 3, 2], "5xx": [2, 3, 2, 3]}  # i % 4: 1 -> 3xx, 3 -> 5xx; ts 1000+i
    got: dict[str, list[float]] = {}
    for row in rows:
        got.setdefault(row["endpoint"], []).append(float(row["count"]))
    assert got == by_hand

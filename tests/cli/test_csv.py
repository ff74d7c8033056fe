"""`--csv` beside `--json`: the same figures, read back with the csv module."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import HAND_HITS, SLIDING
from tests.cli_helpers import assert_error, ok, ok_json, run, write_ndjson

ODD = ["/a,b", '/q"uote', "/new\nline"]


def rows(args: list[str]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(ok([*args, "--csv"]).stdout, newline="")))


def as_cell(value: Any) -> str:
    """How the JSON value reads in a CSV cell (this test's own rule, from the README)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(as_cell(item) for item in value)
    if isinstance(value, (dict, int, float)):
        return json.dumps(value, separators=(",", ":"))
    return str(value).replace("\n", "\\n")  # the only unprintable character in this data


@pytest.fixture(autouse=True)
def hand_state(tmp_path: Path) -> None:
    hits = [*HAND_HITS, *((name, 1990.0) for name in ODD)]
    ok(["replay", str(write_ndjson(tmp_path / "h.ndjson", hits)), *SLIDING])


@pytest.mark.parametrize(
    "args",
    [["top", "--last", "1h"], ["query", "/api/*", "--last", "301", "--rate"], ["events"],
     ["query", "/a,b", "--since", "-1h"]],
)  # fmt: skip
def test_csv_rows_are_the_json_rows(args: list[str]) -> None:
    if args == ["events"]:
        ok(["swap", "fixed", "--window", "10"])  # an event to list
    payload = ok_json([*args, "--json"])
    expected = payload if isinstance(payload, list) else [payload]
    got = rows(args)
    assert len(got) == len(expected) > 0
    for row, want in zip(got, expected, strict=True):
        assert list(row) == list(want)
        assert row == {key: as_cell(value) for key, value in want.items()}


def test_odd_endpoint_names_survive_a_round_trip() -> None:
    names = {row["endpoint"] for row in rows(["top", "--last", "1h", "-n", "50"])}
    assert {"/a,b", '/q"uote', "/new\\nline"} <= names  # a newline shown as its escape


def test_plot_csv_is_one_row_per_endpoint_and_step() -> None:
    payload = ok_json(["plot", "/api/login", "/api/*", "--last", "600", "--step", "300", "--json"])
    got = rows(["plot", "/api/login", "/api/*", "--last", "600", "--step", "300"])
    assert [(r["endpoint"], float(r["end"]), float(r["count"])) for r in got] == [
        (s["endpoint"], p["end"], p["count"]) for s in payload["series"] for p in s["points"]
    ]
    assert [r["count"] for r in got] == ["1", "2", "1", "3"]  # (1400,1700], (1700,2000]


def test_metrics_csv_is_a_name_and_a_value_per_row() -> None:
    metrics = ok_json(["metrics", "--json"])
    got = rows(["metrics"])
    assert [r["metric"] for r in got] == list(metrics)
    assert {r["metric"]: r["value"] for r in got}["total_hits"] == str(metrics["total_hits"])


def test_json_and_csv_together_are_refused() -> None:
    assert_error(run(["top", "--json", "--csv"]), 2, "--json and --csv exclude each other")

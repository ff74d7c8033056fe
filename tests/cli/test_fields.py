"""`replay --field NAME=SOURCE`: NDJSON and CSV with other field names read like the usual ones.

The oracle: the sample traffic rewritten (json and csv modules) under other names must give
the very answers the original gives.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import assert_error, ok, ok_json, run
from tests.conftest import SAMPLES

DAY = ["-s", "sliding", "--max-window", "86400"]


def answers() -> list[Any]:
    top = ok_json(["top", "--last", "6h", "-n", "100", "--json"])
    users = ok_json(["query", "/api/*", "--last", "6h", "--distinct", "--json"])
    return [[(r["endpoint"], r["count"]) for r in top], users["count"], users["distinct"]]


def original() -> list[Any]:
    ok(["replay", str(SAMPLES / "web.ndjson"), *DAY])
    return answers()


def _sample_csv(path: Path, columns: dict[str, str]) -> Path:
    """The sample traffic as CSV under a header of `columns` (header name -> NDJSON field)."""
    with (SAMPLES / "web.ndjson").open(encoding="utf-8") as source:
        rows = [json.loads(line) for line in source]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(list(columns))
        writer.writerows([row[field] for field in columns.values()] for row in rows)
    return path


def test_nested_and_renamed_ndjson_fields(tmp_path: Path) -> None:
    expected = original()
    renamed = tmp_path / "renamed.ndjson"
    with (SAMPLES / "web.ndjson").open(encoding="utf-8") as source:
        rows = [json.loads(line) for line in source]
    renamed.write_text("".join(
        json.dumps({"time": r["ts"], "request": {"path": r["endpoint"]}, "client": r["user"]})
        + "\n" for r in rows
    ))  # fmt: skip
    ok(["replay", str(renamed), *DAY, "--field", "endpoint=request.path", "--field", "ts=time",
        "--field", "user=client"])  # fmt: skip
    assert answers() == expected
    keys = ok_json(["metrics", "--json"])["keys"]
    assert keys == "key {path} fields endpoint=request.path, ts=time, user=client"
    ok(["replay", str(renamed), "--append", "--again"])  # the saved names apply again
    assert ok_json(["query", "/api/*", "--last", "6h", "--json"])["count"] == 2 * expected[1]


def test_renamed_csv_columns(tmp_path: Path) -> None:
    expected = original()
    renamed = _sample_csv(
        tmp_path / "renamed.csv", {"Who": "user", "When": "ts", "Url": "endpoint"}
    )
    ok(["replay", str(renamed), *DAY, "--field", "endpoint=url", "--field", "ts=When",
        "--field", "user=who"])  # fmt: skip
    assert answers() == expected


def test_mapping_one_csv_column_keeps_the_usual_names_of_the_others(tmp_path: Path) -> None:
    """`--field user=who` on a `path,time,who` header: the endpoint and the time are found
    under the names the CSV reader knows without `--field` (every line was bad; QA I7)."""  # noqa: D205, D209
    expected = original()
    renamed = _sample_csv(
        tmp_path / "aliases.csv", {"path": "endpoint", "time": "ts", "who": "user"}
    )
    ok(["replay", str(renamed), *DAY, "--field", "user=who"])
    assert answers() == expected


def test_a_line_missing_a_mapped_field_is_a_bad_line(tmp_path: Path) -> None:
    source = tmp_path / "m.ndjson"
    source.write_text('{"t": 1, "p": "/a"}\n{"t": 2}\n{"t": 3, "p": {"x": 1}}\n')
    result = ok(["replay", str(source), "--field", "endpoint=p", "--field", "ts=t", "--json"])
    assert json.loads(result.stdout)["bad_lines"] == 2
    assert "missing field 'p'" in result.stderr
    assert "endpoint must be a string" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--field", "path=x"], "--field must look like NAME=SOURCE"),
        (["--field", "ts"], "--field must look like NAME=SOURCE"),
        (["--field", "ts=", "--format", "ndjson"], "--field must look like NAME=SOURCE"),
    ],
)
def test_bad_field_mappings(tmp_path: Path, args: list[str], fragment: str) -> None:
    source = tmp_path / "a.ndjson"
    source.write_text('{"endpoint": "/a", "ts": 1}\n')
    assert_error(run(["replay", str(source), *args]), 2, fragment)


def test_access_logs_have_no_field_names() -> None:
    result = run(["replay", str(SAMPLES / "access.log.gz"), "--field", "ts=time"])
    assert_error(result, 2, "--field applies to ndjson and csv input, not combined")


@pytest.mark.parametrize("mapped", [False, True])
def test_a_quoted_newline_makes_both_halves_bad_with_or_without_a_mapping(
    tmp_path: Path, mapped: bool
) -> None:
    """A record spanning lines is not read (the same rule as plain CSV): neither half counts,
    so the second half never becomes a hit on an endpoint `line"`."""  # noqa: D205, D209
    header = "path,time" if mapped else "endpoint,ts"
    source = tmp_path / "q.csv"
    source.write_text(f'{header}\n/a,100\n"/b\nline",101\n/c,102\n')
    mapping = ["--field", "endpoint=path", "--field", "ts=time"] if mapped else []
    result = ok(["replay", str(source), *mapping, "-s", "sliding", "--max-window", "1e9"])
    assert (
        "2 hits kept" in result.stderr + result.stdout
        and "2 bad lines" in result.stderr + result.stdout
    )
    rows = ok_json(["top", "--last", "1000d", "--json"])
    assert {row["endpoint"]: row["count"] for row in rows} == {"/a": 1, "/c": 1}


def test_the_names_a_field_may_rename_are_the_keyings_own() -> None:
    from hitcount.ingest.formats.mapped import TARGETS
    from hitcount.model.keys import FIELD_NAMES

    assert tuple(TARGETS) == FIELD_NAMES

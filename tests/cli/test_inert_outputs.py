"""One escaping rule for every output: hostile endpoints and file names never reach a terminal raw.

The rule (`hitcount.model.inert`): a character that is a control (C0, DEL, C1), a format
character (bidi overrides and isolates, zero-width, invisible tags), a line or paragraph
separator is shown escaped: as a Python escape in text, as a JSON escape in JSON. The oracle
here is the Unicode category of each character printed, from `unicodedata`.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path

import pytest

from tests.cli_helpers import ok, run, write_ndjson

#: Endpoints that try to move the cursor, clear the screen, reverse or hide text.
ENDPOINTS = [
    "/csi\x9b2J",  # C1 CSI: one character, a terminal command on many emulators
    "/rtl\u202eevil",  # bidi override
    "/iso\u2066x\u2069",  # bidi isolate
    "/del\x7fx",
    "/esc\x1b[31mred",
    "/zw\u200bsp",
    "/ls\u2028x",  # line separator
    "/tag\U000e0041",  # invisible tag character
    "/bom\ufeffx",
    "/alm\u061cx",  # Arabic letter mark
    "/nel\x85x",  # C1 next line
]
#: A file name (and directory) with the same tricks.
HOSTILE_NAME = "f\x9b2J\u202egnp\x7f"
#: Categories no output may print raw.
DANGEROUS = {"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"}


def raw_dangerous(text: str) -> list[str]:
    """The dangerous characters in `text`, but the newlines that end its lines."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in DANGEROUS]


def assert_inert(*texts: str) -> None:
    for text in texts:
        assert not raw_dangerous(text), repr(text)


T0 = 1_767_225_600.0


@pytest.fixture
def hostile(tmp_path: Path, state_env: Path) -> Path:
    """A state with every hostile endpoint (i + 1 hits each), read from a hostile file name."""
    folder = tmp_path / HOSTILE_NAME
    folder.mkdir()
    hits = [(ep, T0 + 10 * i + k) for i, ep in enumerate(ENDPOINTS) for k in range(i + 1)]
    log = write_ndjson(folder / f"{HOSTILE_NAME}.ndjson", hits)
    result = ok(["replay", str(log), "-s", "sliding", "--max-window", "86400"])
    assert_inert(result.stdout, result.stderr)
    return log


def _both(args: list[str]) -> tuple[str, object]:
    """Run `args` as text and as `--json`; both inert; the JSON parsed."""
    text = ok(args)
    as_json = ok([*args, "--json"])
    assert_inert(text.stdout, text.stderr, as_json.stdout, as_json.stderr)
    return text.stdout, json.loads(as_json.stdout)


def test_query_and_top_escape_in_text_and_json_and_json_decodes_exactly(hostile: Path) -> None:
    text, answer = _both(["query", "*", "--last", "1d"])
    assert isinstance(answer, dict)
    assert sorted(answer["matched"]) == sorted(ENDPOINTS)
    assert answer["count"] == sum(range(1, len(ENDPOINTS) + 1))
    text, rows = _both(["top", "--last", "1d", "--limit", "50"])
    assert isinstance(rows, list)
    assert {row["endpoint"]: row["count"] for row in rows} == {
        ep: i + 1 for i, ep in enumerate(ENDPOINTS)
    }
    assert "/csi\\x9b2J" in text and "/rtl\\u202eevil" in text  # visible, as escapes


def test_replay_json_and_trace_json_escape_file_names_and_endpoints(
    hostile: Path, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.json"
    replay = ok(["replay", str(hostile), "--json", "--trace-json", str(trace), "-s", "sliding",
                 "--max-window", "86400"])  # fmt: skip
    assert_inert(replay.stdout, replay.stderr)
    assert str(hostile) in json.dumps(json.loads(replay.stdout), ensure_ascii=False)
    written = trace.read_text(encoding="utf-8")
    assert_inert(written)
    hits = [json.loads(line) for line in written.splitlines()]
    recorded = [e["endpoint"] for e in hits if e["event"] == "hit_recorded"]
    assert sorted(set(recorded)) == sorted(ENDPOINTS)
    traced = ok(["replay", str(hostile), "--trace", "-s", "sliding", "--max-window", "86400"])
    assert_inert(traced.stdout, traced.stderr)


def test_state_commands_escape_endpoints(hostile: Path) -> None:
    alerted = ok(["replay", str(hostile), "-s", "sliding", "--max-window", "86400",
                  "--alert", "*>1/1h"])  # fmt: skip
    assert_inert(alerted.stdout, alerted.stderr)
    assert "hitcount: alert: /esc\\x1b[31mred" in alerted.stderr
    _text, remembered = _both(["events"])
    assert isinstance(remembered, list)
    assert {e.get("endpoint") for e in remembered} >= set(ENDPOINTS[1:])  # decoded exactly
    for args in (["metrics"], ["plot", "*", "--last", "1h"]):
        _both(args)
    swapped = ok(["swap", "fixed", "--json"])
    assert_inert(swapped.stdout, swapped.stderr)
    json.loads(swapped.stdout)


def test_file_names_are_escaped_by_snapshot_merge_report_and_compare(
    hostile: Path, tmp_path: Path
) -> None:
    folder = hostile.parent
    snapshot = folder / f"{HOSTILE_NAME}.json"
    for args in (
        ["snapshot", "save", str(snapshot)],
        ["snapshot", "show", str(snapshot)],
        ["snapshot", "restore", str(snapshot)],
        ["snapshot", "save", str(folder / "2.json")],
        ["merge", str(snapshot), str(folder / "2.json"), "-o", str(folder / "m.json")],
        ["compare", str(hostile), "--last", "1h"],
    ):
        assert _both(args)[1] is not None
    saved = ok(["snapshot", "save", str(snapshot)]).stdout
    assert "f\\x9b2J\\u202egnp\\x7f" in saved  # the name is there, escaped
    report = ok(["report", str(folder / f"{HOSTILE_NAME}.html")])
    assert_inert(report.stdout, report.stderr)
    assert "f\\x9b2J\\u202egnp\\x7f.html" in report.stdout
    page = (folder / f"{HOSTILE_NAME}.html").read_text(encoding="utf-8")
    assert_inert(page)


def test_errors_and_warnings_name_a_hostile_file_escaped(tmp_path: Path) -> None:
    missing = tmp_path / f"{HOSTILE_NAME}.log"
    failed = run(["replay", str(missing)])
    assert failed.exit_code == 3
    assert_inert(failed.stdout, failed.stderr)
    assert "f\\x9b2J\\u202egnp\\x7f.log" in failed.stderr
    bad = tmp_path / f"{HOSTILE_NAME}.ndjson"
    bad.write_text('{"endpoint": "/ok", "ts": 1767225601}\n{"endpoint": "/x\x9b", "ts": "no"}\n')
    warned = ok(["replay", str(bad)])
    assert_inert(warned.stdout, warned.stderr)


def test_documents_written_to_stdout_or_files_escape_endpoints_losslessly(
    hostile: Path, tmp_path: Path
) -> None:
    saved = ok(["snapshot", "save", "-"])
    assert_inert(saved.stdout, saved.stderr)
    snapshot = tmp_path / "s.json"
    snapshot.write_text(saved.stdout, encoding="utf-8")
    merged = ok(["merge", str(snapshot), "-o", "-"])
    assert_inert(merged.stdout, merged.stderr)
    state_file = tmp_path / "state.json"
    assert_inert(state_file.read_text(encoding="utf-8"))  # `cat state.json` is safe too
    for document in (saved.stdout, merged.stdout):
        assert sorted(json.loads(document)["state"]["timestamps"]) == sorted(ENDPOINTS)
    ok(["snapshot", "restore", str(snapshot)])  # and it reads back to the same endpoints
    rows = json.loads(ok(["top", "--last", "1d", "--limit", "50", "--json"]).stdout)
    assert sorted(row["endpoint"] for row in rows) == sorted(ENDPOINTS)


@pytest.mark.parametrize(
    "args",
    [["top", "--last", "1d", "--limit", "50", "--csv"], ["query", "*", "--last", "1d", "--csv"],
     ["plot", "*", "--last", "1d", "--csv"], ["export", "*", "--last", "1d"]],
)  # fmt: skip
def test_csv_and_prometheus_exports_escape_hostile_endpoints(
    hostile: Path, args: list[str]
) -> None:
    result = ok(args)
    assert_inert(result.stdout, result.stderr)
    assert "\\x9b" in result.stdout or args[0] == "plot"  # shown, not dropped


@pytest.mark.parametrize("form", [[], ["--csv"]])
def test_two_endpoints_never_look_alike_in_tables_and_csv(tmp_path: Path, form: list[str]) -> None:
    r"""`/a<TAB>b` and the text `/a\tb` (a backslash and a t): two different rows."""
    state = ["--state", str(tmp_path / "s.db")]
    hits = [("/a\tb", 1_000.0), ("/a\\tb", 1_001.0), ("/a\\tb", 1_002.0)]
    ok([*state, "replay", str(write_ndjson(tmp_path / "h.ndjson", hits)), "-s", "sliding"])
    shown = ok([*state, "top", "--last", "1h", *form]).stdout
    if form:
        rows = {row["endpoint"]: row["count"] for row in csv.DictReader(io.StringIO(shown))}
    else:
        rows = dict(line.split()[:2] for line in shown.splitlines()[1:])
    assert rows == {"/a\\tb": "1", "/a\\\\tb": "2"}  # the TAB escaped; the backslash doubled


def test_csv_cells_a_spreadsheet_would_run_as_formulas_start_with_a_quote(tmp_path: Path) -> None:
    """Any client can send `GET =HYPERLINK(...)` (QA G10): such a cell, and one that starts
    with a quote itself, gets one leading `'`; stripping it gives the endpoint back."""  # noqa: D205, D209
    endpoints = ['=HYPERLINK("http://evil.example/","x")', "@SUM(1+1)*cmd|x", "+1", "-2+3", "'q"]
    hits = [(endpoint, 1_000.0 + i) for i, endpoint in enumerate([*endpoints, "/a"])]
    state = ["--state", str(tmp_path / "s.json")]
    ok([*state, "replay", str(write_ndjson(tmp_path / "h.ndjson", hits)), "-s", "sliding"])
    guarded = {"/a", *(f"'{endpoint}" for endpoint in endpoints)}
    top = ok([*state, "top", "--last", "1h", "--limit", "50", "--csv"]).stdout
    assert {row["endpoint"] for row in csv.DictReader(io.StringIO(top))} == guarded
    query = ok([*state, "query", "*", "--last", "1h", "--csv"]).stdout
    (row,) = csv.DictReader(io.StringIO(query))
    assert row["matched"].startswith("'") and row["matched"].count("'") == 2  # + `'q`'s own
    assert set(row["matched"][1:].split(";")) == {"/a", *endpoints}  # one `'` for the cell

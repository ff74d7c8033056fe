"""Exit codes of the `hitcount` command, one table (after httpie's tests/test_exit_status.py).

Each row is (argv, setup, expected ExitCode, expected message fragment). For a failure the
fragment must be on the single `hitcount: error:` line on stderr, stdout must be empty, and
the saved state must be byte-for-byte what it was before the command ran.
"""

from __future__ import annotations

import gzip
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, NoReturn

import pytest

from hitcount.errors import ExitCode
from tests.cli_helpers import assert_error, ok, plain_output_env, run, write_ndjson

#: Every file name the rows use lives in the test's tmp_path, which is also the cwd.
HITS = [("/a", 100.0), ("/a", 160.0), ("/b", 200.0)]


@dataclass(frozen=True)
class Workspace:
    """What a setup may touch: the test's directory, its state file, and monkeypatch."""

    dir: Path
    state: Path
    monkeypatch: pytest.MonkeyPatch


Setup = Callable[[Workspace], None]


def nothing(ws: Workspace) -> None:
    """No saved state at all."""


def saved_sliding(ws: Workspace) -> None:
    ok(["replay", "hits.ndjson", "--strategy", "sliding"])


def saved_fixed_60(ws: Workspace) -> None:
    ok(["replay", "hits.ndjson", "--strategy", "fixed", "--window", "60"])


def saved_morris(ws: Workspace) -> None:
    ok(["replay", "hits.ndjson", "--strategy", "morris"])


def truncated_state(ws: Workspace) -> None:
    saved_sliding(ws)
    ws.state.write_bytes(ws.state.read_bytes()[:40])


def foreign_state(ws: Workspace) -> None:
    ws.state.write_text('{"a": 1}', encoding="utf-8")


def newer_state(ws: Workspace) -> None:
    saved_sliding(ws)
    document = json.loads(ws.state.read_bytes())
    document["version"] = 99
    ws.state.write_text(json.dumps(document), encoding="utf-8")


def snapshot_saved(ws: Workspace) -> None:
    saved_sliding(ws)
    ok(["snapshot", "save", "snap.json"])


def damaged_snapshot(ws: Workspace) -> None:
    snapshot_saved(ws)
    (ws.dir / "snap.json").write_text('{"format": "hitcount-snapshot", "version": 1', "utf-8")


def unsniffable_input(ws: Workspace) -> None:
    (ws.dir / "traffic.txt").write_text("no format here\n", encoding="utf-8")


def truncated_gzip(ws: Workspace) -> None:
    data = gzip.compress((ws.dir / "hits.ndjson").read_bytes())
    (ws.dir / "cut.ndjson.gz").write_bytes(data[:-12])


def state_dir_is_a_file(ws: Workspace) -> None:
    (ws.dir / "blocker").write_text("a file, not a directory", encoding="utf-8")


def _module(name: str) -> object:
    # `hitcount.cli.commands.metrics` as an attribute is the command; use sys.modules.
    return importlib.import_module(name)


def ctrl_c_during_replay(ws: Workspace) -> None:
    saved_sliding(ws)

    def interrupted(*args: object, **kwargs: object) -> NoReturn:
        raise KeyboardInterrupt

    ws.monkeypatch.setattr(_module("hitcount.ops.replaying"), "replay_sources", interrupted)


def internal_error(ws: Workspace) -> None:
    saved_sliding(ws)

    def broken(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("boom")

    ws.monkeypatch.setattr(_module("hitcount.cli.commands.metrics"), "load_counter", broken)


class Row(NamedTuple):
    """One row of the table."""

    argv: list[str]
    setup: Setup
    code: ExitCode
    fragment: str


# fmt: off
EXIT_TABLE: list[Row] = [
    # 0: success (the fragment is looked for on stdout)
    Row(["replay", "hits.ndjson"], nothing, ExitCode.OK, "replayed 3 lines"),
    Row(["replay", "bad.ndjson"], nothing, ExitCode.OK, "1 bad line"),  # skipped, not fatal
    Row(["query", "/a", "--last", "60"], saved_sliding, ExitCode.OK, "/a: 1 hit "),
    Row(["top", "--last", "1h"], saved_sliding, ExitCode.OK, "/a"),
    Row(["metrics"], saved_sliding, ExitCode.OK, "total_hits"),
    Row(["swap", "sliding", "--reset"], saved_morris, ExitCode.OK, "reset: sliding"),
    Row(["snapshot", "show", "snap.json"], snapshot_saved, ExitCode.OK, "hitcount-snapshot"),
    Row(["strategies"], nothing, ExitCode.OK, "sliding"),
    Row(["--version"], nothing, ExitCode.OK, "hitcount "),
    # 2: usage
    Row(["query", "/a", "--last", "abc"], saved_sliding, ExitCode.USAGE, "--last must be"),
    Row(["query", "/a", "--last", "-5"], saved_sliding, ExitCode.USAGE, "--last must be"),
    Row(["query", "/a", "--last", "5", "--now", "garbage"], saved_sliding, ExitCode.USAGE,
        "--now: timestamp is not a number or ISO 8601"),
    Row(["replay", "hits.ndjson", "--window", "-1"], nothing, ExitCode.USAGE, "--window"),
    Row(["replay", "hits.ndjson", "--append", "--strategy", "fixed"], saved_sliding,
        ExitCode.USAGE, "--append cannot change the strategy"),
    Row(["replay", "hits.ndjson", "--format", "xml"], nothing, ExitCode.USAGE, "unknown format"),
    Row(["top", "--last", "60", "--limit", "0"], saved_sliding, ExitCode.USAGE, "--limit"),
    Row(["--state", "a.json", "--store", "b.json", "metrics"], nothing, ExitCode.USAGE,
        "give --state or --store, not both"),
    Row(["demo", "--scenario", "9"], nothing, ExitCode.USAGE, "no scenario 9"),
    # 3: input
    Row(["replay", "missing.ndjson"], nothing, ExitCode.INPUT, "missing.ndjson: no such file"),
    Row(["replay", "missing.ndjson"], saved_sliding, ExitCode.INPUT, "no such file"),
    Row(["replay", "bad.ndjson", "--strict"], saved_sliding, ExitCode.INPUT,
        "bad.ndjson:2: invalid JSON"),
    Row(["replay", "traffic.txt"], unsniffable_input, ExitCode.INPUT,
        "traffic.txt:1: cannot tell the input format"),
    Row(["replay", "cut.ndjson.gz"], truncated_gzip, ExitCode.INPUT, "cut.ndjson.gz: cannot read"),
    Row(["replay", "."], nothing, ExitCode.INPUT, "is a directory"),
    # 4: state
    Row(["query", "/a", "--last", "60"], nothing, ExitCode.STATE, "no saved state"),
    Row(["metrics"], truncated_state, ExitCode.STATE, "not a hitcount snapshot or JSON state"),
    Row(["top", "--last", "60"], foreign_state, ExitCode.STATE, "not a hitcount snapshot or"),
    Row(["metrics"], newer_state, ExitCode.STATE, "version 99 is newer"),
    Row(["replay", "hits.ndjson", "--append"], truncated_state, ExitCode.STATE, "state.json"),
    Row(["snapshot", "restore", "snap.json"], damaged_snapshot, ExitCode.STATE, "snap.json"),
    Row(["snapshot", "show", "nope.json"], nothing, ExitCode.STATE, "no such snapshot file"),
    # 5: store unavailable
    Row(["--state", "blocker/state.json", "replay", "hits.ndjson"], state_dir_is_a_file,
        ExitCode.STORE_UNAVAILABLE, "blocker"),
    # 6: unknown strategy
    Row(["replay", "hits.ndjson", "--strategy", "bogus"], nothing, ExitCode.UNKNOWN_STRATEGY,
        "unknown strategy 'bogus'"),
    Row(["swap", "bogus"], saved_sliding, ExitCode.UNKNOWN_STRATEGY, "unknown strategy"),
    # 7: swap refused
    Row(["swap", "sliding"], saved_morris, ExitCode.SWAP_REFUSED, "cannot swap morris -> sliding"),
    Row(["swap", "fixed", "--window", "90"], saved_fixed_60, ExitCode.SWAP_REFUSED,
        "60 s buckets into 90 s buckets"),
    Row(["swap", "sliding"], saved_fixed_60, ExitCode.SWAP_REFUSED, "cannot swap fixed"),
    # 8: output
    Row(["report", "state.json"], saved_sliding, ExitCode.OUTPUT, "is not a hitcount report"),
    Row(["report", "no/such/r.html"], saved_sliding, ExitCode.OUTPUT, "cannot write the report"),
    # 9: --exit-on-alert stopped at an alert
    Row(["replay", "hits.ndjson", "--alert", "/a>1/2m", "--exit-on-alert"], nothing,
        ExitCode.ALERT, "stopped at the first alert (--exit-on-alert): /a went above 1 hits"),
    # 1: a bug, reported in one line with a hint instead of a traceback
    Row(["metrics"], internal_error, ExitCode.BUG, "internal error: RuntimeError: boom"),
    # 130: Ctrl-C
    Row(["replay", "hits.ndjson"], ctrl_c_during_replay, ExitCode.INTERRUPTED,
        "interrupted; the saved state is unchanged"),
]
# fmt: on

#: Exit codes no command line can produce yet, and why.
UNREACHABLE: dict[ExitCode, str] = {
    ExitCode.BROKEN_PIPE: "needs a real closed pipe: tests/test_crash.py::test_a_closed_pipe_*",
}


@pytest.fixture(autouse=True)
def _workspace(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain_output_env(monkeypatch)
    monkeypatch.chdir(state_env.parent)
    write_ndjson(state_env.parent / "hits.ndjson", HITS)
    (state_env.parent / "bad.ndjson").write_text(
        '{"endpoint": "/a", "ts": 1}\n{"endpoint": "/a", "ts": \n', encoding="utf-8"
    )


def _row_id(row: Row) -> str:
    return f"{int(row.code)}-{row.setup.__name__}-{' '.join(row.argv)}"


@pytest.mark.parametrize("row", EXIT_TABLE, ids=[_row_id(row) for row in EXIT_TABLE])
def test_exit_status(row: Row, state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = Workspace(state_env.parent, state_env, monkeypatch)
    row.setup(workspace)
    before = state_env.read_bytes() if state_env.exists() else None

    result = run(row.argv)

    if row.code == ExitCode.OK:
        assert result.exit_code == 0, result.stderr
        assert row.fragment in result.stdout
        return
    if row.code == ExitCode.ALERT:  # the alert's own line comes first; the state is saved
        assert result.exit_code == ExitCode.ALERT and result.stdout == ""
        assert result.stderr.splitlines()[-1].startswith("hitcount: error: " + row.fragment)
        return
    assert_error(result, int(row.code), row.fragment)
    after = state_env.read_bytes() if state_env.exists() else None
    assert after == before, "a failed command changed the saved state"


def test_the_table_covers_every_exit_code() -> None:
    covered = {row.code for row in EXIT_TABLE}
    assert covered.isdisjoint(UNREACHABLE)
    assert covered | set(UNREACHABLE) == set(ExitCode)


def test_a_bug_comes_with_a_hint_to_report_it(monkeypatch: pytest.MonkeyPatch) -> None:
    internal_error(Workspace(Path.cwd(), Path("state.json"), monkeypatch))
    result = run(["metrics"])
    assert result.exit_code == ExitCode.BUG
    assert "hint: this is a bug in hitcount; rerun with --debug" in result.stderr

"""`top --watch`: redraws from the saved state until stopped (here: --count)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hitcount.cli import app
from tests.conftest import SAMPLES


def _replayed(tmp_path: Path) -> list[str]:
    args = ["--state", str(tmp_path / "state.json")]
    assert CliRunner().invoke(app, [*args, "replay", str(SAMPLES / "web.csv")]).exit_code == 0
    return args


def test_watch_redraws_count_times_when_piped(tmp_path: Path) -> None:
    args = _replayed(tmp_path)
    watch = ["top", "--last", "1h", "-n", "3", "--watch", "--interval", "0.01", "--count", "3"]
    result = CliRunner().invoke(app, [*args, *watch])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("== ") == 3
    assert result.stdout.count("endpoint") == 3
    as_json = CliRunner().invoke(app, [*args, *watch, "--json"])
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(rows) == 3 and all(len(row) == 3 for row in rows)
    assert rows[0] == rows[2]  # nothing changed in between


def test_watch_rejects_bad_intervals(tmp_path: Path) -> None:
    args = _replayed(tmp_path)
    for bad in (["--interval", "0"], ["--interval", "nan"], ["--count", "0"]):
        result = CliRunner().invoke(app, [*args, "top", "--last", "1h", "--watch", *bad])
        assert result.exit_code == 2
        assert result.stderr.startswith("hitcount: error: --interval")


def test_watch_options_without_watch_are_refused_not_ignored(tmp_path: Path) -> None:
    args = _replayed(tmp_path)
    for extra, message in (
        (["--count", "2"], "--count only applies with --watch"),
        (["--interval", "1", "--count", "2"], "--count and --interval only apply with --watch"),
    ):
        result = CliRunner().invoke(app, [*args, "top", "--last", "1h", *extra])
        assert result.exit_code == 2
        assert message in result.stderr

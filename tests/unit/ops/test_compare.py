"""`compare`: every strategy against the exact counts of one input."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hitcount.cli import app
from hitcount.cli.render import console, rich_parts
from hitcount.ingest.progress import ReplayProgress
from hitcount.ops.compare import compare
from hitcount.strategies import available_strategies
from tests.conftest import SAMPLES


def _exact_last_hour(path: Path) -> dict[str, int]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    now = max(row["ts"] for row in rows)
    counts: dict[str, int] = {}
    for row in rows:
        if now - 3600 < row["ts"] <= now:
            counts[row["endpoint"]] = counts.get(row["endpoint"], 0) + 1
    return counts


def test_compare_reports_exact_counts_and_every_strategy() -> None:
    source = SAMPLES / "web.ndjson"
    result = compare([str(source)], 3600, limit=4)
    truth = _exact_last_hour(source)
    busiest = sorted(truth.items(), key=lambda kv: (-kv[1], kv[0]))[:4]
    assert list(result.exact.items()) == busiest
    assert [run.strategy.split("(")[0] for run in result.runs] == available_strategies()
    for run in result.runs:
        for endpoint, exact in result.truth(run).items():
            answer = run.answers[endpoint]
            if answer.confidence is None:  # certain bounds must hold; statistical ones may not
                assert run.bounds_hold(endpoint, exact), (run.strategy, endpoint)
        if run.strategy.startswith("sliding"):
            assert all(run.error(ep, n) == 0 for ep, n in result.exact.items())


def test_compare_cli_json_and_errors(state_env: Path) -> None:
    runner = CliRunner()
    source = str(SAMPLES / "web.csv")
    result = runner.invoke(
        app, ["compare", source, "--last", "1h", "--strategies", "fixed,sliding", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["strategy"].split("(")[0] for s in data["strategies"]] == ["fixed", "sliding"]
    assert not state_env.exists()  # compare never touches the saved state
    bad = runner.invoke(app, ["compare", source, "--last", "1h", "--strategies", "fixed,nope"])
    assert bad.exit_code == 6
    stdin = runner.invoke(app, ["compare", "-", "--last", "1h"])
    assert stdin.exit_code == 2


@pytest.mark.parametrize("option", [["--window", "10"], ["-p", "window_s=10"]])
def test_compare_applies_options_to_the_strategies_that_take_them(option: list[str]) -> None:
    runner = CliRunner()
    args = ["compare", str(SAMPLES / "web.csv"), "--last", "5m", "--strategies", "fixed,sliding"]
    result = runner.invoke(app, [*args, *option, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["strategies"][0]["strategy"].startswith("fixed(window_s=10")


def test_compare_sets_an_all_time_answer_beside_the_all_time_count(state_env: Path) -> None:
    web = str(SAMPLES / "web.ndjson")
    result = CliRunner().invoke(
        app, ["compare", web, "--last", "1h", "--strategies", "sliding,morris"]
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("endpoint"))
    assert "exact, all time" in header and "morris (all time)" in header
    data = json.loads(
        CliRunner()
        .invoke(app, ["compare", str(SAMPLES / "web.ndjson"), "--last", "1h", "--json"])
        .stdout
    )
    row = next(line for line in lines if line.startswith("/api/login "))
    assert str(data["totals"]["/api/login"]) in row.split()  # the count morris is judged by


def test_compare_reports_its_progress_as_one_run_over_every_replay(tmp_path: Path) -> None:
    source = SAMPLES / "web.ndjson"
    lines = len(source.read_bytes().splitlines())
    size = source.stat().st_size
    seen: list[ReplayProgress] = []
    compare([str(source)], 3600, strategies=["fixed", "morris"], on_progress=seen.append)
    assert {p.total_bytes for p in seen} == {3 * size}  # the exact counts, then 2 strategies
    assert [p.done_bytes for p in seen] == sorted(p.done_bytes for p in seen)
    assert seen[-1].done_bytes == 3 * size and seen[-1].lines == 3 * lines
    stages = list(dict.fromkeys(p.stage for p in seen))
    assert stages == ["exact counts, 1 of 3", "fixed, 2 of 3", "morris, 3 of 3"]
    ends = [max(p.done_bytes for p in seen if p.stage == stage) for stage in stages]
    assert ends == [size, 2 * size, 3 * size]


def test_compare_draws_a_progress_line_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = StringIO()
    monkeypatch.setattr(console, "PROGRESS_AFTER_S", -1.0)  # draw at once, however quick
    monkeypatch.setattr(
        console.Output, "__init__", _terminal_stderr(console.Output.__init__, stderr)
    )
    source = SAMPLES / "web.ndjson"
    result = CliRunner().invoke(
        app, ["compare", str(source), "--last", "1h", "--strategies", "fixed"]
    )
    assert result.exit_code == 0, result.output
    lines = len(source.read_bytes().splitlines())
    assert f"comparing (fixed, 2 of 2): 100% · {2 * lines:,} lines · " in stderr.getvalue()


def _terminal_stderr(init: Any, stderr: StringIO) -> Any:
    def patched(self: console.Output, **kwargs: Any) -> None:
        init(self, **kwargs)
        self.err = rich_parts.PipeConsole(file=stderr, force_terminal=True, width=200)

    return patched

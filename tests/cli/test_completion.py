"""Shell completion of option values, driven as a shell drives it: Click's completion
environment variables (`_HITCOUNT_COMPLETE`, `COMP_WORDS`, `COMP_CWORD`)."""  # noqa: D205, D209

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from hitcount.cli import app
from hitcount.model.events import REMEMBERED
from hitcount.strategies import available_strategies, get_strategy

_RUNNER = CliRunner()


def _bash(line: str) -> list[str]:
    """What bash would offer after `line` (a trailing space: a new, empty word)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    env = {
        "_HITCOUNT_COMPLETE": "complete_bash",
        "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1),
    }
    result = _RUNNER.invoke(app, [], env=env, prog_name="hitcount")
    assert result.exit_code == 0, result.output
    return result.stdout.split()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hitcount replay x.log --strategy ", available_strategies()),
        ("hitcount replay x.log -s sl", ["sliding"]),
        ("hitcount swap ", available_strategies()),
        ("hitcount swap e", ["ehist"]),
        ("hitcount replay x.log --format ", ["ndjson", "csv", "combined", "common"]),
        ("hitcount compare x.log -f c", ["csv", "combined", "common"]),
        (
            "hitcount compare x.log --strategies fixed,",
            [f"fixed,{name}" for name in available_strategies() if name != "fixed"],
        ),
        ("hitcount compare x.log --strategies fixed,sliding,m", ["fixed,sliding,morris"]),
        ("hitcount --store m", ["memory://"]),
        ("hitcount --store redis", ["redis://", "rediss://"]),
        ("hitcount --store ", []),  # nothing typed: the shell completes file names
        ("hitcount --store ./st", []),
        ("hitcount events --name ", list(REMEMBERED)),
        ("hitcount events --name strategy_s", ["strategy_swapped"]),
        ("hitcount demo --scenario ", ["1", "2", "3", "4", "5"]),
        ("hitcount replay x.log -s morris -p ", ["base=", "counters=", "seed="]),
        ("hitcount replay x.log -s fixed --param r", ["retention_s="]),
    ],
)
def test_option_values_complete(line: str, expected: list[str]) -> None:
    assert _bash(line) == expected


def test_without_a_strategy_param_completes_every_strategys_parameters() -> None:
    every = {p.name + "=" for s in available_strategies() for p in get_strategy(s).params_spec}
    offered = _bash("hitcount replay x.log -p ")
    assert set(offered) == every and len(offered) == len(every)


def test_zsh_shows_each_strategys_summary() -> None:
    env = {"_HITCOUNT_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "hitcount replay x -s m"}
    result = _RUNNER.invoke(app, [], env=env, prog_name="hitcount")
    assert '"morris":"approximate\\\\: probabilistic counters' in result.stdout


def test_the_installed_command_completes() -> None:
    """The real entry point reads the same variables (its name makes `_HITCOUNT_COMPLETE`)."""
    env = {"_HITCOUNT_COMPLETE": "complete_bash", "COMP_WORDS": "hitcount swap ", "COMP_CWORD": "2"}
    done = subprocess.run(
        [sys.executable, "-c", "from hitcount.cli import main; main()"],
        env={**env, "PATH": ""}, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == available_strategies()

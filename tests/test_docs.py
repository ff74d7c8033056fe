"""The README stays true: its example runs, and it documents every command and exit code."""

from __future__ import annotations

import re

from hitcount import ExitCode
from hitcount.cli import app
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_library_example_runs(capsys: object) -> None:
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block is not None
    exec(compile(block.group(1), "README.md", "exec"), {})


def test_readme_quickstart_has_exactly_two_commands() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quickstart, re.S)
    assert len(commands) == 2
    assert commands[1] == "pip install -e '.[test]' && pytest"
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_readme_documents_every_command() -> None:
    import typer.main

    group = typer.main.get_command(app)
    names = group.list_commands(typer.Context(group))  # type: ignore[attr-defined]
    assert "replay" in names
    for name in names:
        assert re.search(rf"^### .*\b{name}\b", README, re.M), f"README lacks a section on {name}"


def test_readme_lists_every_exit_code() -> None:
    table = README.split("## Exit codes", 1)[1]
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", table, re.M), f"exit code {code} undocumented"

"""Every `hitcount` command, one module each, registered by `hitcount.cli.app` from `COMMANDS`.

A new command is one module here plus one line in `COMMANDS`: a function becomes
`hitcount NAME`, a `typer.Typer` a group of subcommands (`hitcount snapshot save`).
A command's module is imported only when that command runs (or `--help` lists it), so
`hitcount --version` and tab completion do not pay for every command's imports.

Typer reads each command's parameter annotations at every start: the command modules (and
`cli.app`, `cli.completion`) keep them evaluated, without `from __future__ import
annotations`, since each string annotation costs a compile and an eval (about 1.5 ms of a
`query`'s start-up; `tests/system/test_startup.py` checks it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import typer

#: The commands in `--help` order: name -> "module:attribute" in this package.
COMMANDS: dict[str, str] = {
    "replay": "replay:replay",
    "query": "query:query",
    "top": "top:top",
    "metrics": "metrics:metrics",
    "events": "events:events",
    "swap": "swap:swap",
    "strategies": "strategies:strategies",
    "snapshot": "snapshot:snapshot_app",
    "demo": "demo:demo",
    "compare": "compare:compare_command",
    "merge": "merge:merge_command",
    "plot": "plot:plot",
    "report": "report:report",
    "export": "export:export_command",
    "vacuum": "vacuum:vacuum",
}


def load(name: str) -> Callable[..., None] | typer.Typer:
    """The function or sub-app of command `name`, importing its module."""
    module, _, attribute = COMMANDS[name].partition(":")
    loaded: Callable[..., None] | typer.Typer = getattr(
        importlib.import_module(f"{__name__}.{module}"), attribute
    )
    return loaded

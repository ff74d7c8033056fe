"""Every `hitcount` command, one module each, registered by `hitcount.cli.app` from `COMMANDS`.

A new command is one module here plus one line in `COMMANDS`: a function becomes
`hitcount NAME`, a `typer.Typer` a group of subcommands (`hitcount snapshot save`).
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from hitcount.cli.commands import (
    compare,
    demo,
    events,
    export,
    merge,
    metrics,
    plot,
    query,
    replay,
    report,
    snapshot,
    strategies,
    swap,
    top,
)

#: The commands in `--help` order.
COMMANDS: dict[str, Callable[..., None] | typer.Typer] = {
    "replay": replay.replay,
    "query": query.query,
    "top": top.top,
    "metrics": metrics.metrics,
    "events": events.events,
    "swap": swap.swap,
    "strategies": strategies.strategies,
    "snapshot": snapshot.snapshot_app,
    "demo": demo.demo,
    "compare": compare.compare_command,
    "merge": merge.merge_command,
    "plot": plot.plot,
    "report": report.report,
    "export": export.export_command,
}

"""`hitcount snapshot save|restore|show`: the state as a versioned JSON document."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render import Renderer, counted
from hitcount.engine import HitCounter
from hitcount.errors import StateError
from hitcount.model.positions import display_name
from hitcount.model.timeparse import iso
from hitcount.persist import document as snap
from hitcount.persist.reading import SQLITE_MAGIC
from hitcount.persist.state import load_counter, read_counter_file, refuse_future_clock, updating

snapshot_app = typer.Typer(
    help="Save, restore and inspect snapshots (versioned JSON documents).\n\n"
    "Example: hitcount snapshot save before.json && hitcount snapshot show before.json",
    no_args_is_help=True,
)

FileArg = Annotated[
    Path, typer.Argument(help="Snapshot file (JSON); - for stdout/stdin.", dir_okay=False)
]


def _read_snapshot(path: Path) -> HitCounter:
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        if not data.strip():
            raise StateError("<stdin>: no snapshot: the input is empty")
        if data.startswith(SQLITE_MAGIC):
            raise StateError(
                "<stdin>: a SQLite state cannot be read from stdin",
                hint="give its path instead of -",
            )
        return snap.from_bytes(data, "<stdin>")
    return read_counter_file(path)


@snapshot_app.command("save")
def snapshot_save(
    ctx: typer.Context,
    file: FileArg,
    compact: Annotated[bool, typer.Option("--compact", help="One line, no indentation.")] = False,
    json_output: opt.JsonFlag = False,
) -> None:
    """Save the current state to FILE (atomically).

    Example: hitcount snapshot save before-deploy.json
    """
    counter = load_counter(context(ctx).store())
    document = snap.take_snapshot(counter)
    data = snap.encode(document, pretty=not compact)
    if str(file) == "-":  # to stdout, for pipes
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    snap.write_file(  # overwrites snapshots and JSON states, nothing else
        file, data, hint="choose another file, or delete it if it is a damaged snapshot"
    )
    endpoints = sum(1 for _ in counter.strategy.endpoints())
    render = Renderer(json_output=json_output)
    if json_output:
        render.json(
            {
                "file": str(file),
                "endpoints_count": endpoints,
                "strategy": counter.strategy.describe(),
            }
        )
    else:
        render.line(
            f"saved {counter.strategy.describe()} state of {counted(endpoints, 'endpoint')}"
            f" to {file}"
        )


@snapshot_app.command("restore")
def snapshot_restore(
    ctx: typer.Context,
    file: FileArg,
    trace: opt.Trace = False,
    trace_json: opt.TraceJson = None,
    json_output: opt.JsonFlag = False,
) -> None:
    """Replace the whole state (strategy, clock, metrics) with FILE's.

    Example: hitcount snapshot restore before-deploy.json
    """
    app_ctx, render = context(ctx), Renderer(json_output=json_output)
    restored = refuse_future_clock(_read_snapshot(file), display_name(str(file)))
    counter = HitCounter()
    opt.attach_tracing(app_ctx, counter, render, trace, trace_json)
    with updating(app_ctx.store(), lambda: counter, replace=True, on_saved=app_ctx.mark_saved):
        counter.replace_with(restored)
    if json_output:
        render.json({"file": str(file), "metrics": counter.metrics_dict()})
    else:
        render.line(f"restored {counter.strategy.describe()} state from {file}")


@snapshot_app.command("show")
def snapshot_show(
    file: FileArg,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Endpoints to list.")] = 10,
    json_output: opt.JsonFlag = False,
) -> None:
    """Check FILE and summarise it: strategy, clock, metrics, biggest endpoints.

    Example: hitcount snapshot show before-deploy.json --json
    """
    counter = _read_snapshot(file)
    totals = sorted(counter.strategy.totals().items(), key=lambda kv: (-kv[1], kv[0]))
    summary: dict[str, Any] = {
        "file": str(file),
        "format": snap.FORMAT,
        "version": snap.VERSION,
        "strategy": counter.strategy.describe(),
        "clock": counter.clock,
        "clock_iso": iso(counter.clock),
        "metrics": counter.metrics_dict(),
        "endpoints": [{"endpoint": ep, "retained": n} for ep, n in totals[:limit]],
    }
    render = Renderer(json_output=json_output)
    if json_output:
        render.json(summary)
        return
    header = f"{snap.FORMAT} v{snap.VERSION}, {summary['strategy']}"
    render.line(f"{file}: {header}, clock {summary['clock_iso']}")
    render.metrics(summary["metrics"])
    table = render.table("endpoint", "retained hits", right=("retained hits",))
    for row in summary["endpoints"]:
        table.add_row(row["endpoint"], str(row["retained"]))  # the table shows cells escaped
    render.show(table)

"""The `merge` command: snapshots of shards combined into one snapshot."""

from pathlib import Path
from typing import Annotated, Any

import typer

from hitcount.cli import options as opt
from hitcount.cli.render import Renderer, counted, safe
from hitcount.errors import ConfigurationError
from hitcount.model.timeparse import iso
from hitcount.ops.merge import MergeResult, merge_files, snapshot_bytes, write_snapshot


def merge_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Snapshots or state files of the shards (same strategy and parameters).",
            dir_okay=False,
            show_default=False,
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Merged snapshot to write (atomically); - for stdout.",
            show_default=False,
        ),
    ],
    json_output: opt.JsonFlag = False,
) -> None:
    """Merge the snapshots of several shards into one snapshot, as if one machine had
    replayed all their traffic. Restore it with `hitcount snapshot restore`.

    Example: hitcount merge web1.json web2.json -o all.json
    """  # noqa: D205
    if output == "-" and json_output:
        raise ConfigurationError(
            "-o - writes the snapshot to stdout, so --json has nowhere to go",
            hint="write the snapshot to a file, or drop --json",
        )
    result = merge_files(files)
    render = Renderer(json_output=json_output)
    for warning in result.warnings:
        render.warn(warning)
    for note in result.notes:
        render.note(note)
    if output == "-":
        render.document(snapshot_bytes(result.counter))
        return
    write_snapshot(result.counter, output)
    summary = _summary(result, output)
    if json_output:
        render.json(summary)
        return
    render.line(
        f"merged {counted(len(result.sources), 'snapshot')} into {safe(output)}:"
        f" {summary['strategy']} · {counted(summary['endpoints_count'], 'endpoint')}"
        f" · clock {summary['clock_iso']} · {counted(summary['metrics']['total_hits'], 'hit')}"
        f" · {counted(result.pruned, 'entry', 'entries')} pruned"
    )


def _summary(result: MergeResult, output: str) -> dict[str, Any]:
    counter = result.counter
    return {
        "output": output,
        "sources": list(result.sources),
        "strategy": counter.strategy.describe(),
        "endpoints_count": sum(1 for _ in counter.strategy.endpoints()),
        "clock": counter.clock,
        "clock_iso": iso(counter.clock),
        "pruned_by_merge": result.pruned,
        "warnings": list(result.warnings),
        "notes": list(result.notes),
        "metrics": counter.metrics_dict(),
    }

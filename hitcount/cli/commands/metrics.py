"""`hitcount metrics`: the running figures of the saved state."""

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.persist.state import load_counter
from hitcount.persist.stores import SIZES_ONLY


def metrics(
    ctx: typer.Context, json_output: opt.JsonFlag = False, csv_output: opt.CsvFlag = False
) -> None:
    """Totals, memory and pruning figures of the saved state.

    Example: hitcount metrics --json
    """
    counter = load_counter(context(ctx).store(), lazy_distinct=True, scope=SIZES_ONLY)
    opt.renderer(json_output, csv_output).metrics(counter.metrics_dict())

"""`hitcount swap`: change the strategy of the saved state."""

from __future__ import annotations

from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render import Renderer
from hitcount.model.events import STRATEGY_RESET
from hitcount.persist.state import updating
from hitcount.strategies import available_strategies, get_strategy


@opt.with_strategy_options
def swap(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Argument(help=f"One of: {', '.join(available_strategies())}.")],
    param: opt.Params = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="If the swap would need lost information, start empty.")
    ] = False,
    trace: opt.Trace = False,
    trace_json: opt.TraceJson = None,
    json_output: opt.JsonFlag = False,
    strategy_params: dict[str, object] | None = None,
) -> None:
    """Change the strategy of the saved state, converting what it holds.

    Example: hitcount swap morris --base 1.1 --counters 8
    """
    app_ctx, render = context(ctx), Renderer(json_output=json_output)
    params = strategy_params or {}
    get_strategy(strategy).resolve_params(params)  # bad values are usage errors, state or not
    with updating(app_ctx.store(), on_saved=app_ctx.mark_saved) as counter:
        opt.attach_tracing(app_ctx, counter, render, trace, trace_json)
        resets: list[object] = []
        counter.subscribe(STRATEGY_RESET, resets.append)
        old = counter.strategy.describe()
        counter.swap_strategy(strategy, reset=reset, **params)
    reset_done = bool(resets)
    new = counter.strategy.describe()
    if json_output:
        render.json(
            {"old": old, "new": new, "reset": reset_done, "metrics": counter.metrics_dict()}
        )
    elif reset_done:
        render.line(f"reset: {new} starts empty (it could not be built from {old})")
    else:
        render.line(f"swapped {old} -> {new}")

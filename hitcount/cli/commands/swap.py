"""`hitcount swap`: change the strategy of the saved state."""

from typing import Annotated

import typer

from hitcount.cli import completion as complete
from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render import Renderer
from hitcount.engine.swaps import Swap
from hitcount.errors import SwapRefusedError
from hitcount.model.events import STRATEGY_RESET
from hitcount.model.metrics import number
from hitcount.model.timeparse import iso
from hitcount.persist.state import updating
from hitcount.strategies import available_strategies, get_strategy


@opt.with_strategy_options
def swap(
    ctx: typer.Context,
    strategy: Annotated[
        str,
        typer.Argument(
            help=f"One of: {', '.join(available_strategies())}.",
            autocompletion=complete.strategies,
        ),
    ],
    param: opt.Params = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="If the swap would need lost information, start empty.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Swap even when the new strategy keeps less than the state holds."
        ),
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
        old = counter.strategy.describe()
        plan = counter.plan_swap(strategy, reset=reset, **params)
        if plan.dropped_hits and not force:
            raise _keeps_less(old, plan)
        if not plan.unchanged:
            counter.apply_swap(plan)
    reset_done = plan.event == STRATEGY_RESET
    new = counter.strategy.describe()
    if json_output:
        render.json(
            {
                "old": old, "new": new, "reset": reset_done, "unchanged": plan.unchanged,
                "dropped_hits": round(plan.dropped_hits), "metrics": counter.metrics_dict(),
            }
        )  # fmt: skip
    elif plan.unchanged:
        render.line(f"nothing to do: the state already uses {new}")
    elif reset_done:
        render.line(f"reset: {new} starts empty (it could not be built from {old})")
    else:
        render.line(f"swapped {old} -> {new}{_dropped_text(plan)}")


def _dropped_text(plan: Swap) -> str:
    if not plan.dropped_hits or plan.dropped_before is None:
        return ""
    return f" (dropped {number(plan.dropped_hits)} hits at or before {iso(plan.dropped_before)})"


def _keeps_less(old: str, plan: Swap) -> SwapRefusedError:
    new = plan.strategy.describe()
    return SwapRefusedError(
        f"{new} keeps less than the state holds: swapping would drop"
        f" {number(plan.dropped_hits)} hits at or before {iso(plan.dropped_before)}"
        f" that {old} holds",
        hint="add --force to swap anyway, or give the new strategy a longer retention",
    )

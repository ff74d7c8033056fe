"""`hitcount events`: the notable events the saved state remembers."""

from __future__ import annotations

from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render import Renderer
from hitcount.errors import ConfigurationError
from hitcount.model.events import EVENT_FIELDS
from hitcount.persist.state import load_counter
from hitcount.persist.stores import HEADER_ONLY


def events(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", help="Only events of this name.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show the last N.")] = 50,
    json_output: opt.JsonFlag = False,
) -> None:
    """The notable events the state remembers (prunes, swaps, snapshots), oldest first.

    Example: hitcount events --name strategy_swapped
    """
    opt.check_limit(limit)
    if name is not None and name not in EVENT_FIELDS:
        raise ConfigurationError(
            f"unknown event {name!r}", hint=f"choose one of: {', '.join(EVENT_FIELDS)}"
        )
    counter = load_counter(context(ctx).store(), lazy_distinct=True, scope=HEADER_ONLY)
    rows = [row for row in counter.iter_events() if name is None or row.get("event") == name]
    Renderer(json_output=json_output).events(rows[-limit:])

"""`hitcount query`: one endpoint or glob over one window."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render import Renderer
from hitcount.model.timeparse import parse_duration
from hitcount.persist.state import load_counter
from hitcount.persist.stores import Scope


def query(
    ctx: typer.Context,
    endpoint: Annotated[
        str, typer.Argument(help="An endpoint, or a glob such as '/api/*' (summed).")
    ],
    last: opt.Last,
    now: opt.Now = None,
    distinct: Annotated[
        bool,
        typer.Option(
            "--distinct", help="Also estimate distinct users in the window (HyperLogLog)."
        ),
    ] = False,
    json_output: opt.JsonFlag = False,
) -> None:
    """Count hits of an endpoint in the window now - N < ts <= now.

    Example: hitcount query '/api/*' --last 5m --json
    (and distinct users: hitcount query /api --last 1h --distinct)
    """
    last_s, end = parse_duration(last), opt.instant(now)
    scope = Scope(patterns=(endpoint,), last_s=last_s, now=end)
    counter = load_counter(context(ctx).store(), lazy_distinct=True, scope=scope)
    result = counter.query(endpoint, last_s, end)
    users = counter.query_distinct(endpoint, last_s, end) if distinct else None
    horizon = counter.strategy.horizon
    known = (horizon if math.isfinite(horizon) else None, counter.clock)
    Renderer(json_output=json_output).query(result, counter.strategy.describe(), users, known)

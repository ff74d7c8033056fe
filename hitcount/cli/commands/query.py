"""`hitcount query`: one endpoint or glob over one window."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render import Renderer
from hitcount.persist.state import load_counter


def query(
    ctx: typer.Context,
    endpoint: Annotated[
        str, typer.Argument(help="An endpoint, or a glob such as '/api/*' (summed).")
    ],
    last: opt.Last = None,
    since: opt.Since = None,
    until: opt.Until = None,
    now: opt.Now = None,
    distinct: Annotated[
        bool,
        typer.Option(
            "--distinct", help="Also estimate distinct users in the window (HyperLogLog)."
        ),
    ] = False,
    json_output: opt.JsonFlag = False,
) -> None:
    """Count hits of an endpoint in the window now - N < ts <= now, or (since, until].

    Example: hitcount query '/api/*' --last 5m --json
    (a range: hitcount query /api/login --since -2h --until -1h;
    distinct users: hitcount query /api --last 1h --distinct)
    """
    render = Renderer(json_output=json_output)
    spec = opt.window(last, since, until, now, render)
    scope = opt.scope(spec, (endpoint,))
    counter = load_counter(context(ctx).store(), lazy_distinct=True, scope=scope)
    window = spec.resolve(counter.clock)
    result = counter.query(endpoint, window.last_s, window.end)
    users = counter.query_distinct(endpoint, window.last_s, window.end) if distinct else None
    horizon = counter.strategy.horizon
    known = (horizon if math.isfinite(horizon) else None, counter.clock)
    render.query(result, counter.strategy.describe(), users, known, ranged=spec.ranged)

"""`hitcount top`: the busiest endpoints of a window, once or redrawn."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render import Renderer
from hitcount.engine import QueryResult
from hitcount.errors import ConfigurationError
from hitcount.model.timeparse import parse_duration
from hitcount.persist.state import load_counter
from hitcount.persist.stores import Scope


def top(
    ctx: typer.Context,
    last: opt.Last,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many endpoints.")] = 10,
    now: opt.Now = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Redraw every --interval seconds until Ctrl-C.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between redraws with --watch.")
    ] = 2.0,
    count: Annotated[
        int | None,
        typer.Option("--count", help="With --watch: stop after N redraws.", show_default=False),
    ] = None,
    json_output: opt.JsonFlag = False,
) -> None:
    """The busiest endpoints in the window, most hits first.

    Example: hitcount top --last 1h --limit 5   (or --watch while replays append)
    """
    duration, end = parse_duration(last), opt.instant(now)
    opt.check_limit(limit)
    if not (math.isfinite(interval) and interval > 0) or (count is not None and count < 1):
        raise ConfigurationError("--interval must be > 0 seconds and --count >= 1")
    given = [name for name in ("count", "interval") if opt.given_on_command_line(ctx, name)]
    if given and not watch:
        flags = " and ".join(f"--{name}" for name in given)
        verb = "applies" if len(given) == 1 else "apply"
        raise ConfigurationError(f"{flags} only {verb} with --watch", hint="add --watch")
    store, render = context(ctx).store(), Renderer(json_output=json_output)

    def fetch() -> tuple[list[QueryResult], str]:
        scope = Scope(last_s=duration, now=end)  # read again each time: others write it
        counter = load_counter(store, lazy_distinct=True, scope=scope)
        return counter.top(duration, end, limit), counter.strategy.describe()

    if watch:
        render.watch_top(fetch, duration, interval, count)
        return
    results, strategy = fetch()
    render.top(results, duration, strategy)

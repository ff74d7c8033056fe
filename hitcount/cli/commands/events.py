"""`hitcount events`: the notable events the saved state remembers."""

import math
from typing import Annotated

import typer

from hitcount.cli import completion as complete
from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.errors import ConfigurationError
from hitcount.model.events import EVENT_FIELDS, REMEMBERED
from hitcount.model.timeparse import iso
from hitcount.persist.state import load_counter, read_events
from hitcount.persist.stores import HEADER_ONLY


def events(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help=f"Only events of this name: {', '.join(REMEMBERED)}.",
            autocompletion=complete.event_names,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show the last N.")] = 50,
    last: Annotated[
        str | None,
        typer.Option(
            "--last",
            "-l",
            help="Only events in the window (now - N, now] of log time (default: all).",
            show_default=False,
        ),
    ] = None,
    since: opt.Since = None,
    until: opt.Until = None,
    now: opt.Now = None,
    json_output: opt.JsonFlag = False,
    csv_output: opt.CsvFlag = False,
) -> None:
    """The notable events the state remembers (swaps, resets, alerts, switches), oldest first.

    A SQLite state keeps every event in its event log; a JSON state only its last 200.

    Hits, prunes and metrics updates are not remembered: see them as they happen with
    --trace or --trace-json on replay. --last, --since and --until keep the events whose
    log clock is in that window (--until or --now alone: every event up to it).
    Example: hitcount events --name strategy_swapped --since -1d
    """
    render = opt.renderer(json_output, csv_output)
    windowed = any(value is not None for value in (last, since, until, now))
    spec = opt.window(last, since, until, now, render)
    opt.check_limit(limit)
    if name is not None and name not in REMEMBERED:
        known = ", ".join(REMEMBERED)
        if name in EVENT_FIELDS:
            raise ConfigurationError(
                f"{name} events are not remembered by the state",
                hint=f"watch them with --trace-json on replay; remembered: {known}",
            )
        raise ConfigurationError(f"unknown event {name!r}", hint=f"choose one of: {known}")
    store = context(ctx).store()
    counter = load_counter(store, lazy_distinct=True, scope=HEADER_ONLY)
    window = spec.resolve(counter.clock)
    start, end = -math.inf, math.inf
    if windowed:
        if window.end is None:  # no hit yet: no window has a clock
            render.events([])
            return
        start, end = window.end - window.last_s, window.end
        if last is None and since is None:  # --until or --now alone: everything up to it
            start = -math.inf
    log = read_events(store, counter, name=name, start=start, end=end, limit=limit)
    span = f"{iso(start) if math.isfinite(start) else 'the start'} .. {iso(end)}"
    render.events(
        log.rows, whole_log=log.whole, bounded=log.bounded, earlier=log.earlier,
        window=span if windowed else None,
    )  # fmt: skip

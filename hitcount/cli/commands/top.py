"""`hitcount top`: the busiest endpoints of a window, once or redrawn."""

import math
from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.engine.queries import Answering
from hitcount.engine.ranking import Ranked, check_rank, rank
from hitcount.errors import ConfigurationError
from hitcount.model.keys import Keying
from hitcount.persist.answering import load_answering


def top(
    ctx: typer.Context,
    pattern: Annotated[
        str | None,
        typer.Argument(
            help="Only endpoints matching this glob, e.g. '/api/*' (default: all).",
            show_default=False,
        ),
    ] = None,
    last: opt.Last = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many endpoints.")] = 10,
    since: opt.Since = None,
    until: opt.Until = None,
    now: opt.Now = None,
    depth: opt.Depth = None,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Rank by hits, distinct (users, each once per row), or rate (hits/s: the"
            " same order as hits).",
        ),
    ] = "hits",
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
    csv_output: opt.CsvFlag = False,
) -> None:
    """The busiest endpoints in the window, most hits first, with hits per second.

    Example: hitcount top --last 1h --limit 5   (or --watch while replays append;
    hitcount top '/api/*' --depth 2 --by distinct for the /api/... groups with most users)
    """
    opt.check_endpoints(pattern)
    render = opt.renderer(json_output, csv_output)
    spec = opt.window(last, since, until, now, render)
    opt.check_limit(limit)
    check_rank(depth, by)
    if not (math.isfinite(interval) and interval > 0) or (count is not None and count < 1):
        raise ConfigurationError("--interval must be > 0 seconds and --count >= 1")
    given = [name for name in ("count", "interval") if opt.given_on_command_line(ctx, name)]
    if given and not watch:
        flags = " and ".join(f"--{name}" for name in given)
        verb = "applies" if len(given) == 1 else "apply"
        raise ConfigurationError(f"{flags} only {verb} with --watch", hint="add --watch")
    store = context(ctx).store()
    shown_s = spec.length()  # None: the clock places the window's start and end

    patterns = None if pattern is None or depth is not None else (pattern,)

    keying: list[Keying] = []
    read: list[tuple[Answering, float, float | None]] = []  # the state and window answered

    def fetch() -> tuple[list[Ranked], str]:
        # read again each time: others write it
        counter = load_answering(store, opt.scope(spec, patterns, users=by == "distinct"))
        window = spec.resolve(counter.clock)
        keying[:] = [counter.keying]
        opt.answer_keys(render, counter.keying)
        rows = rank(counter, window.last_s, window.end, limit=limit, pattern=pattern,
                    depth=depth, by=by)  # fmt: skip
        read[:] = [(counter, window.last_s, window.end)]
        return rows, counter.strategy.describe()

    if watch:
        render.watch_top(fetch, shown_s, interval, count)
        return
    results, strategy = fetch()
    counter, last_s, end = read[0]
    render.top(results, shown_s, strategy, counter.unheld_answer(last_s, end))
    opt.warn_refused(render, counter, last_s, end)
    opt.note_keys(render, keying[0])

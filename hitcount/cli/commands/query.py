"""`hitcount query`: one endpoint or glob over one window."""

import math
from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.engine.ranking import check_depth, query_rolled
from hitcount.model.answers import Rate
from hitcount.persist.answering import load_answering


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
    depth: opt.Depth = None,
    rate: Annotated[
        bool, typer.Option("--rate", help="Also give hits per second over the window.")
    ] = False,
    json_output: opt.JsonFlag = False,
    csv_output: opt.CsvFlag = False,
) -> None:
    """Count hits of an endpoint in the window now - N < ts <= now, or (since, until].

    Example: hitcount query '/api/*' --last 5m --json
    (a range: hitcount query /api/login --since -2h --until -1h;
    distinct users: hitcount query /api --last 1h --distinct;
    a roll-up: hitcount query /api/users --depth 2 --rate counts /api/users/...)
    """
    opt.check_endpoints(endpoint)
    render = opt.renderer(json_output, csv_output)
    spec = opt.window(last, since, until, now, render)
    check_depth(depth)
    scope = opt.scope(spec, (endpoint,) if depth is None else None, users=distinct)
    counter = load_answering(context(ctx).store(), scope)
    window = spec.resolve(counter.clock)
    if depth is None:
        result = counter.query(endpoint, window.last_s, window.end)
    else:
        result = query_rolled(counter, endpoint, depth, window.last_s, window.end)
    users = (
        counter.query_distinct_of(endpoint, result.matched, window.last_s, window.end)
        if distinct
        else None
    )
    horizon = counter.strategy.horizon
    known = (horizon if math.isfinite(horizon) else None, counter.clock)
    per_s = Rate.of(result.answer, result.last_s) if rate else None
    opt.answer_keys(render, counter.keying)
    render.query(
        result, counter.strategy.describe(), users, known, ranged=spec.ranged, rate=rate,
        per_s=per_s,
    )  # fmt: skip
    opt.warn_refused(render, counter, window.last_s, window.end)
    opt.note_keys(render, counter.keying)

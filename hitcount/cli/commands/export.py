"""`hitcount export`: the window's counts for Prometheus (textfile collector, pushgateway)."""

from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render import Renderer, counted
from hitcount.engine.ranking import check_depth
from hitcount.persist.state import load_counter
from hitcount.views.prometheus import export, exposition_text, write_exposition


def export_command(
    ctx: typer.Context,
    pattern: Annotated[
        str | None,
        typer.Argument(
            help="Only endpoints matching this glob (default: all).", show_default=False
        ),
    ] = None,
    last: opt.Last = None,
    since: opt.Since = None,
    until: opt.Until = None,
    now: opt.Now = None,
    depth: opt.Depth = None,
    prometheus: Annotated[
        bool,
        typer.Option(
            "--prometheus",
            help="The Prometheus text exposition format (the default, and the only format so far).",
        ),
    ] = False,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Write FILE atomically (e.g. /var/lib/node_exporter/textfile/hitcount.prom),"
            " or - for stdout.",
        ),
    ] = "-",
) -> None:
    """Hits, bounds, rates and distinct users per endpoint as Prometheus gauges.

    Labels: endpoint and window; for node exporter's textfile collector, from cron:

    Example: hitcount export --last 1m -o /var/lib/node_exporter/textfile/hitcount.prom
    """
    opt.check_endpoints(pattern)
    render = Renderer()
    spec = opt.window(last, since, until, now, render)
    check_depth(depth)
    patterns = None if pattern is None or depth is not None else (pattern,)
    counter = load_counter(
        context(ctx).store(), lazy_distinct=True, scope=opt.scope(spec, patterns)
    )
    window = spec.resolve(counter.clock)
    result = export(counter, window.last_s, window.end, pattern=pattern, depth=depth)
    if not result.rows and not counter.unheld_answer(window.last_s, window.end).complete:
        render.warn(
            "no endpoint has a hit the state keeps in the window, which starts before the"
            " oldest data the state keeps: the true counts may be higher; use a longer"
            " --max-window / --retention"
        )
    text = exposition_text(result)
    if out == "-":
        render.document(text)
        return
    write_exposition(out, text)
    render.note(f"wrote {out}: {counted(len(result.rows), 'endpoint')}, window {result.window}")

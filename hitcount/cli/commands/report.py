"""The `report` command: one self-contained HTML page from the saved state."""

from pathlib import Path
from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render import Renderer, counted, duration
from hitcount.errors import ConfigurationError
from hitcount.model.timeparse import parse_duration
from hitcount.persist.state import load_counter
from hitcount.views.report import build_report, write_report
from hitcount.views.report_html import render_html


def report(
    ctx: typer.Context,
    out: Annotated[
        str,
        typer.Argument(
            help="The HTML file to write (replaced atomically), or - for stdout.",
            show_default=False,
        ),
    ],
    last: opt.Last = None,
    step: opt.Step = None,
    since: opt.Since = None,
    until: opt.Until = None,
    top: Annotated[
        int, typer.Option("--top", "-n", help="How many of the busiest endpoints to chart.")
    ] = 10,
    now: opt.Now = None,
) -> None:
    """Write one HTML page: hits over time of the top endpoints, the top table, metrics.

    The window is now - N < ts <= now (default --last 1h), or (since, until]. The page
    has no script and fetches nothing: open it in any browser, even offline.

    Example: hitcount report report.html --last 6h --step 10m --top 5
    """
    if not out:  # an unset `$OUT`
        raise ConfigurationError(
            "the output path is empty", hint="give a file name, or - for stdout"
        )
    render = Renderer()
    spec = opt.window(last, since, until, now, render)
    step_s = None if step is None else parse_duration(step, "--step")
    store = context(ctx).store()
    counter = load_counter(store, lazy_distinct=True)
    counter.stored_sizes = store.sizes()  # the figures `metrics` gives (a database's files)
    window = spec.resolve(counter.clock)
    result = build_report(counter, window.last_s, step_s, top, window.end)
    page = render_html(result, store.describe())
    if out == "-":
        render.document(page)
        return
    write_report(out, page)
    chart = result.series
    steps = f", {len(chart.times)} steps of {duration(chart.step_s)}" if chart else ""
    render.line(f"wrote {out}: {counted(len(result.top), 'endpoint')}{steps}, {result.strategy}")
    render.note(f"open it in a browser: {Path(out).resolve().as_uri()}")

"""`hitcount plot`: hits per step as sparklines or bars, several endpoints on one scale."""

from typing import Annotated

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.cli.render.charts import PIPED_BAR_WIDTH, draw_series
from hitcount.errors import ConfigurationError
from hitcount.model.timeparse import parse_duration
from hitcount.persist.answering import load_answering
from hitcount.views.csv_forms import series_rows
from hitcount.views.json_forms import series_json
from hitcount.views.series import DEFAULT_STEPS, series

#: Widest chart --width accepts.
MAX_WIDTH = 10_000


def plot(
    ctx: typer.Context,
    endpoints: Annotated[
        list[str],
        typer.Argument(
            help="Endpoints, or globs such as '/api/*' (summed); all share one scale.",
            show_default=False,
        ),
    ],
    last: opt.Last = None,
    step: opt.Step = None,
    since: opt.Since = None,
    until: opt.Until = None,
    now: opt.Now = None,
    bars: Annotated[
        bool, typer.Option("--bars", help="One line per step with a bar, instead of sparklines.")
    ] = False,
    width: Annotated[
        int | None,
        typer.Option(
            "--width",
            "-w",
            help="Widest chart in characters: sparkline length (steps are merged to fit)"
            " or longest bar (default: fit the terminal; piped: one character per step,"
            f" bars of {PIPED_BAR_WIDTH}).",
            show_default=False,
        ),
    ] = None,
    json_output: opt.JsonFlag = False,
    csv_output: opt.CsvFlag = False,
) -> None:
    """Hits per step over the window now - N < ts <= now (default --last 1h), or (since, until].

    Every step (t - step, t] is answered by the strategy, with its bounds.

    Example: hitcount plot /api/login '/static/*' --last 6h --step 30m
    """
    opt.check_endpoints(*endpoints)
    render = opt.renderer(json_output, csv_output)
    spec = opt.window(last, since, until, now, render)
    step_given = None if step is None else parse_duration(step, "--step")
    if width is not None and not 1 <= width <= MAX_WIDTH:
        raise ConfigurationError(f"--width must be between 1 and {MAX_WIDTH}, got {width}")
    scope = opt.scope(spec, tuple(endpoints), users=False)
    counter = load_answering(context(ctx).store(), scope)
    window = spec.resolve(counter.clock)
    step_s = window.last_s / DEFAULT_STEPS if step_given is None else step_given
    result = series(counter, endpoints, window.last_s, step_s, window.end)
    if csv_output or json_output:
        opt.answer_keys(render, counter.keying)
        payload = {**series_json(result), **render.keys}
        if csv_output:
            render.csv(series_rows(payload))
        else:
            render.json(payload)
    else:
        draw_series(render, result, bars=bars, width=width)
    opt.note_keys(render, counter.keying)

"""`hitcount compare`: every strategy against the exact counts, on the same input."""

from typing import Annotated

import typer

from hitcount.cli import completion as complete
from hitcount.cli import options as opt
from hitcount.errors import ConfigurationError
from hitcount.model.timeparse import parse_duration
from hitcount.model.windows import DEFAULT_LAST_S
from hitcount.ops.compare import compare as run_compare
from hitcount.strategies import get_strategy


@opt.with_strategy_options
def compare_command(
    sources: Annotated[list[str], typer.Argument(help="Input files (read once per strategy).")],
    last: opt.Last = None,
    since: opt.Since = None,
    until: opt.Until = None,
    now: opt.Now = None,
    strategies: Annotated[
        str | None,
        typer.Option(
            "--strategies",
            help="Comma-separated strategies to compare (default: all).",
            show_default=False,
            autocompletion=complete.strategy_lists,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Busiest endpoints to compare.")] = 5,
    param: opt.Params = None,
    fmt: opt.Format = None,
    json_output: opt.JsonFlag = False,
    csv_output: opt.CsvFlag = False,
    strategy_params: dict[str, object] | None = None,
) -> None:
    """Replay FILE through every strategy: answers, error against the exact count, memory.

    The saved state is not touched. Example: hitcount compare traffic.ndjson --last 60
    (a range of the input: hitcount compare access.log --since -2h --until -1h --csv)
    """
    opt.check_limit(limit)
    render = opt.renderer(json_output, csv_output)
    spec = opt.window(last, since, until, now, render)
    names = [name.strip() for name in strategies.split(",")] if strategies is not None else None
    if names is not None and not all(names):
        raise ConfigurationError(
            f"--strategies needs comma-separated names, got {strategies!r}",
            hint="for example --strategies fixed,ehist",
        )
    for name in names or []:
        get_strategy(name)
    with render.progress("comparing") as on_progress:
        result = run_compare(
            sources,
            DEFAULT_LAST_S if last is None else parse_duration(last),
            window=spec,
            strategies=names,
            params=strategy_params,
            limit=limit,
            fmt=fmt,
            on_progress=on_progress,
        )
    render.comparison(result)

"""The `hitcount` command: a thin layer over the library; each command calls it and renders."""

from __future__ import annotations

import math
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from hitcount._version import __version__
from hitcount.cli import options as opt
from hitcount.cli.alerting import AlertWatch, parse_rules
from hitcount.cli.options import AppContext, context
from hitcount.cli.render import Renderer
from hitcount.engine import DEFAULT_MAX_LATENESS_S, HitCounter, QueryResult
from hitcount.errors import ConfigurationError, ExitCode, HitcountError
from hitcount.ingest.replay import FIRST_BAD_LINES, BadLineInfo
from hitcount.ingest.replay import replay as replay_sources
from hitcount.model.events import EVENT_FIELDS, STRATEGY_RESET
from hitcount.model.timeparse import parse_duration, parse_instant
from hitcount.persist.state import load_counter, updating
from hitcount.persist.stores import HEADER_ONLY, SIZES_ONLY, Scope
from hitcount.sketches.hll import DEFAULT_PRECISION
from hitcount.strategies import available_strategies, get_strategy


class HitcountGroup(TyperGroup):
    """Maps every error to one stderr line and its exit code; tracebacks only with --debug."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; report HitcountError, Ctrl-C and bugs as one line and a code."""
        try:
            return super().invoke(ctx)
        except HitcountError as err:
            if _debug(ctx):
                raise
            _fail(err.message, err.exit_code, err.hint)
        except BrokenPipeError:  # `... | head`: the reader left; say so and stop quietly
            saved = isinstance(ctx.obj, AppContext) and ctx.obj.saved
            outcome = "the new state was saved" if saved else "the saved state is unchanged"
            _fail(f"output closed early (broken pipe); {outcome}", ExitCode.BROKEN_PIPE)
        except KeyboardInterrupt:
            saved = isinstance(ctx.obj, AppContext) and ctx.obj.saved
            outcome = "the new state was saved" if saved else "the saved state is unchanged"
            _fail(f"interrupted; {outcome}", ExitCode.INTERRUPTED)
        except Exception as err:
            if _debug(ctx) or _is_framework_exception(err):
                raise
            _fail(
                f"internal error: {type(err).__name__}: {err}",
                ExitCode.BUG,
                "this is a bug in hitcount; rerun with --debug for the traceback and report it",
            )
        finally:
            if isinstance(ctx.obj, AppContext):
                for handle in ctx.obj.cleanup:
                    handle.close()


def _fail(message: str, code: ExitCode, hint: str | None = None) -> NoReturn:
    Renderer().error(message, hint)
    raise typer.Exit(int(code))


def _is_framework_exception(err: Exception) -> bool:
    """Exits, aborts and usage errors of Typer/Click, which they report themselves."""
    return type(err).__module__.startswith(("typer", "click"))


def _debug(ctx: Any) -> bool:
    return isinstance(ctx.obj, AppContext) and ctx.obj.debug


app = typer.Typer(
    cls=HitcountGroup,
    name="hitcount",
    help="Count hits per endpoint over time windows.\n\n"
    "Example: hitcount replay access.log.gz && hitcount query '/api/*' --last 5m",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hitcount {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            envvar="HITCOUNT_STATE",
            help="State file (default: $XDG_STATE_HOME/hitcount/state.json or"
            " ~/.local/state/hitcount/state.json).",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="HITCOUNT_STORE",
            help="State store URL: a path, file:///path, memory://, or"
            " redis://[user:password@]host:port/db (rediss:// for TLS).",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            envvar="HITCOUNT_NAMESPACE",
            help="Key prefix in a Redis store (default: hitcount).",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Count hits per endpoint over time windows."""
    if opt.given_on_command_line(ctx, "state") and opt.given_on_command_line(ctx, "store"):
        raise ConfigurationError("give --state or --store, not both")
    ctx.obj = AppContext(store_url=store or state, namespace=namespace, debug=debug)


@app.command()
@opt.with_strategy_options
def replay(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(help="Input files, or - for stdin.")],
    fmt: opt.Format = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            "-s",
            help=f"One of: {', '.join(available_strategies())} (default: fixed).",
            show_default=False,
        ),
    ] = None,
    param: opt.Params = None,
    max_lateness: Annotated[
        float | None,
        typer.Option(
            "--max-lateness",
            help="Seconds a line may arrive late and still count; kept with the state"
            f" (default: {DEFAULT_MAX_LATENESS_S:g}).",
            show_default=False,
        ),
    ] = None,
    append: Annotated[
        bool, typer.Option("--append", "-a", help="Add to the saved state instead of replacing it.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first bad line; save nothing.")
    ] = False,
    no_distinct: Annotated[
        bool,
        typer.Option(
            "--no-distinct", help="Keep no distinct-users sketches (query --distinct is then off)."
        ),
    ] = False,
    distinct_precision: Annotated[
        int | None,
        typer.Option(
            "--distinct-precision",
            help="HyperLogLog precision p for distinct users, 4..16; error ~1.04/sqrt(2^p)"
            f" (default: {DEFAULT_PRECISION}).",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="With --append on Redis: skip the lines of each file already in the state.",
        ),
    ] = False,
    trace: opt.Trace = False,
    trace_json: opt.TraceJson = None,
    alert: opt.Alert = None,
    exit_on_alert: opt.ExitOnAlert = False,
    json_output: opt.JsonFlag = False,
    follow: opt.Follow = False,
    commit_every: opt.CommitEvery = "5s",
    view_last: opt.ViewLast = "1m",
    strategy_params: dict[str, object] | None = None,
) -> None:
    """Replay traffic files into the state (replacing it unless --append).

    Example: hitcount replay access.log.gz --strategy sliding --max-window 3600
    (or live: hitcount replay access.log --follow --append)
    (with alerts: hitcount replay access.log.gz --alert '/login>100/60s' --exit-on-alert)
    """
    app_ctx, render = context(ctx), Renderer(json_output=json_output)
    params = strategy_params or {}
    rules = parse_rules(alert, exit_on_alert)
    store = app_ctx.store()
    following = opt.follow_settings(ctx, sources, follow, commit_every, view_last)

    def create() -> HitCounter:
        lateness = DEFAULT_MAX_LATENESS_S if max_lateness is None else max_lateness
        precision = DEFAULT_PRECISION if distinct_precision is None else distinct_precision
        return HitCounter(
            strategy or "fixed",
            max_lateness_s=lateness,
            distinct=not no_distinct,
            distinct_precision=precision,
            **params,
        )

    if strategy is not None or not append or distinct_precision is not None:
        create()  # bad strategy options are usage errors, whatever the saved state

    if resume and not append:
        raise ConfigurationError("--resume goes with --append", hint="add --append")
    if append and store.appends_concurrently:
        if following is not None or trace or trace_json is not None:
            raise ConfigurationError(
                "--follow, --trace and --trace-json do not work with --append on Redis yet",
                hint="replay without them, or into a state file",
            )
        _replay_appending(
            app_ctx, render, store, create, sources, fmt, strict, resume, (rules, exit_on_alert)
        )
        return
    if resume:
        raise ConfigurationError(
            "--resume needs a store that records input positions (redis://...)",
            hint="drop --resume; a file state is replaced or appended whole",
        )
    with updating(store, create, replace=not append, on_saved=app_ctx.mark_saved) as counter:
        if append:
            _check_same_strategy(counter, strategy, params)
            if max_lateness is not None:
                counter.set_max_lateness(max_lateness)
            _check_same_distinct(counter, no_distinct, distinct_precision)
        opt.attach_tracing(app_ctx, counter, render, trace, trace_json)
        alerts = AlertWatch(counter, rules, render, exit_on_alert)
        if trace:
            render.note("note: --trace prints every hit; large replays get slow")
        if following is not None:
            from hitcount.cli.live import follow_and_show

            followed = follow_and_show(
                counter, sources, store, render, following, fmt=fmt, strict=strict,
                on_bad_line=_bad_line_printer(render), on_saved=app_ctx.mark_saved,
            )  # fmt: skip
            if followed.interrupted:  # Ctrl-C or SIGTERM, after the last commit: exit 130
                raise KeyboardInterrupt
            return  # the end of stdin (`updating` saves once more)
        report = _run_replay(render, counter, sources, fmt, strict, stop=alerts.stop_requested)
    alerts.finish()  # --exit-on-alert: exit 9, the state saved
    render.replay(report, counter.metrics_dict(), store.describe())


def _replay_appending(
    app_ctx: AppContext,
    render: Renderer,
    store: Any,
    create: Any,
    sources: list[str],
    fmt: str | None,
    strict: bool,
    resume: bool,
    alerting: tuple[list[Any], bool],
) -> None:
    """`replay --append` onto a store many writers share: batches go in as they are read."""
    from hitcount.persist.stores.redis_append import appending

    with appending(store, create) as session:
        counter = session.counter
        _check_same_strategy(counter, None, {})
        alerts = AlertWatch(counter, alerting[0], render, alerting[1])
        starts = session.start_lines(sources, render.note) if resume else {}
        session.on_flush = app_ctx.mark_saved
        report = _run_replay(
            render, counter, sources, fmt, strict, stop=alerts.stop_requested,
            on_checkpoint=session.checkpoint, start_lines=starts,
        )  # fmt: skip
    alerts.finish()
    metrics = load_counter(store, scope=SIZES_ONLY).metrics_dict()
    render.replay(report, metrics, store.describe())


def _run_replay(
    render: Renderer, counter: HitCounter, sources: list[str], fmt: str | None, strict: bool,
    **hooks: Any,
) -> Any:  # fmt: skip
    """Replay `sources` into `counter` with the progress line and bad-line warnings."""
    _note_slow_scanner(render, sources, fmt)
    with render.progress() as on_progress:
        return replay_sources(
            counter, sources, fmt=fmt, strict=strict, on_bad_line=_bad_line_printer(render),
            on_progress=on_progress, **hooks,
        )  # fmt: skip


def _note_slow_scanner(render: Renderer, sources: list[str], fmt: str | None) -> None:
    """Say so when a big NDJSON file meets an install without the C scanner."""
    from hitcount.ingest import parallel, scanner

    if not scanner.native_available() and any(
        parallel.worker_count(source) and _is_ndjson(source, fmt)
        for source in sources
        if source != "-"
    ):
        render.note(
            "note: hitcount was installed without its C scanner (no C compiler then); big"
            " NDJSON files replay several times slower: install gcc and reinstall hitcount"
        )


def _is_ndjson(source: str, fmt: str | None) -> bool:
    """Whether `source` is NDJSON: by `--format`, by its name, else by its first byte."""
    from hitcount.ingest.formats import format_from_name

    named = fmt or format_from_name(source)
    if named is not None:
        return named == "ndjson"
    try:
        with open(source, "rb") as handle:
            return handle.read(256).lstrip().startswith(b"{")
    except OSError:
        return False


def _bad_line_printer(render: Renderer) -> Any:
    shown = [0]

    def show(info: BadLineInfo) -> None:
        if shown[0] < FIRST_BAD_LINES:
            shown[0] += 1
            render.bad_line(info)

    return show


def _check_same_strategy(counter: HitCounter, name: str | None, params: dict[str, object]) -> None:
    current = counter.strategy
    wanted = get_strategy(name or current.name)
    resolved = wanted.resolve_params(
        {**current.params, **params} if wanted.name == current.name else params
    )
    if wanted.name != current.name or resolved != current.params:
        raise ConfigurationError(
            f"the saved state uses {current.describe()}; --append cannot change the strategy",
            hint="use `hitcount swap` to change it, or replay without --append to start over",
        )


def _check_same_distinct(counter: HitCounter, off: bool, precision: int | None) -> None:
    """With --append, the distinct-users setting of the saved state cannot change."""
    tracker = counter.distinct
    if off and tracker is not None:
        raise ConfigurationError(
            "the saved state keeps distinct-user sketches; --append --no-distinct would drop them",
            hint="append without --no-distinct, or replay without --append to start over",
        )
    if tracker is not None and precision is not None and precision != tracker.precision:
        raise ConfigurationError(
            f"the saved state keeps distinct users at precision {tracker.precision};"
            f" --append cannot change it to {precision}",
            hint="replay without --append to start over at the new precision",
        )


@app.command()
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
    last_s, end = parse_duration(last), _instant(now)
    scope = Scope(patterns=(endpoint,), last_s=last_s, now=end)
    counter = load_counter(context(ctx).store(), lazy_distinct=True, scope=scope)
    result = counter.query(endpoint, last_s, end)
    users = counter.query_distinct(endpoint, last_s, end) if distinct else None
    Renderer(json_output=json_output).query(result, counter.strategy.describe(), users)


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ConfigurationError(f"--limit must be >= 1, got {limit}")


def _instant(now: str | None) -> float | None:
    return None if now is None else parse_instant(now)


@app.command()
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
    duration, end = parse_duration(last), _instant(now)
    _check_limit(limit)
    if not (math.isfinite(interval) and interval > 0) or (count is not None and count < 1):
        raise ConfigurationError("--interval must be > 0 seconds and --count >= 1")
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


@app.command()
def metrics(ctx: typer.Context, json_output: opt.JsonFlag = False) -> None:
    """Totals, memory and pruning figures of the saved state.

    Example: hitcount metrics --json
    """
    counter = load_counter(context(ctx).store(), lazy_distinct=True, scope=SIZES_ONLY)
    Renderer(json_output=json_output).metrics(counter.metrics_dict())


@app.command()
def events(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", help="Only events of this name.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show the last N.")] = 50,
    json_output: opt.JsonFlag = False,
) -> None:
    """The notable events the state remembers (prunes, swaps, snapshots), oldest first.

    Example: hitcount events --name strategy_swapped
    """
    _check_limit(limit)
    if name is not None and name not in EVENT_FIELDS:
        raise ConfigurationError(
            f"unknown event {name!r}", hint=f"choose one of: {', '.join(EVENT_FIELDS)}"
        )
    counter = load_counter(context(ctx).store(), lazy_distinct=True, scope=HEADER_ONLY)
    rows = [row for row in counter.iter_events() if name is None or row.get("event") == name]
    Renderer(json_output=json_output).events(rows[-limit:])


@app.command()
@opt.with_strategy_options
def swap(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Argument(help=f"One of: {', '.join(available_strategies())}.")],
    param: opt.Params = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="If the swap would need lost information, start empty.")
    ] = False,
    trace: opt.Trace = False,
    trace_json: opt.TraceJson = None,
    json_output: opt.JsonFlag = False,
    strategy_params: dict[str, object] | None = None,
) -> None:
    """Change the strategy of the saved state, converting what it holds.

    Example: hitcount swap morris --base 1.1 --counters 8
    """
    app_ctx, render = context(ctx), Renderer(json_output=json_output)
    params = strategy_params or {}
    get_strategy(strategy).resolve_params(params)  # bad values are usage errors, state or not
    with updating(app_ctx.store(), on_saved=app_ctx.mark_saved) as counter:
        opt.attach_tracing(app_ctx, counter, render, trace, trace_json)
        resets: list[object] = []
        counter.subscribe(STRATEGY_RESET, resets.append)
        old = counter.strategy.describe()
        counter.swap_strategy(strategy, reset=reset, **params)
    reset_done = bool(resets)
    new = counter.strategy.describe()
    if json_output:
        render.json(
            {"old": old, "new": new, "reset": reset_done, "metrics": counter.metrics_dict()}
        )
    elif reset_done:
        render.line(f"reset: {new} starts empty (it could not be built from {old})")
    else:
        render.line(f"swapped {old} -> {new}")


@app.command()
def strategies(json_output: opt.JsonFlag = False) -> None:
    """The counting strategies and their parameters.

    Example: hitcount strategies --json
    """
    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "summary": get_strategy(name).summary,
            "params": [
                {"name": p.name, "flag": p.flag, "default": p.default, "help": p.help}
                for p in get_strategy(name).params_spec
            ],
        }
        for name in available_strategies()
    ]
    render = Renderer(json_output=json_output)
    if json_output:
        render.json(rows)
        return
    table = render.table("strategy", "parameters", "what it does")
    for row in rows:
        flags = " ".join(f"{p['flag']} {p['default']:g}" for p in row["params"])
        table.add_row(row["name"], flags, row["summary"])
    render.show(table)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    import os

    # numpy's OpenBLAS starts a thread per core that spins between calls; hitcount does no
    # linear algebra, and on a small machine those threads take CPU from the replay.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app(args=argv, prog_name="hitcount")
    except BrokenPipeError:  # e.g. `hitcount top ... | head -1`
        import os
        import sys

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None

"""`hitcount replay`: parse the options, call the replay service, show what it did."""

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer

from hitcount.cli import completion as complete
from hitcount.cli import options as opt
from hitcount.cli.alerting import AlertWatch, alert_exec, parse_rules
from hitcount.cli.options import AppContext, FollowSettings, context
from hitcount.cli.render import Renderer
from hitcount.engine import DEFAULT_MAX_LATENESS_S, HitCounter
from hitcount.engine.alerts import AlertRule
from hitcount.engine.capping import OVERFLOW_ENDPOINT
from hitcount.errors import ConfigurationError
from hitcount.ingest.formats import LOG_FORMAT_PREFIX, make_parser
from hitcount.ingest.formats.mapped import parse_fields
from hitcount.model.keys import Keying
from hitcount.model.metrics import plain
from hitcount.model.timeparse import parse_length
from hitcount.ops.append_checks import normal_layout
from hitcount.ops.replaying import ReplayHooks, ReplaySettings, replay_into_store
from hitcount.sketches.hll import DEFAULT_PRECISION
from hitcount.strategies import available_strategies

if TYPE_CHECKING:
    from hitcount.live.follow import FollowView
    from hitcount.ops.hooks import AlertExec

Strategy = Annotated[
    str | None,
    typer.Option(
        "--strategy",
        "-s",
        help=f"One of: {', '.join(available_strategies())} (default: fixed).",
        show_default=False,
        autocompletion=complete.strategies,
    ),
]
MaxLateness = Annotated[
    str | None,
    typer.Option(
        "--max-lateness",
        help="How late a line may arrive and still count (seconds, or a duration such as"
        f" 90s, 5m, 1h); kept with the state (default: {plain(DEFAULT_MAX_LATENESS_S)}).",
        show_default=False,
    ),
]
Append = Annotated[
    bool, typer.Option("--append", "-a", help="Add to the saved state instead of replacing it.")
]
Strict = Annotated[bool, typer.Option("--strict", help="Stop at the first bad line; save nothing.")]
NoDistinct = Annotated[
    bool,
    typer.Option(
        "--no-distinct", help="Keep no distinct-users sketches (query --distinct is then off)."
    ),
]
DistinctPrecision = Annotated[
    int | None,
    typer.Option(
        "--distinct-precision",
        help="HyperLogLog precision p for distinct users, 4..16; error ~1.04/sqrt(2^p)"
        f" (default: {DEFAULT_PRECISION}).",
        show_default=False,
    ),
]
Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="With --append: skip the lines of each file already in the state (every store"
        " records how far each file was read).",
    ),
]
Again = Annotated[
    bool,
    typer.Option(
        "--again",
        help="Count a file again although the state already holds it whole, or a file"
        " named twice (refused without it: its lines would count twice).",
    ),
]
MaxEndpoints = Annotated[
    int | None,
    typer.Option(
        "--max-endpoints",
        help="Keep at most N endpoints by name; hits of any other endpoint count under"
        f" '{OVERFLOW_ENDPOINT}'. Kept with the state (default: no cap).",
        show_default=False,
    ),
]


class _Observers:
    """What `replay` attaches to the counter: `--trace`, `--trace-json` and `--alert`."""

    def __init__(
        self,
        app_ctx: AppContext,
        render: Renderer,
        tracing: tuple[bool, str | None],
        alerting: tuple[list[AlertRule], bool],
        hook: "AlertExec | None" = None,
    ) -> None:
        self.app_ctx, self.render = app_ctx, render
        self.tracing, self.alerting, self.hook = tracing, alerting, hook
        self.alerts: AlertWatch | None = None

    def attach(self, counter: HitCounter) -> None:
        """Subscribe the tracers and the alert printer to `counter`."""
        (trace, trace_json), (rules, exit_on_alert) = self.tracing, self.alerting
        opt.attach_tracing(self.app_ctx, counter, self.render, trace, trace_json)
        self.alerts = AlertWatch(counter, rules, self.render, exit_on_alert, self.hook)
        if trace:
            self.render.note("note: --trace prints every hit; large replays get slow")

    def stop_requested(self) -> bool:
        """Whether `--exit-on-alert` asks the replay to stop."""
        return self.alerts is not None and self.alerts.stop_requested()

    def finish(self) -> None:
        """After the save: exit 9 if an alert stopped the replay."""
        if self.alerts is not None:
            self.alerts.finish()

    def close(self) -> None:
        """Wait for the `--alert-exec` hooks still running (each bounded by its timeout)."""
        if self.hook is not None:
            self.hook.close()


def _hooks(
    app_ctx: AppContext, render: Renderer, observers: _Observers, following: FollowSettings | None
) -> ReplayHooks:
    window_s = following.window_s if following is not None else 0.0
    return ReplayHooks(
        on_note=render.note,
        on_bad_line=render.bad_line,
        on_saved=app_ctx.mark_saved,
        on_counter=observers.attach,
        should_stop=observers.stop_requested,
        progress=render.progress,
        follow_view=lambda: _follow_view(render, window_s),
    )


@opt.with_strategy_options
def replay(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(help="Input files, or - for stdin.")],
    fmt: opt.Format = None,
    strategy: Strategy = None,
    param: opt.Params = None,
    max_lateness: MaxLateness = None,
    append: Append = False,
    strict: Strict = False,
    no_distinct: NoDistinct = False,
    distinct_precision: DistinctPrecision = None,
    resume: Resume = False,
    again: Again = False,
    max_endpoints: MaxEndpoints = None,
    trace: opt.Trace = False,
    trace_json: opt.TraceJson = None,
    alert: opt.Alert = None,
    exit_on_alert: opt.ExitOnAlert = False,
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            metavar="TEMPLATE",
            help="What counts as the endpoint, from each line's fields: {path} (default),"
            " {method}, {status}, {status_class}, {host}, {user}, any NDJSON field or CSV"
            " column, e.g. '{method} {path}'; repeatable, a line counting once under each."
            " Remembered by the state.",
            show_default=False,
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            metavar="FIELD OP VALUE",
            help="Count only lines where this holds: status>=500, method=POST, path=/api/*"
            " (OP: = != >= <= > <; repeatable, all must hold). Remembered by the state.",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            metavar="LAYOUT",
            help="Access-log lines in this layout: an nginx log_format such as"
            " '$remote_addr [$time_local] \"$request\" $status', or an Apache LogFormat"
            " such as '%h %t \"%r\" %>s %b'; its variables are fields for --key and --where.",
            show_default=False,
        ),
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            metavar="NAME=SOURCE",
            help="Read NAME (endpoint, ts, user) from another NDJSON field (request.path"
            " reaches into nested objects) or CSV column, e.g. --field ts=time (repeatable)."
            " Remembered by the state.",
            show_default=False,
        ),
    ] = None,
    decode_paths: Annotated[
        bool,
        typer.Option(
            "--decode-paths",
            help="Percent-decode each path and collapse its // (as GoAccess does) before"
            " --where and --key see it; a path not valid UTF-8 once decoded is kept as"
            " written. Remembered by the state.",
        ),
    ] = False,
    alert_exec_command: opt.AlertExecOption = None,
    alert_exec_timeout: opt.AlertExecTimeout = 10.0,
    json_output: opt.JsonFlag = False,
    follow: opt.Follow = False,
    commit_every: opt.CommitEvery = "5s",
    view_last: opt.ViewLast = "1m",
    strategy_params: dict[str, object] | None = None,
) -> None:
    """Replay traffic files into the state (replacing it unless --append).

    Example: hitcount replay access.log.gz --strategy sliding --max-window 3600
    (or live: hitcount replay access.log --follow --append)
    (with alerts: hitcount replay access.log.gz --alert '/login>100/60s' --exit-on-alert;
    a hook per alert: --alert '/login>100/60s' --alert-exec ./page-oncall.sh)
    """
    app_ctx, render = context(ctx), Renderer(json_output=json_output)
    rules = parse_rules(alert, exit_on_alert)
    fmt, layout = custom_format(fmt, log_format), normal_layout(log_format)
    hook = alert_exec(alert_exec_command, alert_exec_timeout, rules, render)
    store = app_ctx.store()
    following = opt.follow_settings(ctx, sources, follow, commit_every, view_last)
    settings = ReplaySettings(
        strategy=strategy, params=strategy_params or {}, max_lateness_s=_lateness(max_lateness),
        append=append, strict=strict, distinct=not no_distinct,
        distinct_precision=distinct_precision, resume=resume, again=again, fmt=fmt,
        commit_every_s=following.commit_every_s if following is not None else None,
        traced=trace or trace_json is not None, max_endpoints=max_endpoints,
        keying=(
            None if key is None and not where and not field and not decode_paths
            else Keying.parse(key, where, parse_fields(field), decode_paths, layout)
        ),
    )  # fmt: skip
    observers = _Observers(app_ctx, render, (trace, trace_json), (rules, exit_on_alert), hook)
    try:
        outcome = replay_into_store(
            store, sources, settings, _hooks(app_ctx, render, observers, following)
        )
    finally:
        observers.close()
    for warning in outcome.warnings():
        render.warn(warning)
    if outcome.followed is not None:  # the end of stdin, or --exit-on-alert
        if render.draws_live():  # then a text summary ends the live view
            render.replay(outcome.report, outcome.metrics, outcome.saved_to)
        observers.finish()  # --exit-on-alert: exit 9, the last commit made
        return
    observers.finish()  # --exit-on-alert: exit 9, the state saved
    render.replay(outcome.report, outcome.metrics, outcome.saved_to)


def _follow_view(render: Renderer, window_s: float) -> "AbstractContextManager[FollowView]":
    """The live view of `--follow` (Rich's live display: imported only for --follow)."""
    from hitcount.cli.live import follow_view

    return follow_view(render, window_s)


def _lateness(text: str | None) -> float | None:
    """`--max-lateness` in seconds: a number (`120`, `1e6`) or a duration (`90s`, `1h`).

    The counter refuses a number out of range (negative, not finite) naming the flag.
    """
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return parse_length(text, "--max-lateness")


def custom_format(fmt: str | None, log_format: str | None) -> str | None:
    """`--format`, or `--log-format`'s layout (checked now, before any state is touched).

    Raises:
        ConfigurationError: both given, or a layout without a time or a request.
    """
    if log_format is None:
        return fmt
    if fmt is not None:
        raise ConfigurationError("--format and --log-format exclude each other")
    make_parser(LOG_FORMAT_PREFIX + log_format)
    return LOG_FORMAT_PREFIX + log_format

"""Options shared by several commands, and the context every command receives."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import msgspec
import typer

from hitcount.cli import completion as complete
from hitcount.cli.context import AppContext as AppContext  # re-exported for the commands
from hitcount.cli.context import given_on_command_line as given_on_command_line
from hitcount.errors import ConfigurationError
from hitcount.model.timeparse import parse_duration
from hitcount.model.windows import DEFAULT_STEPS, WindowSpec, naive_instant, window_spec

# What only some commands need is imported where it is used: a `query` loads neither Rich,
# nor follow mode, nor every strategy's options (start-up: tests/system/test_startup.py).
if TYPE_CHECKING:
    from hitcount.cli.render import Renderer
    from hitcount.engine import HitCounter
    from hitcount.engine.queries import Answering
    from hitcount.model.keys import Keying
    from hitcount.persist.stores import Scope
    from hitcount.persist.traces import TraceFile
    from hitcount.strategies import Param

STRATEGY_PANEL = "Strategy"


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
CsvFlag = Annotated[
    bool, typer.Option("--csv", help="Print CSV instead of text (a header line, then rows).")
]
Last = Annotated[
    str | None,
    typer.Option(
        "--last",
        "-l",
        help="Window length: seconds, or 90s, 5m, 1h30m, 1d, 1w (also ms). The window is"
        " (now - N, now]; with no --last, --since or --until: 1h.",
        show_default=False,
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="INSTANT",
        help="Window start (excluded): epoch seconds, ISO 8601 (no offset: UTC), 'wall', or"
        " relative to --now such as -2h. Ends at --until, or --since + --last, or now.",
        show_default=False,
    ),
]
Until = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="INSTANT",
        help="Window end (included), as --since: e.g. -1h or 2026-11-27T12:00Z.",
        show_default=False,
    ),
]
Depth = Annotated[
    int | None,
    typer.Option(
        "--depth",
        metavar="N",
        help="Roll endpoints up to their first N path segments (/api/users/7 at 2:"
        " /api/users), summing their hits.",
        show_default=False,
    ),
]
Step = Annotated[
    str | None,
    typer.Option(
        "--step",
        help="Step length: seconds, or 90s, 5m, 2h; --last must be a whole number of"
        f" steps (default: --last / {DEFAULT_STEPS}).",
        show_default=False,
    ),
]
Now = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="The reference clock, and the window's end unless --until: epoch seconds, ISO 8601"
        " (no offset: UTC), or 'wall'. Default: the latest hit seen.",
        show_default=False,
    ),
]
Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="ndjson, csv, combined or common (default: from the file name, else sniffed).",
        show_default=False,
        autocompletion=complete.formats,
    ),
]
Trace = Annotated[bool, typer.Option("--trace", help="Print every event on stderr.")]
TraceJson = Annotated[
    str | None,
    typer.Option(
        "--trace-json",
        metavar="FILE",
        help="Write every event as NDJSON to FILE ('-' for stdout).",
        show_default=False,
    ),
]
Follow = Annotated[
    bool,
    typer.Option(
        "--follow",
        "-F",
        help="Keep reading as the input grows, like tail -F (stdin: until its end);"
        " commits every --commit-every; Ctrl-C stops (exit 130, state saved).",
    ),
]
CommitEvery = Annotated[
    str,
    typer.Option(
        "--commit-every",
        metavar="DURATION",
        help="With --follow: save the state (and the input offsets) this often: 0.5, 5s, 1m.",
    ),
]
ViewLast = Annotated[
    str,
    typer.Option(
        "--last",
        "-l",
        metavar="DURATION",
        help="With --follow: the window of the busiest endpoints shown (90s, 5m, 1h).",
    ),
]
Alert = Annotated[
    list[str] | None,
    typer.Option(
        "--alert",
        metavar="ENDPOINT>LIMIT/WINDOW",
        help="Alert when an endpoint (or each endpoint of a glob) has more than LIMIT hits in"
        " WINDOW of log time, e.g. '/login>100/60s' (repeatable; quote it).",
        show_default=False,
    ),
]
AlertExecOption = Annotated[
    str | None,
    typer.Option(
        "--alert-exec",
        metavar="CMD",
        help="Run CMD (split like a shell, run without one) once per alert and once when it"
        " clears, the event as JSON on its stdin and HITCOUNT_* environment variables; a"
        " failing or slow hook is reported, never stops the replay.",
        show_default=False,
    ),
]
AlertExecTimeout = Annotated[
    float,
    typer.Option(
        "--alert-exec-timeout",
        metavar="SECONDS",
        help="With --alert-exec: stop a hook that runs longer than this.",
    ),
]
ExitOnAlert = Annotated[
    bool,
    typer.Option(
        "--exit-on-alert", help="Stop at the first alert with exit code 9 (the state is saved)."
    ),
]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="NAME=VALUE",
        help="Any strategy parameter by name, e.g. -p window_s=10 (repeatable).",
        autocompletion=complete.strategy_params,
        rich_help_panel=STRATEGY_PANEL,
        show_default=False,
    ),
]


def with_strategy_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give `command` one option per strategy parameter in the registry.

    The options arrive in the command's `strategy_params` argument as a dict of those given
    (plus `--param NAME=VALUE` ones), so a new strategy needs no CLI code.
    """
    from hitcount.model.metrics import plain

    specs = _registry_params()
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "strategy_params"]
    added = [
        inspect.Parameter(
            _OPTION_PREFIX + param.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                str | None if param.in_seconds else param.kind | None,  # `1d` as well
                typer.Option(
                    param.flag,
                    help=f"{'/'.join(users)}: {param.help} [{plain(param.default)}].",
                    rich_help_panel=STRATEGY_PANEL,
                    show_default=False,
                ),
            ],
        )
        for param, users in specs.values()
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        given = {
            name[len(_OPTION_PREFIX) :]: kwargs.pop(name)
            for name in list(kwargs)
            if name.startswith(_OPTION_PREFIX)
        }
        chosen: dict[str, object] = {k: v for k, v in given.items() if v is not None}
        named = _named_params(kwargs.pop("param", None))
        if twice := sorted(set(chosen) & set(named)):
            flag = specs[twice[0]][0].flag
            raise ConfigurationError(
                f"{flag} and --param {twice[0]}=... both set {twice[0]}",
                hint="give each parameter once",
            )
        command(**kwargs, strategy_params={**chosen, **named})

    new_signature = signature.replace(parameters=[*kept, *added])
    wrapper.__signature__ = new_signature  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in new_signature.parameters.values()}
    return wrapper


_OPTION_PREFIX = "strategy_option_"


def _registry_params() -> dict[str, tuple[Param, list[str]]]:
    """Each parameter name once, with the strategies that take it."""
    from hitcount.strategies import available_strategies, get_strategy

    specs: dict[str, tuple[Param, list[str]]] = {}
    for name in available_strategies():
        for param in get_strategy(name).params_spec:
            specs.setdefault(param.name, (param, []))[1].append(name)
    return specs


def _named_params(items: list[str] | None) -> dict[str, object]:
    """`--param NAME=VALUE` options as a dict.

    Raises:
        ConfigurationError: an item without `=`.
    """
    chosen: dict[str, object] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(f"--param must look like NAME=VALUE, got {item!r}")
        if name.strip() in chosen:
            raise ConfigurationError(
                f"--param {name.strip()} is given twice", hint="give each parameter once"
            )
        chosen[name.strip()] = value.strip()
    return chosen


def attach_tracing(
    app_ctx: AppContext, counter: HitCounter, render: Renderer, trace: bool, trace_json: str | None
) -> None:
    """Subscribe `--trace` / `--trace-json` printers to every event of `counter`."""
    from hitcount.model.events import ALL, Event
    from hitcount.model.inert import json_line

    if trace:
        counter.subscribe(ALL, render.trace)
    if trace_json is not None:
        sink = _open_sink(app_ctx, trace_json)
        if trace_json == "-":  # the NDJSON events own stdout: `| jq` reads only them
            render.give_stdout_away()

        def write(event: Event) -> None:
            sink.write(json_line(event.to_dict()) + "\n")

        counter.subscribe(ALL, write)


def _open_sink(app_ctx: AppContext, target: str) -> IO[str] | TraceFile:
    from hitcount.persist.traces import TraceFile

    if target == "-":
        return sys.stdout
    trace = TraceFile(Path(target))  # published when the command ends
    app_ctx.cleanup.append(trace)
    return trace


class FollowSettings(msgspec.Struct, frozen=True):
    """The options of `replay --follow`, checked."""

    commit_every_s: float
    window_s: float


def follow_settings(
    ctx: typer.Context, sources: list[str], follow: bool, commit_every: str, last: str
) -> FollowSettings | None:
    """The --follow settings, or None without --follow.

    Raises:
        ConfigurationError: a bad duration, an option that needs --follow, or input that
            cannot be followed (gzip, stdin with files).
    """
    if not follow:
        for name, flag in (("commit_every", "--commit-every"), ("view_last", "--last")):
            if given_on_command_line(ctx, name):
                raise ConfigurationError(f"{flag} only applies with --follow")
        return None
    from hitcount.live.follow import check_followable

    check_followable(sources)
    return FollowSettings(parse_duration(commit_every, "--commit-every"), parse_duration(last))


def context(ctx: typer.Context) -> AppContext:
    """The AppContext the top-level callback stored."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    obj: AppContext = root.obj
    return obj


def check_endpoints(*endpoints: str | None) -> None:
    """Each endpoint or glob given (None: not given) is not empty, checked first.

    An empty one is an unset `$VAR`: no endpoint is empty (replay skips those).

    Raises:
        ConfigurationError: an empty one.
    """
    if any(endpoint == "" for endpoint in endpoints):
        raise ConfigurationError(
            "the endpoint is empty", hint="give an endpoint, or a glob such as '/api/*'"
        )


def check_limit(limit: int) -> None:
    """`--limit` is at least 1, checked before any state is read.

    Raises:
        ConfigurationError: below 1.
    """
    if limit < 1:
        raise ConfigurationError(f"--limit must be >= 1, got {limit}")


def window(
    last: str | None, since: str | None, until: str | None, now: str | None, render: Renderer
) -> WindowSpec:
    """The window options, checked; a note on stderr for each instant read as UTC.

    Raises:
        ConfigurationError: a bad duration or instant, or options that contradict.
    """
    spec = window_spec(last, since, until, now)
    for flag, text in (("--since", since), ("--until", until), ("--now", now)):
        if naive_instant(text):
            render.note(f"{flag} {text!r} has no UTC offset: read as UTC")
    return spec


def scope(
    spec: WindowSpec, patterns: tuple[str, ...] | None = None, *, users: bool = True
) -> Scope:
    """What a store must read for `spec`: its patterns, back far enough for the window, and
    the distinct-users sketches only when `users` will be asked."""  # noqa: D205, D209
    from hitcount.persist.stores import Scope

    back, end = spec.reach()
    return Scope(patterns=patterns, last_s=back, now=end, users=users)


def renderer(json_output: bool, csv_output: bool = False) -> Renderer:
    """The renderer for `--json` or `--csv` (or text).

    Raises:
        ConfigurationError: both asked for.
    """
    if json_output and csv_output:
        raise ConfigurationError("--json and --csv exclude each other", hint="choose one")
    from hitcount.cli.render import Renderer

    return Renderer(json_output=json_output, csv_output=csv_output)


def answer_keys(render: Renderer, keying: Keying) -> None:
    """Answers in JSON carry `keys` (as `metrics` shows them) when the state counts keys."""
    render.keys = {} if keying.default else {"keys": keying.describe()}


def warn_refused(render: Renderer, counter: Answering, last_s: float, end: float | None) -> None:
    """Under an answer whose window may hold hits the state refused as too late: why its
    upper bound takes them in (`ehist` and `auto` refuse hits inside their retention)."""  # noqa: D205, D209
    refused = counter.refused_in(last_s, end)
    if refused:
        render.warn(
            f"{counter.strategy.name} refused {refused:,} hit{'s' if refused != 1 else ''} of"
            " this state as too late (more than --max-lateness behind the latest hit when"
            " they came); which endpoint and time each had is not kept, so an answer whose"
            " window reaches back past the lateness allowance is not exact and its upper"
            " bound takes them in"
        )


def note_keys(render: Renderer, keying: Keying) -> None:
    """Under an answer: what the state counts as the endpoint, when not the path."""
    if not keying.default:
        render.note(
            f"endpoints are {keying.describe()}"
            " (set by replay --key/--where/--field/--decode-paths/--log-format)"
        )

"""Options shared by several commands, and the context every command receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated

import msgspec
import typer

from hitcount.cli.render import Renderer
from hitcount.engine import HitCounter
from hitcount.errors import ConfigurationError
from hitcount.events import ALL, Event
from hitcount.stores import Store, store_from_url

STRATEGY_PANEL = "Strategy"


def given_on_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was typed on the command line (not from env or a default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


@dataclass
class AppContext:
    """What the top-level options decided, plus whether the state was saved yet."""

    store_url: str | None = None
    debug: bool = False
    saved: bool = False
    cleanup: list[IO[str]] = field(default_factory=list)

    def mark_saved(self) -> None:
        """Note that the state has been saved (an interrupt now says so)."""
        self.saved = True

    def store(self) -> Store:
        """The state store chosen by --state / --store / the environment."""
        return store_from_url(self.store_url)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Last = Annotated[
    str,
    typer.Option(
        "--last", "-l", help="Window length: seconds, or 90s, 5m, 2h, 1d.", show_default=False
    ),
]
Now = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Window end: epoch seconds, ISO 8601, or 'wall'. Default: the latest hit seen.",
        show_default=False,
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
Window = Annotated[
    float | None,
    typer.Option(
        "--window",
        help="fixed: bucket width in seconds [60].",
        rich_help_panel=STRATEGY_PANEL,
        show_default=False,
    ),
]
Retention = Annotated[
    float | None,
    typer.Option(
        "--retention",
        help="fixed: seconds of buckets kept [86400].",
        rich_help_panel=STRATEGY_PANEL,
        show_default=False,
    ),
]
MaxWindow = Annotated[
    float | None,
    typer.Option(
        "--max-window",
        help="sliding: longest window kept, seconds [3600].",
        rich_help_panel=STRATEGY_PANEL,
        show_default=False,
    ),
]
Base = Annotated[
    float | None,
    typer.Option(
        "--base",
        help="morris: counter base, > 1 [2].",
        rich_help_panel=STRATEGY_PANEL,
        show_default=False,
    ),
]
Counters = Annotated[
    int | None,
    typer.Option(
        "--counters",
        help="morris: counters averaged per endpoint [4].",
        rich_help_panel=STRATEGY_PANEL,
        show_default=False,
    ),
]
Seed = Annotated[
    int | None,
    typer.Option(
        "--seed",
        help="morris: random seed [0].",
        rich_help_panel=STRATEGY_PANEL,
        show_default=False,
    ),
]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="NAME=VALUE",
        help="Any strategy parameter by name, e.g. -p window_s=10 (repeatable).",
        rich_help_panel=STRATEGY_PANEL,
        show_default=False,
    ),
]


def strategy_params(
    *,
    window: float | None,
    retention: float | None,
    max_window: float | None,
    base: float | None,
    counters: int | None,
    seed: int | None,
    params: list[str] | None,
) -> dict[str, object]:
    """The strategy parameters given on the command line (only those given).

    Raises:
        ConfigurationError: a --param without `=`.
    """
    named: dict[str, object] = {
        "window_s": window,
        "retention_s": retention,
        "max_window_s": max_window,
        "base": base,
        "counters": counters,
        "seed": seed,
    }
    chosen = {name: value for name, value in named.items() if value is not None}
    for item in params or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(f"--param must look like NAME=VALUE, got {item!r}")
        chosen[name.strip()] = value.strip()
    return chosen


def attach_tracing(
    app_ctx: AppContext, counter: HitCounter, render: Renderer, trace: bool, trace_json: str | None
) -> None:
    """Subscribe `--trace` / `--trace-json` printers to every event of `counter`."""
    if trace:
        counter.subscribe(ALL, render.trace)
    if trace_json is not None:
        sink = _open_sink(app_ctx, trace_json)

        def write(event: Event) -> None:
            sink.write(msgspec.json.encode(event.to_dict()).decode("utf-8") + "\n")

        counter.subscribe(ALL, write)


def _open_sink(app_ctx: AppContext, target: str) -> IO[str]:
    if target == "-":
        import sys

        return sys.stdout
    try:
        handle = open(Path(target), "w", encoding="utf-8")  # noqa: SIM115 - closed at exit
    except OSError as err:
        raise ConfigurationError(f"--trace-json: cannot write {target}: {err.strerror}") from None
    app_ctx.cleanup.append(handle)
    return handle


def context(ctx: typer.Context) -> AppContext:
    """The AppContext the top-level callback stored."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    obj: AppContext = root.obj
    return obj

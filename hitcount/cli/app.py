"""The `hitcount` Typer app: global options, the commands of `cli.commands`, one error handler.

Every command is a module of `hitcount.cli.commands`; it parses its options, calls the
library and renders. Errors reach `HitcountGroup.invoke`, which prints one line and exits
with the error's code.
"""

import contextlib
import functools
import os
import sys
import traceback
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer
from typer.core import TyperGroup

from hitcount._version import __version__
from hitcount.cli import completion as complete
from hitcount.cli.argv import globals_first
from hitcount.cli.commands import COMMANDS, load
from hitcount.cli.context import AppContext, given_on_command_line
from hitcount.errors import ConfigurationError, ExitCode, HitcountError

if TYPE_CHECKING:
    from hitcount.cli.render import Renderer


_INTERRUPTED = "interrupted; the saved state is unchanged"


class HitcountGroup(TyperGroup):
    """Maps every error to one stderr line and its exit code; tracebacks only with --debug.

    Commands come from `COMMANDS` and are built when first asked for, so a command imports
    only its own module.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        """Every command's name, in `--help` order."""
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """Command `cmd_name`, its module imported now; None for an unknown name."""
        return _command(cmd_name) if cmd_name in COMMANDS else None

    def invoke(self, ctx: Any) -> Any:
        """Run the command; report HitcountError, Ctrl-C and bugs as one line and a code."""
        try:
            return self._invoke(ctx)
        except BrokenPipeError:  # `... | head`: the reader left, even while we reported
            _stop_on_broken_pipe(ctx)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        """Parse the command line; a Ctrl-C meanwhile exits 130 (Click would say "Aborted!")."""
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            _fail(_INTERRUPTED, ExitCode.INTERRUPTED)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse the top-level options; a usage error there reads like every other error."""
        try:
            return super().parse_args(ctx, args)
        except Exception as err:
            if _is_usage_error(err):
                _fail_usage(err)
            raise

    def _invoke(self, ctx: Any) -> Any:
        try:
            result = super().invoke(ctx)
            _close_outputs(ctx)  # a trace that cannot be published is an error of the run
            return result
        except HitcountError as err:
            if _debug(ctx):  # the traceback with its causes, then the same line and code
                traceback.print_exc(file=sys.stderr)
            _fail(_message(err, ctx.invoked_subcommand), err.exit_code, err.hint)
        except BrokenPipeError:
            raise  # handled by `invoke`, whichever clause was writing
        except KeyboardInterrupt:
            saved = isinstance(ctx.obj, AppContext) and ctx.obj.saved
            outcome = "the new state was saved" if saved else "the saved state is unchanged"
            _fail(f"interrupted; {outcome}", ExitCode.INTERRUPTED)
        except Exception as err:
            if _is_usage_error(err):
                _fail_usage(err, ctx.invoked_subcommand)
            if _debug(ctx) or _is_framework_exception(err):
                raise
            _fail(
                f"internal error: {type(err).__name__}: {err}",
                ExitCode.BUG,
                "this is a bug in hitcount; rerun with --debug for the traceback and report it",
            )
        finally:  # a failed run still publishes its trace (say, up to the alert that stopped it)
            with contextlib.suppress(OSError, HitcountError):
                _close_outputs(ctx)


def _close_outputs(ctx: Any) -> None:
    """Close (publish) the output files the command opened; each only once."""
    if isinstance(ctx.obj, AppContext):
        for handle in ctx.obj.cleanup:
            handle.close()


def _is_usage_error(err: Exception) -> bool:
    """A command line Click could not parse (an unknown option, a missing argument)."""
    code = getattr(err, "exit_code", None)
    asked_for_help = type(err).__name__ == "NoArgsIsHelpError"  # `hitcount` alone: the help
    return (
        _is_framework_exception(err)
        and code == ExitCode.USAGE
        and hasattr(err, "ctx")
        and not asked_for_help
    )


def _fail_usage(err: Any, command: str | None = None) -> NoReturn:
    """A usage error in the same `hitcount: error:` form as every other error."""
    path = err.ctx.command_path if err.ctx is not None else f"hitcount {command or ''}".strip()
    _fail(err.format_message(), ExitCode.USAGE, f"see '{path} -h'")


def _stop_on_broken_pipe(ctx: Any) -> NoReturn:
    """Exit 141 as a process killed by SIGPIPE would; one line on stderr if it is still open."""
    _discard(sys.stdout)
    saved = isinstance(ctx.obj, AppContext) and ctx.obj.saved
    outcome = "the new state was saved" if saved else "the saved state is unchanged"
    try:
        _renderer().error(f"output closed early (broken pipe); {outcome}", None)
    except BrokenPipeError:  # stderr went with it (`2>&1 | head`)
        _discard(sys.stderr)
    raise typer.Exit(int(ExitCode.BROKEN_PIPE))


def _discard(stream: Any) -> None:
    """Point `stream`'s descriptor at /dev/null, so no later flush fails."""
    from hitcount.cli.render.console import discard  # here: a broken pipe's path only

    discard(stream)


def _message(err: HitcountError, command: str | None) -> str:
    """The message to show: a library parameter's name becomes its flag."""
    if isinstance(err, ConfigurationError):
        from hitcount.cli.flags import message_with_flag  # here: start-up time

        return message_with_flag(err, command)
    return err.message


def _fail(message: str, code: ExitCode, hint: str | None = None) -> NoReturn:
    _renderer().error(message, hint)
    raise typer.Exit(int(code))


def _renderer() -> "Renderer":
    """The error/warning printer, imported when first needed (start-up time)."""
    from hitcount.cli.render import Renderer

    return Renderer()


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
            help="State file (default: $XDG_STATE_HOME/hitcount/state.db or"
            " ~/.local/state/hitcount/state.db, a SQLite database); a path ending in .json"
            " keeps the state in a JSON file.",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="HITCOUNT_STORE",
            help="State store URL: a path, file:///path, sqlite:///path.db, memory://, or"
            " redis://[user:password@]host:port/db (rediss:// for TLS).",
            show_default=False,
            autocompletion=complete.stores,
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
    ctx.obj = AppContext(
        store_url=_chosen_store(ctx, state, store),
        # HITCOUNT_NAMESPACE is read by the store after a namespace in its URL
        namespace=namespace if given_on_command_line(ctx, "namespace") else None,
        debug=debug,
    )
    ctx.call_on_close(ctx.obj.close_stores)


def _chosen_store(ctx: typer.Context, state: str | None, store: str | None) -> str | None:
    """The store --state or --store names; a flag beats the environment, two choices clash."""
    typed = [name for name in ("state", "store") if given_on_command_line(ctx, name)]
    if len(typed) == 2:
        raise ConfigurationError("give --state or --store, not both")
    if typed == ["store"] and store is not None and urlsplit(store).password:
        _renderer().warn(
            "a password in --store is visible to every user in `ps`;"
            " put the URL in HITCOUNT_STORE instead"
        )
    if typed:
        return state if typed == ["state"] else store
    if state and store and state != store:
        raise ConfigurationError(
            "HITCOUNT_STATE and HITCOUNT_STORE choose two different stores",
            hint="unset one of them, or name the store with --state or --store",
        )
    return store or state


@functools.cache
def _command(name: str) -> Any:
    """The Click command Typer builds for command `name` (a function or a sub-app)."""
    holder = typer.Typer(add_completion=False, rich_markup_mode=None)
    command = load(name)
    if not isinstance(command, typer.Typer):  # one function: Typer builds it alone
        holder.command(name)(command)
        return typer.main.get_command(holder)
    holder.callback()(_nothing)  # a callback makes Typer build a group holding `name`
    holder.add_typer(command, name=name)
    return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]


def _nothing() -> None:
    """The holder's callback: never run."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    # numpy's OpenBLAS starts a thread per core that spins between calls; hitcount does no
    # linear algebra, and on a small machine those threads take CPU from the replay.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app(args=globals_first(sys.argv[1:] if argv is None else argv), prog_name="hitcount")
    except KeyboardInterrupt:  # while Typer builds the command line, before any command ran
        _renderer().error(_INTERRUPTED)
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    except SystemExit as done:
        try:
            sys.stdout.flush()  # what is still buffered: its reader may have left
        except BrokenPipeError:
            _discard(sys.stdout)
            if done.code in (0, None):
                raise SystemExit(int(ExitCode.BROKEN_PIPE)) from None
        raise

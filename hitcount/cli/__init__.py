"""The `hitcount` command line (Typer); `app` has every command registered."""

from hitcount.cli import commands as _commands  # noqa: F401 - registers snapshot and demo
from hitcount.cli import merge as _merge  # noqa: F401 - registers merge
from hitcount.cli import plot as _plot  # noqa: F401 - registers plot
from hitcount.cli import report as _report  # noqa: F401 - registers report
from hitcount.cli.app import app, main

__all__ = ["app", "main"]

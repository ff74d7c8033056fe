"""The `hitcount` command line (Typer); `app` has every command registered."""

from hitcount.cli.app import app, main

__all__ = ["app", "main"]

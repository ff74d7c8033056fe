"""What the top-level options decide, shared by every command (light: no store is imported)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from hitcount.persist.stores import Store
    from hitcount.persist.traces import TraceFile


def given_on_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was typed on the command line (not from env or a default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


@dataclass
class AppContext:
    """What the top-level options decided, plus whether the state was saved yet."""

    store_url: str | None = None
    namespace: str | None = None
    debug: bool = False
    saved: bool = False
    cleanup: list[TraceFile] = field(default_factory=list)
    opened: list[Store] = field(default_factory=list)

    def mark_saved(self) -> None:
        """Note that the state has been saved (an interrupt now says so)."""
        self.saved = True

    def store(self) -> Store:
        """The state store chosen by --state / --store / the environment."""
        from hitcount.persist.stores import store_from_url  # here: start-up time

        store = store_from_url(self.store_url, namespace=self.namespace)
        store.on_wait = _note
        store.on_note = _note
        self.opened.append(store)
        return store

    def close_stores(self) -> None:
        """Close every store this command opened (its database connections and pools), so
        none is left for the garbage collector to close at some later moment."""  # noqa: D205, D209
        while self.opened:
            self.opened.pop().close()


def _note(message: str) -> None:
    """Print a store's note on stderr."""
    typer.echo(f"note: {message}", err=True)

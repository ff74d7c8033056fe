"""`hitcount vacuum`: compact a SQLite state and empty its write-ahead log."""

import typer

from hitcount.cli import options as opt
from hitcount.cli.options import context
from hitcount.model.metrics import number
from hitcount.persist.state import vacuum as vacuum_state


def vacuum(ctx: typer.Context, json_output: opt.JsonFlag = False) -> None:
    """Compact a SQLite state: move the write-ahead log into the database, drop free pages.

    Writers wait while it runs; readers do not. A JSON state is refused (it never holds
    free space). Example: hitcount vacuum
    """
    render = opt.renderer(json_output)
    store = context(ctx).store()
    sizes = vacuum_state(store)
    if json_output:
        render.json({"state": store.describe(), **sizes})
        return
    before, after = sizes["before"], sizes["after"]
    render.line(
        f"compacted {store.describe()}: database {number(before['database_bytes'])} B ->"
        f" {number(after['database_bytes'])} B, write-ahead log {number(before['wal_bytes'])} B"
        f" -> {number(after['wal_bytes'])} B"
    )

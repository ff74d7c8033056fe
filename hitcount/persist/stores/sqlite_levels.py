"""`morris` in SQLite: one row of counter levels per endpoint, rewritten only when changed.

`morris_levels(endpoint, levels)` holds each endpoint's levels as a JSON array (one level per
counter); the random generator's state, the one value every endpoint's draws share, lives in
`meta` (`extras`: `{"rng_state": int}`). A save compares each endpoint's levels with those
loaded and writes only the rows that changed. A state saved by an older hitcount (the whole
document in `meta`) is read as it is and moved into rows at its next save.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hitcount.persist.stores.sqlite_bulk import damaged_row, insert_rows, json_value, rows_of
from hitcount.persist.stores.sqlite_layouts import SqliteLayout
from hitcount.strategies.base import Strategy
from hitcount.strategies.capabilities import keeping_levels

SCHEMA = """
CREATE TABLE IF NOT EXISTS morris_levels (
    endpoint TEXT PRIMARY KEY, levels TEXT NOT NULL) WITHOUT ROWID;
"""

#: Each endpoint's levels as stored (JSON text): what a save compares against.
Levels = dict[str, str]

_MAX_STATE = 2**64 - 1


class LevelLayout(SqliteLayout):
    """`morris`: `endpoint -> levels`, changed row by row; the generator's state in meta."""

    def read(
        self, db: sqlite3.Connection, endpoints: list[str] | None, since: float, extras: Any
    ) -> Strategy:
        """A strategy holding the levels of `endpoints` (None: all); counters never expire."""
        strategy = self.empty()
        counters = keeping_levels(strategy)
        query = "SELECT endpoint, levels FROM morris_levels"
        for endpoint, text in rows_of(db, query, endpoints):
            counters.set_levels(endpoint, _levels(endpoint, text))
        counters.set_generator_state(_generator_state(extras))
        return strategy

    def endpoints(self, db: sqlite3.Connection) -> list[str]:
        """Every endpoint held."""
        return [row[0] for row in db.execute("SELECT endpoint FROM morris_levels")]

    def entries(self, db: sqlite3.Connection) -> int:
        """Counters held: `counters` per endpoint."""
        rows = int(db.execute("SELECT COUNT(*) FROM morris_levels").fetchone()[0])
        return rows * int(self.params.get("counters", 4))

    def baseline(self, strategy: Strategy) -> Levels:
        """The rows as loaded."""
        return self.rows(strategy)

    def rows(self, strategy: Strategy) -> Levels:
        """Each endpoint's levels as JSON text."""
        import json  # writers only: a query's start-up

        counters = keeping_levels(strategy)
        return {
            endpoint: json.dumps(counters.levels(endpoint), separators=(",", ":"))
            for endpoint in sorted(strategy.endpoints())
        }

    def write_whole(self, db: sqlite3.Connection, strategy: Strategy) -> None:
        """Insert every endpoint's row (the table is empty)."""
        insert_rows(db, "morris_levels", list(self.rows(strategy).items()))

    def write_delta(self, db: sqlite3.Connection, strategy: Strategy, base: Any) -> None:
        """Write the rows that changed since `base`, delete the endpoints gone."""
        db.execute("DELETE FROM meta WHERE key = 'state'")  # an older save's whole document
        rows = self.rows(strategy)
        gone = [(name,) for name in base if name not in rows]
        db.executemany("DELETE FROM morris_levels WHERE endpoint = ?", gone)
        changed = [(name, text) for name, text in rows.items() if base.get(name) != text]
        db.executemany("INSERT OR REPLACE INTO morris_levels VALUES (?, ?)", changed)

    def clear(self, db: sqlite3.Connection) -> None:
        """Delete every row."""
        db.execute("DELETE FROM morris_levels")

    def extras(self, strategy: Strategy) -> Any:
        """The random generator's state, shared by every endpoint's draws."""
        return {"rng_state": keeping_levels(strategy).generator_state()}


def _levels(endpoint: str, text: Any) -> list[int]:
    """A row's levels (their range is checked when the state is loaded)."""
    levels = json_value(text, f"morris_levels row for {endpoint!r}")
    if not isinstance(levels, list) or not levels:
        what = f"damaged morris_levels row for {endpoint!r}: not a list of levels"
        raise damaged_row(what)
    return levels


def _generator_state(extras: Any) -> int:
    state = extras.get("rng_state") if isinstance(extras, dict) else None
    if not isinstance(state, int) or isinstance(state, bool) or not 0 <= state <= _MAX_STATE:
        what = "damaged meta row 'extras': no morris generator state (rng_state)"
        raise damaged_row(what)
    return state

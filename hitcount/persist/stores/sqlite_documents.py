"""`ehist` and `auto` in SQLite: one JSON document per endpoint, rewritten only when changed.

Their per-endpoint state (exponential-histogram buckets that merge as hits arrive, or an
exact array that may switch to a histogram) has no row form of its own, so each endpoint's
row holds the strategy's state restricted to that endpoint (as the Redis store keeps it),
with the entries it holds. A save compares each endpoint's document with the one loaded and
writes only those that changed, deleting the endpoints gone. A state saved by an older
hitcount (the whole document in `meta`) is read as it is and moved into rows at its next
save.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from hitcount.persist.stores.document_parts import combine
from hitcount.persist.stores.sqlite_bulk import json_value, rows_of
from hitcount.persist.stores.sqlite_layouts import SCHEMA as LAYOUTS_SCHEMA
from hitcount.persist.stores.sqlite_layouts import (
    BucketLayout,
    DocumentLayout,
    SlidingLayout,
    SqliteLayout,
)
from hitcount.persist.stores.sqlite_levels import SCHEMA as LEVELS_SCHEMA
from hitcount.persist.stores.sqlite_levels import LevelLayout
from hitcount.strategies.base import Strategy

_DOCUMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoint_documents (
    endpoint TEXT PRIMARY KEY, document TEXT NOT NULL, entries INTEGER NOT NULL) WITHOUT ROWID;
"""
#: The tables of every strategy's layout.
SCHEMA = LAYOUTS_SCHEMA + _DOCUMENTS_SCHEMA + LEVELS_SCHEMA

#: Each endpoint's document text: what a save compares against.
Documents = dict[str, str]


class EndpointDocumentLayout(SqliteLayout):
    """`ehist` and `auto`: `endpoint -> (document, entries)`, changed row by row."""

    def documents(self, strategy: Strategy) -> Documents:
        """Each endpoint's state restricted to it, as JSON text."""
        import json  # writers only: a query's start-up

        parts = split(strategy.to_state(), set(strategy.endpoints()))
        return {name: json.dumps(parts[name]) for name in sorted(parts)}

    def read(
        self, db: sqlite3.Connection, endpoints: list[str] | None, since: float, extras: Any
    ) -> Strategy:
        """A strategy holding the documents of `endpoints` (None: all)."""
        import json  # `ehist` and `auto` only: as their documents were written

        query = "SELECT document FROM endpoint_documents"
        parts = [
            json_value(row[0], "endpoint_documents row") for row in rows_of(db, query, endpoints)
        ]
        strategy = self.empty()
        strategy.load_state(json.dumps(combine([strategy.to_state(), *parts])).encode())
        return strategy

    def endpoints(self, db: sqlite3.Connection) -> list[str]:
        """Every endpoint held."""
        return [row[0] for row in db.execute("SELECT endpoint FROM endpoint_documents")]

    def entries(self, db: sqlite3.Connection) -> int:
        """The entries the documents hold."""
        return int(
            db.execute("SELECT COALESCE(SUM(entries), 0) FROM endpoint_documents").fetchone()[0]
        )

    def baseline(self, strategy: Strategy) -> Documents:
        """The documents as loaded."""
        return self.documents(strategy)

    def write_whole(self, db: sqlite3.Connection, strategy: Strategy) -> None:
        """Write every endpoint's document (the table is empty)."""
        self._write(db, strategy, {})

    def write_delta(self, db: sqlite3.Connection, strategy: Strategy, base: Any) -> None:
        """Write the documents that changed since `base`, delete the endpoints gone."""
        db.execute("DELETE FROM meta WHERE key = 'state'")  # an older save's whole document
        gone = [(name,) for name in base if name not in set(strategy.endpoints())]
        db.executemany("DELETE FROM endpoint_documents WHERE endpoint = ?", gone)
        self._write(db, strategy, base)

    def _write(self, db: sqlite3.Connection, strategy: Strategy, base: Documents) -> None:
        changed = {
            name: text for name, text in self.documents(strategy).items() if base.get(name) != text
        }
        rows = [(name, text, self._entries(text)) for name, text in changed.items()]
        db.executemany("INSERT OR REPLACE INTO endpoint_documents VALUES (?, ?, ?)", rows)

    def _entries(self, text: str) -> int:
        alone = self.empty()
        alone.load_state(text.encode())
        return alone.memory_entries()

    def clear(self, db: sqlite3.Connection) -> None:
        """Delete every document."""
        db.execute("DELETE FROM endpoint_documents")


def split(state: Any, names: set[str]) -> dict[str, Any]:
    """`state` restricted to each endpoint of `names` (what `restrict` gives for each), in
    one pass over the state instead of one per endpoint."""  # noqa: D205, D209
    if isinstance(state, dict):
        if state and all(key in names for key in state):  # keyed by endpoint
            return {name: ({name: state[name]} if name in state else {}) for name in names}
        parts = {key: split(value, names) for key, value in state.items()}
        return {name: {key: part[name] for key, part in parts.items()} for name in names}
    if isinstance(state, list) and state and all(isinstance(item, str) for item in state):
        present = set(state)
        return {name: ([name] if name in present else []) for name in names}
    return dict.fromkeys(names, state)


def _tiered(name: str, params: Mapping[str, float | int]) -> SqliteLayout:
    from hitcount.persist.stores.sqlite_tiered import TieredLayout  # a tiered state's only

    return TieredLayout(name, params)


NATIVE: dict[str, Callable[[str, Mapping[str, float | int]], SqliteLayout]] = {
    "fixed": BucketLayout,
    "tiered": _tiered,
    "sliding": SlidingLayout,
    "ehist": EndpointDocumentLayout,
    "auto": EndpointDocumentLayout,
    "morris": LevelLayout,
}


def layout_for(name: str, params: Mapping[str, float | int]) -> SqliteLayout:
    """The layout of a strategy: native tables, else one document in meta."""
    return NATIVE.get(name, DocumentLayout)(name, params)

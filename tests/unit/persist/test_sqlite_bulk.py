"""Rows read endpoint by endpoint: the endpoints a table holds found by index seeks, and a
query joined to them answering only for the endpoints asked (each once)."""  # noqa: D205, D209

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from hitcount.persist.stores.sqlite_bulk import each_endpoint, endpoints_in

NAMES = st.text(min_size=1, max_size=6)
ROWS = st.lists(st.tuples(NAMES, st.integers(-5, 5)), max_size=40)


def _table(rows: list[tuple[str, int]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE t (endpoint TEXT NOT NULL, n INTEGER NOT NULL,"
        " PRIMARY KEY (endpoint, n)) WITHOUT ROWID"
    )
    db.executemany("INSERT OR IGNORE INTO t VALUES (?, ?)", rows)
    return db


@given(rows=ROWS)
def test_the_endpoints_a_table_holds_are_each_found_once_in_order(
    rows: list[tuple[str, int]],
) -> None:
    db = _table(rows)
    expected = [row[0] for row in db.execute("SELECT DISTINCT endpoint FROM t ORDER BY 1")]
    assert endpoints_in(db, "t") == expected
    db.close()


@given(rows=ROWS, asked=st.none() | st.lists(NAMES, max_size=8), low=st.integers(-6, 6))
def test_a_joined_query_reads_the_rows_of_the_endpoints_asked(
    rows: list[tuple[str, int]], asked: list[str] | None, low: int
) -> None:
    db = _table(rows)
    query = "SELECT t.endpoint, t.n FROM names CROSS JOIN t WHERE t.endpoint = names.endpoint"
    got = sorted(each_endpoint(db, "t", asked, f"{query} AND t.n >= ?", (low,)))
    wanted = set(rows) if asked is None else {row for row in set(rows) if row[0] in asked}
    assert got == sorted(row for row in wanted if row[1] >= low)
    db.close()

"""A damaged row of a SQLite state's meta, inputs or events is refused naming the file and
the row (exit 4), never an internal error, and nothing is written."""  # noqa: D205, D209

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hitcount.errors import StateError
from hitcount.persist.stores.sqlite_bulk import json_value
from hitcount.persist.stores.sqlite_versions import meta_json, meta_seconds, strategy_spec
from tests.cli_helpers import assert_error, ok, run

T0 = 1_767_225_600

_DAMAGES = [
    *[
        (f"UPDATE meta SET value = '{{not json' WHERE key = '{key}'", f"meta row '{key}': not JSON")
        for key in ("strategy", "clock", "horizon", "metrics", "extras", "alerts", "keys")
    ],
    ("UPDATE meta SET value = '[1]' WHERE key = 'strategy'", "meta row 'strategy': not a"),
    ("UPDATE meta SET value = '{\"name\": 3}' WHERE key = 'strategy'", "meta row 'strategy'"),
    ("UPDATE meta SET value = 'abc' WHERE key = 'max_lateness_s'", "meta row 'max_lateness_s'"),
    ("UPDATE meta SET value = '\"abc\"' WHERE key = 'clock'", "meta row 'clock': 'abc' is not"),
    ("UPDATE meta SET value = '[1]' WHERE key = 'distinct'", "meta row 'distinct': [1] is not"),
    ("DELETE FROM meta WHERE key = 'clock'", "no meta row 'clock'"),
    ("DELETE FROM meta WHERE key = 'strategy'", "no meta row 'strategy'"),
    ("INSERT OR REPLACE INTO inputs VALUES ('x.log', '{bad')", "inputs row: not JSON"),
    ("UPDATE inputs SET position = X'00ff'", "inputs row: not JSON"),
]


def _state(tmp_path: Path, strategy: str) -> Path:
    path, log = tmp_path / "s.db", tmp_path / "hits.ndjson"
    log.write_text("".join(f'{{"endpoint": "/e{i % 3}", "ts": {T0 + i}}}\n' for i in range(200)))
    ok(["--state", str(path), "replay", str(log), "--strategy", strategy])
    return path


@pytest.mark.parametrize("strategy", ["fixed", "sliding", "morris"])
@pytest.mark.parametrize(("change", "message"), _DAMAGES)
def test_a_damaged_row_is_refused_naming_the_file_and_the_row(
    tmp_path: Path, strategy: str, change: str, message: str
) -> None:
    path = _state(tmp_path, strategy)
    with sqlite3.connect(path) as db:
        db.execute(change)
    db.close()
    kept = path.read_bytes()
    more = tmp_path / "more.ndjson"
    more.write_text(f'{{"endpoint": "/e1", "ts": {T0 + 300}}}\n')
    commands = (
        ["query", "/e1", "--last", "1h", "--json"], ["top"], ["metrics"], ["events"],
        ["snapshot", "save", "-"], ["replay", "--append", str(more)],
    )  # fmt: skip
    for command in commands:
        result = run(["--state", str(path), *command])
        assert_error(result, 4, message)
        assert result.stderr.startswith(f"hitcount: error: {path}: damaged")
    assert path.read_bytes() == kept  # the state is left as it was


@pytest.mark.parametrize("value", [b"{", "nul", 5, None, "[1,"])
def test_json_value_names_what_is_not_json(value: object) -> None:
    with pytest.raises(StateError, match="damaged inputs row: not JSON"):
        json_value(value, "inputs row")  # type: ignore[arg-type]


def test_meta_rows_read_with_their_defaults_and_checks() -> None:
    meta = {"strategy": '{"name": "fixed", "params": {}}', "lateness": "2.5", "keys": ""}
    assert strategy_spec(meta) == {"name": "fixed", "params": {}}
    assert meta_json(meta, "keys", "null") is None  # empty: as missing
    assert meta_json({"h": "Infinity"}, "h") == float("inf")  # what only `json` reads
    assert meta_seconds(meta, "lateness") == 2.5
    with pytest.raises(StateError, match="no meta row 'clock'"):
        meta_json(meta, "clock")


@pytest.mark.parametrize(
    ("strategy", "extras"), [("fixed", "[1]"), ("tiered", "[1]"), ("tiered", '[1, 2, "a"]')]
)
def test_a_strategys_damaged_extras_are_refused(tmp_path: Path, strategy: str, extras: str) -> None:
    path = _state(tmp_path, strategy)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'extras'", (extras,))
    db.close()
    kept = path.read_bytes()
    for command in (["query", "/e1", "--last", "1h"], ["metrics"], ["snapshot", "save", "-"]):
        assert_error(run(["--state", str(path), *command]), 4, "damaged meta row 'extras'")
    assert path.read_bytes() == kept


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ('{"name": "nope", "params": {}}', "names a strategy this hitcount does not know: 'nope'"),
        ('{"name": "fixed", "params": {"window_s": -5}}', "'strategy': window_s must be >= "),
        ('{"name": "sliding", "params": {"bogus": 1}}', "damaged meta row 'strategy'"),
    ],
)
def test_a_saved_strategy_this_hitcount_cannot_make_is_refused(
    tmp_path: Path, spec: str, fragment: str
) -> None:
    """A state from a newer hitcount, or damaged: exit 4 naming the row, never an internal
    error or a usage error about a flag nobody gave."""  # noqa: D205, D209
    path = _state(tmp_path, "fixed")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'strategy'", (spec,))
    db.close()
    kept = path.read_bytes()
    more = tmp_path / "more.ndjson"
    more.write_text('{"endpoint": "/x", "ts": 1767225700}\n')
    commands = (["query", "/e1", "--last", "1h"], ["top"], ["metrics"], ["events"],
                ["snapshot", "save", "-"], ["replay", "--append", str(more)])  # fmt: skip
    for command in commands:
        assert_error(run(["--state", str(path), *command]), 4, fragment)
    assert path.read_bytes() == kept

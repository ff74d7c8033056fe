"""The SQLite state's whole event log (`events`), its file sizes (`metrics`), `vacuum`."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from tests.cli_helpers import assert_error, ok, ok_json, run, write_ndjson

T0 = 1_700_000_000.0
RULE = "/login>3/10s"


def _bursts(path: Path, first: int, count: int) -> Path:
    """Burst k: /login at 100k + 0..4 s, so `RULE` is exceeded at 100k + 3 (4 hits in 10 s)
    and cleared when the next burst arrives."""  # noqa: D205, D209
    hits = [("/login", T0 + 100 * k + t) for k in range(first, first + count) for t in range(5)]
    return write_ndjson(path, hits)


def _exceeded_clocks(first: int, count: int) -> list[float]:
    """By hand: one alert per burst, 3 s after it starts."""
    return [T0 + 100 * k + 3 for k in range(first, first + count)]


@pytest.mark.parametrize("seed", range(4))
def test_events_since_until_read_the_whole_event_log_of_a_sqlite_state(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    first_run, second_run = rng.randint(90, 140), rng.randint(20, 60)  # > 200 events in all
    db, js = str(tmp_path / "s.db"), str(tmp_path / "s.json")
    for state in (db, js):
        ok(["--state", state, "replay", str(_bursts(tmp_path / "a", 0, first_run)), "-s",
            "sliding", "--alert", RULE])  # fmt: skip
        ok(["--state", state, "replay", "--append", str(_bursts(tmp_path / "b", first_run,
            second_run)), "--alert", RULE])  # fmt: skip
    total = first_run + second_run
    every = _exceeded_clocks(0, total)
    lo, hi = sorted(rng.sample(range(total), 2))
    since, until = every[lo] - rng.uniform(0.1, 50), every[hi] + rng.uniform(0, 50)
    window = ["--since", str(since), "--until", str(until)]
    asked = ["events", "--name", "threshold_exceeded", "-n", "100000", *window, "--json"]
    got = ok_json(["--state", db, *asked])
    assert [e["clock"] for e in got] == [c for c in every if since < c <= until]
    assert all(e["endpoint"] == "/login" for e in got)
    # all of them, in order, without a window; --limit keeps the newest
    everything = ok_json(["--state", db, "events", "-n", "100000", "--json"])
    assert len(everything) > 200
    exceeded = [e["clock"] for e in everything if e["event"] == "threshold_exceeded"]
    assert exceeded == every
    newest = ok_json(["--state", db, "events", "-n", "7", "--json"])
    assert newest == everything[-7:]
    # the JSON state keeps its last 200, and says so
    bounded = run(["--state", js, *asked[:-1]])
    assert "this state (JSON or Redis) keeps only its last 200" in bounded.stderr
    kept = ok_json(["--state", js, "events", "-n", "100000", "--json"])
    assert len(kept) == 200 and kept == everything[-200:]
    for form in ("--json", "--csv"):  # a program reading stdout is told on stderr too
        told = run(["--state", js, "events", "-n", "100000", form])
        assert "keeps only its last 200" in told.stderr, form
        assert "keeps only its last" not in ok(["--state", db, "events", form]).stderr


def test_the_events_table_is_indexed_by_clock(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    ok(["--state", str(state), "replay", str(_bursts(tmp_path / "a", 0, 5)), "--alert", RULE])
    with sqlite3.connect(state) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT event FROM events WHERE json_extract(event, '$.clock')"
            " > 1 AND json_extract(event, '$.clock') <= 2"
        ).fetchall()
    db.close()
    assert "events_by_clock" in " ".join(str(row) for row in plan)


def test_no_events_in_the_log_says_so(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    ok(["--state", state, "replay", str(_bursts(tmp_path / "a", 0, 3))])
    result = ok(["--state", state, "events", "--since", str(T0), "--until", str(T0 + 1e6)])
    assert "no such events in the state's event log" in result.stderr


def test_metrics_report_the_database_and_its_write_ahead_log_apart(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    ok(["--state", str(state), "replay", str(_bursts(tmp_path / "a", 0, 50)), "-s", "sliding"])
    reader = sqlite3.connect(state)  # an open reader keeps the WAL file after a write
    reader.execute("SELECT count(*) FROM meta").fetchone()
    ok(["--state", str(state), "replay", "--append", str(_bursts(tmp_path / "b", 50, 30))])
    shown = ok_json(["--state", str(state), "metrics", "--json"])
    wal = Path(f"{state}-wal")
    assert shown["database_bytes"] == state.stat().st_size
    assert shown["wal_bytes"] == wal.stat().st_size > 0
    assert shown["state_bytes"] == shown["database_bytes"] + shown["wal_bytes"]
    reader.close()
    for strategy in ("ehist", "morris"):  # kept as documents: the files are measured too
        other = tmp_path / f"{strategy}.db"
        ok(["--state", str(other), "replay", str(_bursts(tmp_path / "a", 0, 5)), "-s", strategy])
        assert ok_json(["--state", str(other), "metrics", "--json"])["database_bytes"] == (
            other.stat().st_size
        )
    text = ok(["--state", str(state), "metrics"]).stdout
    assert "database_bytes" in text and "wal_bytes" in text
    js = str(tmp_path / "s.json")
    ok(["--state", js, "replay", str(_bursts(tmp_path / "a", 0, 5))])
    assert "wal_bytes" not in ok_json(["--state", js, "metrics", "--json"])


def test_vacuum_compacts_and_empties_the_wal_keeping_every_answer(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    rng = random.Random(7)
    hits = [(f"/e{rng.randint(0, 30)}", T0 + rng.uniform(0, 5000)) for _ in range(20_000)]
    ok(["--state", str(state), "replay", str(write_ndjson(tmp_path / "big", hits)), "-s",
        "sliding", "--max-window", "1d"])  # fmt: skip
    small = sorted(hits[:300], key=lambda hit: hit[1])
    ok(
        [
            "--state",
            str(state),
            "replay",
            str(write_ndjson(tmp_path / "small", small)),
            "-s",
            "sliding",
            "--max-window",
            "1d",
        ]
    )  # fmt: skip  (replaces: the big state's pages free)
    with sqlite3.connect(state) as db:
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        free_bytes = free * db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    assert free > 0
    asked = ["query", "/*", "--depth", "1", "--last", "1d", "--json"]
    before = ok_json(["--state", str(state), *asked])
    wal = Path(f"{state}-wal")
    size_before = state.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    done = ok_json(["--state", str(state), "vacuum", "--json"])
    assert sum(done["before"].values()) == size_before
    assert done["after"] == {"database_bytes": state.stat().st_size, "wal_bytes": 0}
    assert state.stat().st_size <= size_before - free_bytes  # every free page given back
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert ok_json(["--state", str(state), *asked]) == before
    truth = sum(1 for _, ts in small if ts > small[-1][1] - 86400)
    assert ok_json(["--state", str(state), "query", "/*", "--last", "1d", "--json"])["count"] == (
        truth
    )
    text = ok(["--state", str(state), "vacuum"]).stdout
    assert text.startswith(f"compacted {state}: database ")


@pytest.mark.parametrize("url", ["s.json", "memory://"])
def test_vacuum_refuses_other_stores_politely(tmp_path: Path, url: str) -> None:
    if url.endswith(".json"):
        url = str(tmp_path / url)
        ok(["--state", url, "replay", str(_bursts(tmp_path / "a", 0, 3))])
        kept = Path(url).read_bytes()
    result = run(["--store", url, "vacuum"])
    assert_error(result, 2, "only a SQLite state can be compacted")
    if url.endswith(".json"):
        assert Path(url).read_bytes() == kept


def test_vacuum_without_a_state_says_there_is_none(tmp_path: Path) -> None:
    result = run(["--state", str(tmp_path / "none.db"), "vacuum"])
    assert_error(result, 4, "no saved state")
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["query", "/*", "--last", "1d"],
        ["metrics"],
        ["events"],
        ["replay", "--append", "--again", "APPENDED"],
        ["vacuum"],
    ],
)
def test_each_command_closes_every_sqlite_connection_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """An in-process command leaves no connection for the garbage collector to close later
    (one closed late checkpoints the WAL under the next command's feet)."""  # noqa: D205, D209
    state = tmp_path / "s.db"
    hits = [("/a", T0 + k) for k in range(50)]
    source = write_ndjson(tmp_path / "in", hits)
    ok(["--state", str(state), "replay", str(source)])
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def recording_connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        connection = real_connect(*args, **kwargs)  # type: ignore[call-overload]
        opened.append(connection)
        return connection

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    args = [str(source) if word == "APPENDED" else word for word in command]
    ok(["--state", str(state), *args])
    assert opened, "the command opened no connection: the test checks nothing"
    for connection in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            connection.execute("SELECT 1")


@pytest.mark.parametrize(
    ("store", "why"),
    [("file:///{tmp}/s.json", "a JSON state file is rewritten whole at every save"),
     ("memory://", "a memory:// state lives only as long as the process")],
)  # fmt: skip
def test_vacuum_elsewhere_says_why_there_is_nothing_to_do(
    tmp_path: Path, store: str, why: str
) -> None:
    url = store.format(tmp=str(tmp_path).lstrip("/"))
    result = run(["--store", url, "vacuum"])
    assert result.exit_code == 2
    assert "only a SQLite state can be compacted" in result.stderr
    assert f"hint: nothing to do: {why}" in result.stderr

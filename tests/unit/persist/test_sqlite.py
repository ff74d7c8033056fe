"""The SQLite store: URLs, foreign files, concurrent writers and readers, the WAL."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from hitcount import (
    ConfigurationError,
    HitCounter,
    StateError,
    load_counter,
    save_counter,
    updating,
)
from hitcount.persist.stores import FileStore, SqliteStore, store_from_url
from tests.cli_helpers import assert_error, ok, run

T0 = 1_767_225_600.0


def test_db_paths_and_sqlite_urls_open_a_sqlite_store(tmp_path: Path) -> None:
    for name in ("s.db", "s.sqlite", "s.SQLITE3"):
        assert isinstance(store_from_url(str(tmp_path / name)), SqliteStore)
    assert isinstance(store_from_url(str(tmp_path / "s.json")), FileStore)
    opened = store_from_url(f"sqlite://{tmp_path}/u.db")
    assert isinstance(opened, SqliteStore) and opened.path == tmp_path / "u.db"
    with pytest.raises(ConfigurationError, match="must be absolute") as info:
        store_from_url("sqlite://relative.db")
    assert "sqlite:///" in (info.value.hint or "")


def test_a_file_that_is_not_sqlite_is_refused_and_kept(tmp_path: Path) -> None:
    precious = tmp_path / "notes.db"
    precious.write_text("do not lose me\n")
    result = run(["--state", str(precious), "replay", str(_hits(tmp_path))])
    assert_error(result, 4, "not a hitcount SQLite state")
    assert precious.read_text() == "do not lose me\n"


def test_another_sqlite_database_is_not_taken_for_a_state(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)")
        db.execute("INSERT INTO meta VALUES ('format', 'something else')")
    db.close()
    with pytest.raises(StateError, match="not a hitcount state"):
        load_counter(SqliteStore(other))
    with pytest.raises(StateError, match="not a hitcount state"):
        save_counter(SqliteStore(other), HitCounter())
    with sqlite3.connect(other) as db:  # untouched: no table of hitcount's was added
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert names == {"meta", "sqlite_autoindex_meta_1"}


def test_the_database_is_in_wal_mode_and_readable_with_sql(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    ok(["--state", str(state), "replay", str(_hits(tmp_path)), "--strategy", "sliding"])
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        held = db.execute("SELECT endpoint, SUM(n) FROM sliding_chunks GROUP BY endpoint")
        assert dict(held.fetchall()) == {"/a": 30, "/b": 20}
    db.close()


def test_a_reader_sees_the_last_commit_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    counter = HitCounter("sliding")
    counter.record("/a", T0)
    save_counter(store, counter)
    reader = SqliteStore(tmp_path / "state.db")
    with updating(store) as live:
        live.record("/a", T0 + 1)
        assert load_counter(reader).metrics.total_hits == 1  # not blocked, the old state
    assert load_counter(reader).metrics.total_hits == 2
    store.close()
    reader.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from hitcount import HitCounter, updating
    from hitcount.persist.stores import store_from_url

    store = store_from_url(sys.argv[1])
    for i in range(int(sys.argv[3])):
        with updating(store, lambda: HitCounter("sliding")) as counter:
            counter.record(sys.argv[2], 1_767_225_600.0 + i)
    """
)


@pytest.mark.slow
def test_processes_writing_one_sqlite_state_lose_no_update(tmp_path: Path) -> None:
    state = tmp_path / "shared.db"
    rounds = 30
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(state), endpoint, str(rounds)])
        for endpoint in ("/one", "/two", "/three")
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
    counter = load_counter(SqliteStore(state))
    assert counter.metrics.total_hits == 3 * rounds
    assert counter.strategy.totals() == {"/one": rounds, "/two": rounds, "/three": rounds}


def _hits(tmp_path: Path) -> Path:
    lines = [f'{{"endpoint": "/a", "ts": {T0 + i}}}' for i in range(30)]
    lines += [f'{{"endpoint": "/b", "ts": {T0 + i}}}' for i in range(20)]
    path = tmp_path / "hits.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name", ["state.db", "state.json"])
def test_a_held_lock_fails_after_the_timeout_with_a_hint_that_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    state = tmp_path / name
    ok(["--state", str(state), "replay", str(_hits(tmp_path))])
    monkeypatch.setenv("HITCOUNT_LOCK_TIMEOUT", "0.3")
    holder = store_from_url(str(state))
    with holder.locked():
        started = time.monotonic()
        result = run(["--state", str(state), "replay", "--append", str(_hits(tmp_path))])
        waited = time.monotonic() - started
    assert_error(result, 5, "held the state lock for 0.3 s")
    assert "HITCOUNT_LOCK_TIMEOUT=600" in result.stderr
    assert 0.3 <= waited < 10
    # the append that gave up changed nothing
    assert load_counter(store_from_url(str(state))).metrics.total_hits == 50


def test_a_bad_lock_timeout_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITCOUNT_LOCK_TIMEOUT", "soon")
    result = run(["--state", str(tmp_path / "s.db"), "replay", str(_hits(tmp_path))])
    assert_error(result, 2, "HITCOUNT_LOCK_TIMEOUT='soon'")


@pytest.mark.parametrize("strategy", ["fixed", "sliding", "tiered", "ehist", "morris", "auto"])
def test_a_json_state_moves_into_sqlite_through_a_snapshot(tmp_path: Path, strategy: str) -> None:
    old, new, snapshot = tmp_path / "state.json", tmp_path / "state.db", tmp_path / "s.json"
    ok(["--state", str(old), "replay", str(_hits(tmp_path)), "--strategy", strategy])
    ok(["--state", str(old), "snapshot", "save", str(snapshot)])
    ok(["--state", str(new), "snapshot", "restore", str(snapshot)])
    for args in (["query", "*", "--last", "1h"], ["metrics"], ["top", "--last", "1h"]):
        shown = [ok(["--state", str(path), *args, "--json"]).stdout for path in (old, new)]
        if args == ["metrics"]:
            shown = [_without_sizes(text) for text in shown]
        assert shown[0] == shown[1], args


def _without_sizes(text: str) -> dict[str, object]:
    metrics = dict(json.loads(text))
    for name in ("state_bytes", "database_bytes", "wal_bytes"):  # SQLite's files alone
        metrics.pop(name, None)
    return metrics


@pytest.mark.parametrize("name", ["state.db", "state.json"])
def test_a_writer_that_waits_over_a_second_says_so_once_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    state = tmp_path / name
    ok(["--state", str(state), "replay", str(_hits(tmp_path))])
    monkeypatch.setenv("HITCOUNT_LOCK_TIMEOUT", "1.6")
    holder = store_from_url(str(state))
    with holder.locked():
        result = run(["--state", str(state), "replay", "--append", str(_hits(tmp_path))])
    lines = result.stderr.splitlines()
    assert result.exit_code == 5 and result.stdout == ""
    waiting = [line for line in lines if "waiting for another hitcount process" in line]
    assert len(waiting) == 1 and waiting[0].startswith("note: ")
    assert "up to 1.6 s; HITCOUNT_LOCK_TIMEOUT=SECONDS" in waiting[0]
    assert lines.index(waiting[0]) < lines.index(
        next(line for line in lines if line.startswith("hitcount: error:"))
    )


def test_a_short_wait_says_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state.db"
    ok(["--state", str(state), "replay", str(_hits(tmp_path))])
    monkeypatch.setenv("HITCOUNT_LOCK_TIMEOUT", "0.5")
    with store_from_url(str(state)).locked():
        result = run(["--state", str(state), "replay", "--append", str(_hits(tmp_path))])
    assert "waiting" not in result.stderr and result.exit_code == 5


def test_an_interrupt_during_the_append_write_still_reports_it_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitcount.ops.replaying import ReplayHooks, ReplaySettings, replay_into_store

    state = tmp_path / "state.db"
    ok(["--state", str(state), "replay", str(_hits(tmp_path)), "--strategy", "sliding"])
    store = SqliteStore(state)
    write_rows = store.write_rows

    def write_then_interrupted(*args: object) -> None:
        write_rows(*args)  # type: ignore[arg-type]
        # Ctrl-C right after the commit, to the main thread (whose signals are deferred)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    monkeypatch.setattr(store, "write_rows", write_then_interrupted)
    saved: list[int] = []

    def on_saved() -> None:
        reader = SqliteStore(state)
        saved.append(load_counter(reader).metrics.total_hits)
        reader.close()

    later = _hits(tmp_path)  # the same hits again: 50 more
    # Ctrl-C raises KeyboardInterrupt even when the suite was started with SIGINT ignored
    # (a background job of a shell): Python then leaves it ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            settings = ReplaySettings(append=True, again=True)
            replay_into_store(store, [str(later)], settings, ReplayHooks(on_saved=on_saved))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert saved == [100]  # told it was saved (the interrupt waited for that)
    store.close()


@pytest.mark.parametrize("closed_right", [True, False])
def test_fixed_buckets_keep_their_edge_rule_in_sqlite_and_in_appends(
    tmp_path: Path, closed_right: bool
) -> None:
    """A hit on a bucket edge (T0 + 60) is in the bucket ending there under `(lo, hi]`, and in
    the next one under the old `[lo, hi)` a state saved before keeps: loading from SQLite and
    appending rows must not switch rules."""  # noqa: D205, D209
    store = SqliteStore(tmp_path / "s.db")
    counter = HitCounter("fixed", window_s=60, retention_s=86400)
    counter.strategy.closed_right = closed_right  # type: ignore[attr-defined]
    counter.record("/e", T0 + 60)
    save_counter(store, counter)
    with updating(store) as loaded:
        assert loaded.strategy.closed_right is closed_right  # type: ignore[attr-defined]
        loaded.record("/e", T0 + 120)
    final = load_counter(store)
    edge = int(T0 // 60)  # the bucket (T0, T0 + 60] under (lo, hi]
    expected = {edge: 1, edge + 1: 1} if closed_right else {edge + 1: 1, edge + 2: 1}
    assert final.strategy.bucket_counts("/e") == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(3))
def test_a_commit_of_a_loaded_state_writes_only_the_sketches_it_changed(
    tmp_path: Path, seed: int
) -> None:
    import random

    rng = random.Random(seed)
    store, twin = SqliteStore(tmp_path / "s.db"), FileStore(tmp_path / "twin.json")
    hits = [
        (f"/e{rng.randint(0, 20)}", T0 + rng.uniform(0, 7200), f"u{rng.randint(0, 50)}")
        for _ in range(rng.randint(2000, 4000))
    ]
    hits.sort(key=lambda hit: hit[1])
    for target in (store, twin):
        with updating(target, lambda: HitCounter("sliding", max_window_s=86400)) as counter:
            for endpoint, ts, user in hits:
                counter.record(endpoint, ts, user)
    sketches = (
        sqlite3.connect(tmp_path / "s.db")
        .execute("SELECT count(*) FROM distinct_sketches")
        .fetchone()[0]
    )
    assert sketches > 500
    touched = rng.randint(1, 4)  # commits that each add a few hits, as --follow does
    for _ in range(touched):
        new = [(f"/e{rng.randint(0, 20)}", T0 + 7200 + rng.uniform(0, 30), "late-user")]
        for target in (store, twin):
            with updating(target) as counter:
                if target is store:
                    assert store._db is not None
                    changes = store._db.total_changes
                for endpoint, ts, user in new:
                    counter.record(endpoint, ts, user)
            if target is store:
                assert store._db is not None
                # one sketch, one timestamp chunk, the meta rows: not every sketch again
                assert store._db.total_changes - changes < 40
    # and the state is the one the JSON twin holds: same distinct users everywhere
    loaded, expected = load_counter(store), load_counter(twin)
    assert loaded.distinct is not None and expected.distinct is not None
    assert sorted(loaded.distinct.sketch_rows()) == sorted(expected.distinct.sketch_rows())
    store.close()


@pytest.mark.parametrize("strategy", ["fixed", "sliding", "ehist", "morris"])
@pytest.mark.parametrize("users", [3, 400, 5000])  # sparse only; sparse and dense sketches
def test_metrics_sums_the_sketch_bytes_without_decoding_a_sketch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str, users: int
) -> None:
    import random

    from hitcount.sketches.hll import HyperLogLog

    rng = random.Random(users)
    store = SqliteStore(tmp_path / "s.db")
    with updating(store, lambda: HitCounter(strategy)) as counter:
        for i in range(6000):
            counter.record(f"/e{i % 3}", T0 + i * 0.5, f"u{rng.randrange(users)}")
    store.close()
    whole = load_counter(SqliteStore(tmp_path / "s.db"))
    assert whole.distinct is not None
    expected = whole.distinct.memory_bytes()  # every sketch decoded and measured
    assert expected > 0

    def no_decoding(*_: object) -> None:
        raise AssertionError("metrics decoded a sketch")

    monkeypatch.setattr(HyperLogLog, "from_bytes", no_decoding)
    result = ok(["--state", str(tmp_path / "s.db"), "metrics", "--json"])
    assert json.loads(result.stdout)["distinct_bytes"] == expected


def test_an_append_reports_the_whole_states_sketch_bytes(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    first, more = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    lines = [{"endpoint": f"/e{i % 4}", "ts": T0 + i, "user": f"u{i % 300}"} for i in range(900)]
    first.write_text("".join(json.dumps(line) + "\n" for line in lines[:800]))
    more.write_text("".join(json.dumps(line) + "\n" for line in lines[800:]))
    ok(["--state", str(state), "replay", str(first)])
    appended = json.loads(
        ok(["--state", str(state), "replay", "--append", str(more), "--json"]).stdout
    )
    whole = load_counter(SqliteStore(state))
    assert whole.distinct is not None
    # before: the bytes of the appended batch's sketches alone
    assert appended["metrics"]["distinct_bytes"] == whole.distinct.memory_bytes()

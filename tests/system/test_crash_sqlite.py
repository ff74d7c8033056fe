"""kill -9 on a SQLite state: the database stays whole; each command is in it or absent.

Appends, replacing replays, swaps and restores are killed at random moments.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from hitcount import HitCounter, load_counter
from hitcount.persist.stores import SqliteStore
from tests.system.test_crash import _hitcount, _run

pytestmark = pytest.mark.slow

T0 = 1_767_225_600.0


def _counter_of(state: Path) -> HitCounter:
    store = SqliteStore(state)
    try:
        return load_counter(store)
    finally:
        store.close()


@pytest.mark.parametrize("command", ["append", "replay", "swap", "restore"])
def test_kill_9_leaves_a_whole_database_with_the_old_or_the_new_state(
    tmp_path: Path, traffic: dict[str, Path], command: str
) -> None:
    state, snapshot = tmp_path / "state.db", tmp_path / "snap.json"
    sliding = ["-s", "sliding", "--max-window", "1e7"]
    assert _run(tmp_path / "ref.db", "replay", str(traffic["big"]), *sliding).returncode == 0
    assert _run(tmp_path / "ref.db", "snapshot", "save", str(snapshot)).returncode == 0
    args = {
        "append": ["replay", "--append", str(traffic["big"])],
        "replay": ["replay", str(traffic["big"]), *sliding],
        "swap": ["swap", "fixed", "--window", "10"],
        "restore": ["snapshot", "restore", str(snapshot)],
    }[command]
    new_totals = {"append": 152_000, "replay": 150_000, "swap": 2_000, "restore": 150_000}
    rng = random.Random(command)
    outcomes = set()
    for attempt in range(5):
        for leftover in tmp_path.glob("state.db*"):
            leftover.unlink()
        assert _run(state, "replay", str(traffic["small"]), *sliding).returncode == 0
        process = subprocess.Popen(
            _hitcount(state, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if attempt:  # the first run is left to finish: "new" must be reachable
            time.sleep(rng.uniform(0.05, 1.5))
            process.send_signal(signal.SIGKILL)
        acknowledged = process.wait(timeout=120) == 0
        with sqlite3.connect(state) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        counter = _counter_of(state)
        changed = (
            counter.strategy.name == "fixed"
            if command == "swap"
            else counter.metrics.total_hits != 2_000
        )
        if changed:
            outcomes.add("new")
            assert counter.metrics.total_hits == new_totals[command]
        else:
            outcomes.add("old")
            assert not acknowledged
            assert counter.metrics.total_hits == 2_000
        assert counter.metrics.total_hits == counter.strategy.memory_entries() or command == "swap"
    assert "new" in outcomes


def test_kill_9_while_a_new_state_is_built_leaves_no_state_or_the_whole_one(
    tmp_path: Path, traffic: dict[str, Path]
) -> None:
    """A state that does not exist yet is built under a temporary name and linked into place:
    a kill leaves no state (and a temporary file the next writer deletes) or all of it."""  # noqa: D205, D209
    state = tmp_path / "state.db"
    args = ["replay", str(traffic["big"]), "-s", "sliding", "--max-window", "1e7"]
    rng = random.Random("fresh")
    outcomes = set()
    for attempt in range(6):
        for leftover in tmp_path.glob("*state.db*"):
            leftover.unlink()
        process = subprocess.Popen(
            _hitcount(state, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if attempt:  # the first run is left to finish: "new" must be reachable
            building = _building(tmp_path, process)  # killed while the temporary file fills
            time.sleep(rng.uniform(0, 0.005) if building else 0)
            process.send_signal(signal.SIGKILL)
        acknowledged = process.wait(timeout=120) == 0
        if not state.exists():
            outcomes.add("none")
            assert not acknowledged
        else:
            outcomes.add("new")
            with sqlite3.connect(state) as db:
                assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            db.close()
            assert _counter_of(state).metrics.total_hits == 150_000
        if not acknowledged and not state.exists():  # the next writer cleans up and builds
            assert _run(state, *args).returncode == 0
            assert _counter_of(state).metrics.total_hits == 150_000
            assert sorted(p.name for p in tmp_path.glob("*state.db*")) == [
                "state.db",
                "state.db.lock",
            ]
    assert outcomes == {"none", "new"}


def _building(folder: Path, process: subprocess.Popen[bytes]) -> bool:
    """Wait until `process` has a temporary database in `folder` (False: it ended first)."""
    while process.poll() is None:
        if any(folder.glob(".state.db.*.hitcount-tmp")):
            return True
        time.sleep(0.001)
    return False


@pytest.mark.parametrize("how", ["in place", "follow"])
def test_kill_9_before_a_new_states_first_commit_leaves_a_path_that_works(
    tmp_path: Path, traffic: dict[str, Path], how: str
) -> None:
    """A first save written in place (here because a `-shm` is beside the path) makes the
    tables before its transaction: killed before the commit, they stay, empty. That is no
    state yet, not another program's database: every later command works on the path."""  # noqa: D205, D209
    state = tmp_path / "state.db"
    rng = random.Random(how)
    for _attempt in range(4):
        for leftover in tmp_path.glob("*state.db*"):
            leftover.unlink()
        if how == "in place":
            Path(f"{state}-shm").write_bytes(b"")
            args = ["replay", str(traffic["big"]), "-s", "sliding", "--max-window", "1e7"]
        else:
            grow = tmp_path / "grow.ndjson"
            grow.write_text("")
            args = ["replay", "--follow", str(grow), "--commit-every", "0.3"]
        process = subprocess.Popen(
            _hitcount(state, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if how == "in place":  # killed as soon as the file is there: its save has begun
            while process.poll() is None and not state.exists():
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.01))
        else:
            time.sleep(rng.uniform(0.3, 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=120)
        metrics = _run(state, "metrics", "--json")
        assert metrics.returncode in (0, 4), metrics.stderr
        assert "not a hitcount state" not in metrics.stderr
        if metrics.returncode == 4:
            assert "no saved state" in metrics.stderr
        small = ["replay", str(traffic["small"]), "-s", "sliding", "--max-window", "1e7"]
        assert _run(state, *small).returncode == 0
        assert _run(state, "replay", "--append", "--again", str(traffic["small"])).returncode == 0
        assert _counter_of(state).metrics.total_hits == 4_000


def _sketches_of(state: Path) -> dict[tuple[str, int], bytes]:
    """Every distinct-users sketch the state holds (its rows and its chunks), as bytes."""
    from hitcount.persist.stores.sqlite_sketches import stored_rows

    counter = _counter_of(state)
    with sqlite3.connect(state) as db:
        held = stored_rows(db, counter)
    db.close()
    return {key: bytes(blob) for key, blob in held.items()}


TABLES = ("distinct_chunks", "distinct_sketches")


@pytest.mark.parametrize("command", ["build", "append", "replay"])
def test_kill_9_with_chunked_sketches_leaves_the_old_or_the_new_sketches(
    tmp_path: Path, command: str
) -> None:
    """Users on: a whole save writes the sketches in chunks, an append takes those it
    reaches out of them. Killed at any moment, the sketches are all the old ones or all
    the new ones (as a run left to finish wrote them)."""  # noqa: D205, D209
    rng = random.Random(command)
    small, big, tail = (tmp_path / f"{name}.ndjson" for name in ("small", "big", "tail"))
    # the tail reaches back into the big file's last minutes (sketches held in chunks)
    files = ((small, 20_000, T0), (big, 150_000, T0 + 150), (tail, 40_000, T0 + 1_400))
    for path, lines, start in files:
        with path.open("w") as out:
            for i in range(lines):
                ts = start + i * 0.01 + rng.uniform(-2, 0)
                user = f"u{rng.randrange(900)}"
                hit = {"endpoint": f"/e{rng.randrange(50)}", "ts": ts, "user": user}
                out.write(json.dumps(hit) + "\n")
    sliding = ["-s", "sliding", "--max-window", "1e7"]
    args = {
        "build": ["replay", str(big), *sliding],
        "append": ["replay", "--append", str(tail)],
        "replay": ["replay", str(big), *sliding],
    }[command]
    old_state, new_state = tmp_path / "old.db", tmp_path / "new.db"
    before = small if command == "replay" else big
    first = [] if command == "build" else ["replay", str(before), *sliding]
    for state in (old_state, new_state) if first else ():
        assert _run(state, *first).returncode == 0
    assert _run(new_state, *args).returncode == 0
    old = _sketches_of(old_state) if first else None
    new = _sketches_of(new_state)
    assert new and (old is None or old != new)
    with sqlite3.connect(new_state) as db:  # chunks written, and (appended) rows
        tables = [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES]
    db.close()
    assert tables[0] > 0 and (tables[1] > 0) == (command == "append")
    outcomes = set()
    for attempt in range(5):
        for leftover in tmp_path.glob("*state.db*"):
            leftover.unlink()
        state = tmp_path / "state.db"
        if first:
            assert _run(state, *first).returncode == 0
        process = subprocess.Popen(
            _hitcount(state, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if attempt:  # the first run is left to finish
            time.sleep(rng.uniform(0.05, 1.2))
            process.send_signal(signal.SIGKILL)
        acknowledged = process.wait(timeout=120) == 0
        if not state.exists():
            outcomes.add("old")
            assert not acknowledged and old is None
            continue
        with sqlite3.connect(state) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        held = _sketches_of(state)
        if held == new:
            outcomes.add("new")
        else:
            outcomes.add("old")
            assert not acknowledged and held == old
    assert "new" in outcomes

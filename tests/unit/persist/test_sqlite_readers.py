"""A SQLite state read by whoever cannot write beside it, and written onto a full disk.

SQLite in WAL mode creates `PATH-shm` even to read; a reader that cannot (another user's
state, a read-only directory, a full disk) reads it read-only or immutable instead. A write
that fills the disk says so, and leaves the saved state as it was."""  # noqa: D209

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hitcount.persist.stores import sqlite_open
from tests.cli_helpers import assert_error, ok, run

T0 = 1_767_225_600
NOBODY = 65534


def _log(path: Path, count: int, start: int = T0) -> Path:
    path.write_text(
        "".join(
            f'{{"endpoint": "/e{i % 7}", "ts": {start + i}, "user": "u{i}"}}\n'
            for i in range(count)
        )
    )
    return path


def _shared_directory(tmp_path: Path) -> Path:
    """A directory another user can reach (pytest's own are private to their owner)."""
    place = Path("/tmp") / f"hitcount-readers-{os.getpid()}-{tmp_path.name}"
    place.mkdir(mode=0o755)
    place.chmod(0o755)
    return place


def _as_reader(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`hitcount --state STATE ARGS` by someone who may read STATE but not write beside it:
    another user when this is root (whom permissions do not stop), else this user with
    the directory made read-only."""  # noqa: D205, D209
    command = [sys.executable, "-m", "hitcount", "--state", str(state), *args]
    mode = state.parent.stat().st_mode
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.fail("setpriv (util-linux) is needed to read as another user")
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    else:
        state.parent.chmod(0o555)
    try:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    finally:
        state.parent.chmod(mode)


@pytest.fixture
def shared_state(tmp_path: Path) -> Path:
    place = _shared_directory(tmp_path)
    state = place / "s.db"
    ok(["--state", str(state), "replay", str(_log(place / "hits.ndjson", 500)), "-s", "sliding",
        "--max-window", "1d"])  # fmt: skip
    state.chmod(0o644)
    yield state
    shutil.rmtree(place, ignore_errors=True)


@pytest.mark.parametrize(
    "asked",
    [["query", "/e1", "--last", "1h", "--json"], ["top", "--last", "1d", "--json"],
     ["metrics", "--json"], ["events", "--json"]],
)  # fmt: skip
def test_a_reader_who_cannot_write_beside_the_state_reads_it(
    shared_state: Path, asked: list[str]
) -> None:
    expected = ok(["--state", str(shared_state), *asked]).stdout
    read = _as_reader(shared_state, *asked)
    assert read.returncode == 0, read.stderr
    if asked[0] == "metrics":  # the file sizes are read as they are
        assert json.loads(read.stdout)["total_hits"] == json.loads(expected)["total_hits"] == 500
    else:
        assert json.loads(read.stdout) == json.loads(expected)
    assert not Path(f"{shared_state}-shm").exists()


def test_a_reader_who_cannot_write_reads_a_state_without_the_indexes_made_since(
    shared_state: Path,
) -> None:
    """A state an older hitcount saved lacks the indexes added since: a writer adds them,
    a reader who cannot write reads without them (slower, the same answers)."""  # noqa: D205, D209
    asked = ["top", "--last", "1d", "--json"]
    expected = ok(["--state", str(shared_state), *asked]).stdout
    db = sqlite3.connect(shared_state)
    indexes = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
    for name in (name for name in indexes if not name.startswith("sqlite_")):
        db.execute(f"DROP INDEX {name}")
    db.commit()
    db.close()
    read = _as_reader(shared_state, *asked)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == json.loads(expected)


def test_a_reader_reads_beside_a_writer_that_keeps_the_state_open(shared_state: Path) -> None:
    """With a `-wal` and `-shm` there (a writer's connection open), the reader uses them
    read-only and sees the last commit, not the database file alone."""  # noqa: D205, D209
    writer = sqlite3.connect(shared_state, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        event = {"event": "snapshot_taken", "clock": T0 + 10.0, "endpoints_count": 4321}
        writer.execute("INSERT INTO events (event) VALUES (?)", (json.dumps(event),))
        for suffix in ("-wal", "-shm"):
            Path(f"{shared_state}{suffix}").chmod(0o644)
        read = _as_reader(shared_state, "events", "--json")
    finally:
        writer.close()
    assert read.returncode == 0, read.stderr
    assert "4321" in read.stdout  # the event only the WAL holds


def test_a_write_by_someone_who_cannot_write_says_so(shared_state: Path, tmp_path: Path) -> None:
    more = _log(tmp_path / "more.ndjson", 10, start=T0 + 1000)
    more.chmod(0o644)
    shutil.copy(more, shared_state.parent / "more.ndjson")
    before = ok(["--state", str(shared_state), "top", "--last", "1d", "--json"]).stdout
    result = _as_reader(
        shared_state, "replay", "--append", str(shared_state.parent / "more.ndjson")
    )
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr and str(shared_state) in result.stderr
    assert ok(["--state", str(shared_state), "top", "--last", "1d", "--json"]).stdout == before


def test_a_write_that_fills_the_disk_says_so_and_keeps_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's own "database or disk is full" (a page limit stands in for the disk)."""
    state = tmp_path / "s.db"
    ok(["--state", str(state), "replay", str(_log(tmp_path / "a.ndjson", 200)), "-s", "sliding",
        "--max-window", "1d"])  # fmt: skip
    before = ok(["--state", str(state), "top", "--last", "1d", "--json"]).stdout
    pages = sqlite3.connect(state).execute("PRAGMA page_count").fetchone()[0]
    real_connect = sqlite_open.connect

    def full_soon(target: object, timeout_s: float, *, uri: bool = False) -> sqlite3.Connection:
        db = real_connect(target, timeout_s, uri=uri)  # type: ignore[arg-type]
        db.execute(f"PRAGMA max_page_count={pages + 2}")
        return db

    monkeypatch.setattr(sqlite_open, "connect", full_soon)
    big = _log(tmp_path / "b.ndjson", 20_000, start=T0 + 300)
    for replay in (["replay", "--append", str(big)], ["replay", str(big), "-s", "sliding"]):
        assert_error(run(["--state", str(state), *replay]), 5, "disk holding the state is full")
    monkeypatch.undo()
    assert ok(["--state", str(state), "top", "--last", "1d", "--json"]).stdout == before
    assert sqlite3.connect(state).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_empty_wal_left_by_a_failed_open_does_not_stop_a_reader(shared_state: Path) -> None:
    """On a full disk the read-write open creates an empty `-wal` (and a `-shm`) before it
    fails: with no frames in it, reading the database file alone is exact."""  # noqa: D205, D209
    expected = ok(["--state", str(shared_state), "top", "--last", "1d", "--json"]).stdout
    Path(f"{shared_state}-wal").write_bytes(b"")
    Path(f"{shared_state}-shm").write_bytes(b"\x00\x00\x00")
    for suffix in ("-wal", "-shm"):
        Path(f"{shared_state}{suffix}").chmod(0o644)
    read = _as_reader(shared_state, "top", "--last", "1d", "--json")
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == json.loads(expected)


def test_a_write_refused_on_a_full_disk_is_named_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite says "disk I/O error" or "readonly database" when no byte is left; the
    message says the disk is full when the file system has no room."""  # noqa: D205, D209
    monkeypatch.setattr(sqlite_open, "_disk_full", lambda path: True)
    for text in ("disk I/O error", "attempt to write a readonly database"):
        error = sqlite_open.failure(tmp_path / "s.db", "opening", sqlite3.OperationalError(text))
        assert "the disk holding the state is full" in error.message and error.hint
    monkeypatch.setattr(sqlite_open, "_disk_full", lambda path: False)
    error = sqlite_open.failure(
        tmp_path / "s.db", "opening", sqlite3.OperationalError("disk I/O error")
    )
    assert "cannot use the database (opening): disk I/O error" in error.message


def test_a_reader_in_a_directory_it_may_write_leaves_no_file_of_its_own(
    shared_state: Path,
) -> None:
    """A reader who may write the directory but not the state (a shared, sticky or group
    directory) left `-wal` and `-shm` files of its own there, through which the state's
    owner could then not write (QA Q2): it opens the state read-only at once."""  # noqa: D205, D209
    shared_state.parent.chmod(0o1777)
    expected = ok(["--state", str(shared_state), "top", "--last", "1d", "--json"]).stdout
    read = _as_reader(shared_state, "top", "--last", "1d", "--json")
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == json.loads(expected)
    if os.geteuid() == 0:  # the reader was another user
        theirs = [p.name for p in shared_state.parent.iterdir() if p.stat().st_uid == NOBODY]
        assert theirs == []

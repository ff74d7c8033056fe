"""Planted paths in a shared directory: the state's lock file and `--trace-json FILE`.

Anyone who can write a shared directory (mode 1777, like /tmp) can plant a symlink, a FIFO or
a file of their own where hitcount will open its lock or write its trace. hitcount must not
follow the link (a root run would create or truncate a file at a path the planter chose),
must not hang, and must refuse with one clear line before it changes any state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

T0 = 1_767_225_600


def _run(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hitcount.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A world-writable sticky directory, with one small input file in it."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    lines = [json.dumps({"endpoint": f"/e{i % 7}", "ts": T0 + i}) for i in range(300)]
    (folder / "in.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def test_a_symlink_planted_as_the_lock_file_is_not_followed(shared: Path) -> None:
    victim = shared.parent / "created-by-a-root-run"
    (shared / "state.json.lock").symlink_to(victim)
    done = _run(shared, "--state", "state.json", "replay", "in.ndjson")
    assert done.returncode == 4, done.stderr
    assert "state.json.lock: lock file is a symbolic link" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 2  # the error and its hint, no traceback
    assert not victim.exists() and not victim.is_symlink()
    assert not (shared / "state.json").exists()


def test_a_symlink_lock_to_an_existing_file_leaves_it_alone(shared: Path) -> None:
    victim = shared.parent / "precious"
    victim.write_text("keep me\n")
    before = victim.stat()
    (shared / "state.json.lock").symlink_to(victim)
    done = _run(shared, "--state", "state.json", "replay", "in.ndjson")
    assert done.returncode == 4, done.stderr
    after = victim.stat()
    assert victim.read_text() == "keep me\n"
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)


def test_a_fifo_planted_as_the_lock_file_is_refused_without_hanging(shared: Path) -> None:
    os.mkfifo(shared / "state.json.lock")
    done = _run(shared, "--state", "state.json", "replay", "in.ndjson", timeout=30)
    assert done.returncode == 4, done.stderr
    assert "state.json.lock: lock file is not a regular file" in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's file needs root")
def test_a_lock_file_owned_by_another_user_is_refused(shared: Path) -> None:
    lock = shared / "state.json.lock"
    lock.touch()
    os.chown(lock, 65534, 65534)
    done = _run(shared, "--state", "state.json", "replay", "in.ndjson")
    assert done.returncode == 4, done.stderr
    assert "is owned by another user (uid 65534)" in done.stderr
    assert not (shared / "state.json").exists()


def test_the_lock_file_hitcount_makes_is_private_and_reused(shared: Path) -> None:
    for _ in range(2):
        done = _run(shared, "--state", "state.json", "replay", "in.ndjson", "--append", "--again")
        assert done.returncode == 0, done.stderr
    lock = (shared / "state.json.lock").lstat()
    assert lock.st_uid == os.geteuid() and lock.st_mode & 0o077 == 0
    query = _run(shared, "--state", "state.json", "query", "*", "--last", "1h", "--json")
    assert json.loads(query.stdout)["count"] == 600  # both runs counted, 300 lines each


def test_trace_json_does_not_follow_a_planted_symlink(shared: Path) -> None:
    victim = shared.parent / "precious"
    victim.write_text("keep me\n")
    (shared / "trace.json").symlink_to(victim)
    done = _run(
        shared, "--state", "state.json", "replay", "in.ndjson", "--trace-json", "trace.json"
    )
    assert done.returncode == 8, done.stderr
    assert "trace.json: is a symbolic link; not replacing it" in done.stderr
    assert victim.read_text() == "keep me\n"
    assert (shared / "trace.json").is_symlink()
    assert not (shared / "state.json").exists()  # refused before anything was counted


@pytest.mark.parametrize("content", ["my notes\n", "[1, 2]\n", '{"clock": 1}\n'])
def test_trace_json_refuses_to_replace_a_file_that_is_not_a_trace(
    shared: Path, content: str
) -> None:
    other = shared / "notes.txt"
    other.write_text(content)
    done = _run(shared, "--state", "state.json", "replay", "in.ndjson", "--trace-json", "notes.txt")
    assert done.returncode == 8, done.stderr
    assert "notes.txt: exists and is not a hitcount trace" in done.stderr
    assert other.read_text() == content
    assert not (shared / "state.json").exists()


def test_trace_json_refuses_a_fifo_without_hanging(shared: Path) -> None:
    os.mkfifo(shared / "trace.json")
    done = _run(
        shared, "--state", "state.json", "replay", "in.ndjson", "--trace-json", "trace.json",
        timeout=30,
    )  # fmt: skip
    assert done.returncode == 8, done.stderr
    assert "trace.json: is not a regular file" in done.stderr


def test_trace_json_replaces_an_older_trace_with_every_event_of_the_run(shared: Path) -> None:
    trace = shared / "trace.json"
    trace.write_text('{"event":"hit_recorded","clock":null,"endpoint":"/old","ts":1.0}\n')
    done = _run(
        shared, "--state", "state.json", "replay", "in.ndjson", "--trace-json", "trace.json"
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    hits = [e for e in events if e["event"] == "hit_recorded"]
    assert [h["endpoint"] for h in hits] == [f"/e{i % 7}" for i in range(300)]  # the input
    assert not [p for p in shared.iterdir() if p.name.endswith(".hitcount-tmp")]


def test_a_killed_run_leaves_the_old_trace_whole(shared: Path) -> None:
    lines = [json.dumps({"endpoint": f"/k{i % 50}", "ts": T0 + i / 100}) for i in range(400_000)]
    (shared / "big.ndjson").write_text("\n".join(lines) + "\n")
    trace = shared / "trace.json"
    old = '{"event":"hit_recorded","clock":null,"endpoint":"/old","ts":1.0}\n'
    trace.write_text(old)
    command = [sys.executable, "-m", "hitcount.cli", "--state", "s.json", "replay", "big.ndjson"]
    process = subprocess.Popen(
        [*command, "--trace-json", "trace.json"], cwd=shared, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it once it is writing its temporary trace
        temporaries = [p for p in shared.iterdir() if p.name.endswith(".hitcount-tmp")]
        if temporaries and temporaries[0].stat().st_size > 0:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert trace.read_text() == old  # readers never see a half-written trace

"""Nothing lost: kill -9 and Ctrl-C at any moment leave the old state or the new one."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hitcount import FileStore, load_counter
from tests.system.conftest import T0
from tests.system.conftest import write_traffic as _write_traffic

pytestmark = pytest.mark.slow


def _hitcount(state: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "hitcount.cli", "--state", str(state), *args]


def _run(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_hitcount(state, *args), capture_output=True, text=True, timeout=120)


def _state_totals(state: Path) -> int:
    return load_counter(FileStore(state)).metrics.total_hits


@pytest.mark.parametrize("command", ["replay", "swap", "restore"])
def test_kill_9_at_random_moments_leaves_the_old_or_the_new_state(
    tmp_path: Path, traffic: dict[str, Path], command: str
) -> None:
    reference = tmp_path / "reference.json"
    state = tmp_path / "state.json"
    snapshot = tmp_path / "snap.json"
    assert (
        _run(
            reference, "replay", str(traffic["big"]), "-s", "sliding", "--max-window", "1e7"
        ).returncode
        == 0
    )
    assert _run(reference, "snapshot", "save", str(snapshot)).returncode == 0
    args = {
        "replay": ["replay", "--append", str(traffic["big"])],
        "swap": ["swap", "fixed", "--window", "10"],
        "restore": ["snapshot", "restore", str(snapshot)],
    }[command]
    rng = random.Random(command)
    outcomes = set()
    for attempt in range(5):
        setup = ["replay", str(traffic["small"]), "-s", "sliding", "--max-window", "1e7"]
        if command == "swap":
            setup = ["replay", str(traffic["big"]), "-s", "sliding", "--max-window", "1e7"]
        assert _run(state, *setup).returncode == 0
        before = state.read_bytes()
        process = subprocess.Popen(
            _hitcount(state, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if attempt:  # the first run is left to finish: "new" must be reachable
            time.sleep(rng.uniform(0.05, 1.0))
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        after = state.read_bytes()
        counter = load_counter(FileStore(state))  # never torn: always loads
        if after == before:
            outcomes.add("old")
        else:
            outcomes.add("new")
            if command == "replay":
                assert counter.metrics.total_hits == 2_000 + 150_000
            elif command == "swap":
                assert counter.strategy.name == "fixed"
            else:
                assert counter.metrics.total_hits == 150_000
    assert "new" in outcomes
    # A temporary file stranded by kill -9 is removed by the next writer.
    assert _run(state, "replay", "--append", "--again", str(traffic["small"])).returncode == 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".state.json.")]


def test_ctrl_c_during_replay_exits_130_and_changes_nothing(
    tmp_path: Path, traffic: dict[str, Path]
) -> None:
    state = tmp_path / "state.json"
    assert _run(state, "replay", str(traffic["small"])).returncode == 0
    before = state.read_bytes()
    process = subprocess.Popen(
        _hitcount(state, "replay", "--append", "--again", *[str(traffic["big"])] * 25),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_until_replaying(process.pid, traffic["big"])
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the replay finished before the interrupt arrived")
    assert process.returncode == 130
    assert (
        err.strip().splitlines()[-1] == "hitcount: error: interrupted; the saved state is unchanged"
    )
    assert state.read_bytes() == before
    assert "Traceback" not in err


def _wait_until_replaying(pid: int, source: Path, timeout_s: float = 30.0) -> None:
    """Wait until the process has `source` open: the CLI is loaded (a SIGINT while the
    interpreter still imports it ends the process by the signal, before hitcount can answer
    for it) and the replay is under way."""  # noqa: D205, D209
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
            if any(os.path.realpath(fd) == str(source.resolve()) for fd in fds):
                return
        except OSError:
            pass  # a descriptor closed while looking, or the process is gone
        time.sleep(0.01)


def test_two_appending_replays_at_once_lose_no_update(
    tmp_path: Path, traffic: dict[str, Path]
) -> None:
    state = tmp_path / "state.json"
    first = tmp_path / "first.ndjson"
    second = tmp_path / "second.ndjson"
    _write_traffic(first, 50_000, seed=3)
    _write_traffic(second, 70_000, seed=4)
    assert (
        _run(state, "replay", str(traffic["small"]), "-s", "fixed", "--window", "10").returncode
        == 0
    )
    processes = [
        subprocess.Popen(
            _hitcount(state, "replay", "--append", str(path)), stdout=subprocess.DEVNULL
        )
        for path in (first, second)
    ]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    assert _state_totals(state) == 2_000 + 50_000 + 70_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".state.json.")]


def test_main_module_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hitcount.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("hitcount ")


def test_a_closed_pipe_stops_cleanly_with_141(tmp_path: Path, traffic: dict[str, Path]) -> None:
    state = tmp_path / "state.json"
    writer = subprocess.Popen(
        _hitcount(state, "replay", str(traffic["small"]), "--trace-json", "-"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert writer.stdout is not None
    writer.stdout.readline()
    writer.stdout.close()  # like `| head -1`
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 141
    assert b"broken pipe" in err
    assert b"Traceback" not in err
    assert not state.exists()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_kill_9_of_a_parallel_replay_takes_its_workers_and_lock_with_it(tmp_path: Path) -> None:
    big = tmp_path / "big.ndjson"
    line = '{"endpoint": "/e%d", "ts": %.2f, "user": "u%d"}\n'
    with big.open("w") as out:  # about 48 MiB: decoded by worker processes
        for block in range(75):
            out.write(
                "".join(line % (i % 50, T0 + block * 100 + i * 0.01, i) for i in range(10_000))
            )
    assert big.stat().st_size > 40 * 1024 * 1024  # PARALLEL_MIN_BYTES is 32 MiB
    state = tmp_path / "state.json"
    env = {**os.environ, "HITCOUNT_WORKERS": "2"}
    parent = subprocess.Popen(_hitcount(state, "replay", str(big)), env=env)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2 and parent.poll() is None:
        workers = _children(parent.pid)
        time.sleep(0.01)
    assert len(workers) >= 2, "the replay finished before its workers were seen"
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.05)
    assert [pid for pid in workers if _running(pid)] == []
    started = time.monotonic()
    small = tmp_path / "small.ndjson"
    _write_traffic(small, 100, seed=3)
    done = subprocess.run(
        _hitcount(state, "replay", str(small), "--append"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30  # nobody holds the state's lock


@pytest.mark.parametrize("merged", [True, False], ids=["2>&1 | head", "stderr | head"])
def test_a_closed_stderr_pipe_under_trace_exits_141_without_a_word(
    tmp_path: Path, traffic: dict[str, Path], merged: bool
) -> None:
    state = tmp_path / "state.json"
    writer = subprocess.Popen(
        _hitcount(state, "replay", str(traffic["small"]), "--trace"),
        stdout=subprocess.PIPE if merged else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
    )
    reader = writer.stdout if merged else writer.stderr
    assert reader is not None
    first = reader.readline()
    reader.close()  # like `| head -1`: Rich's own handling exited 1 here
    assert writer.wait(timeout=60) == 141
    assert b"internal error" not in first and b"Traceback" not in first
    assert not state.exists()  # the replay stopped before its save


@pytest.mark.parametrize("merged", [True, False], ids=["2>&1 | head", "stderr | head"])
def test_warnings_to_a_closed_stderr_pipe_do_not_lose_the_replay(
    tmp_path: Path, merged: bool
) -> None:
    """Bad-line warnings are asides: their reader leaving (`2>&1 | head -1`) neither stops
    the replay nor loses its state; only stdout's reader leaving is 141 (after the save)."""  # noqa: D205, D209
    state = tmp_path / "state.db"
    bad = Path(__file__).resolve().parents[2] / "sample_traffic" / "bad_lines.ndjson"
    writer = subprocess.Popen(
        _hitcount(state, "replay", str(bad)),
        stdout=subprocess.PIPE if merged else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
    )
    reader = writer.stdout if merged else writer.stderr
    assert reader is not None
    first = reader.readline()
    reader.close()  # like `| head -1`
    assert writer.wait(timeout=60) == (141 if merged else 0)
    assert b"warning" in first and b"Traceback" not in first
    kept = subprocess.run(
        _hitcount(state, "query", "*", "--last", "3650d", "--json"),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(kept.stdout)["count"] > 0  # the replay was saved

"""`replay --append --resume` after kill -9 or `--exit-on-alert`, on every store.

Real processes are killed at random moments (or stop at an alert); the same command run again
with `--resume` must leave every line of the inputs counted exactly once. The oracle is a
brute-force count of the endpoints in the traffic files (every line is one hit).
"""

from __future__ import annotations

import collections
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hitcount import load_counter
from hitcount.persist.stores import store_from_url
from tests.conftest import fresh_namespace

pytestmark = pytest.mark.slow
FIXED = ["-s", "fixed", "--window", "60", "--retention", "1e8"]


@pytest.fixture(params=["file", "sqlite", "redis"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where the state lives: a JSON document, a SQLite database, a Redis server."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        yield f"{url}?namespace={fresh_namespace()}"
        return
    yield str(tmp_path / ("state.json" if request.param == "file" else "state.db"))


def _command(state: str, *args: str) -> list[str]:
    where = "--store" if state.startswith("redis://") else "--state"
    return [sys.executable, "-m", "hitcount.cli", where, state, *args]


def _brute_force(*files: Path) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for path in files:
        with path.open() as lines:
            counts.update(json.loads(line)["endpoint"] for line in lines)
    return counts


def _counted(state: str) -> collections.Counter[str]:
    store = store_from_url(state)
    try:
        counter = load_counter(store)
    finally:
        store.close()
    counts = collections.Counter(
        {ep: int(counter.query(ep, 1e8).answer.count) for ep in counter.endpoints()}
    )
    assert sum(counts.values()) == counter.metrics.total_hits
    return counts


def test_kill_9_then_resume_counts_every_line_once(
    state: str, traffic: dict[str, Path], tmp_path: Path
) -> None:
    small, big = traffic["small"], traffic["big"]
    first = subprocess.run(_command(state, "replay", str(small), *FIXED), capture_output=True)
    assert first.returncode == 0, first.stderr
    rng = random.Random(state)
    resume = _command(state, "replay", "--append", "--resume", str(big))
    for attempt in range(6):
        process = subprocess.Popen(resume, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if attempt < 4:
            time.sleep(rng.uniform(0.3, 2.0))
            process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=120)
        if process.returncode == 0:
            break
        assert process.returncode == -signal.SIGKILL, stderr
    assert process.returncode == 0, stderr
    assert _counted(state) == _brute_force(small, big)
    again = subprocess.run(resume, capture_output=True, text=True)  # nothing left to count
    assert again.returncode == 0 and "already read whole" in again.stderr
    assert _counted(state) == _brute_force(small, big)
    refused = subprocess.run(_command(state, "replay", "--append", str(big)), capture_output=True)
    assert refused.returncode == 3
    assert _counted(state) == _brute_force(small, big)


def test_exit_on_alert_then_resume_counts_every_line_once(
    state: str, traffic: dict[str, Path]
) -> None:
    small, big = traffic["small"], traffic["big"]
    first = subprocess.run(_command(state, "replay", str(small), *FIXED), capture_output=True)
    assert first.returncode == 0, first.stderr
    alert = ["--alert", "/e7>15/10s", "--exit-on-alert"]
    stopped = subprocess.run(
        _command(state, "replay", "--append", "--resume", str(big), *alert), capture_output=True
    )
    assert stopped.returncode == 9, stopped.stderr
    partway = _counted(state)
    assert sum(_brute_force(small).values()) < sum(partway.values())
    assert sum(partway.values()) < sum(_brute_force(small, big).values())
    rest = _command(state, "replay", "--append", "--resume", str(big))
    done = subprocess.run(rest, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resuming after line" in done.stderr
    assert _counted(state) == _brute_force(small, big)

"""`replay --follow --append` on Redis as real processes: kill -9, then resume exactly.

Each commit sends the hits since the last one with the followed file's position; a follower
killed with SIGKILL and started again goes on from the last commit. The oracle is the count of
each endpoint in the lines the writer appended.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hitcount import load_counter
from hitcount.persist.stores import store_from_url
from tests.conftest import fresh_namespace
from tests.system.test_follow_processes import _CLEAN_ENV, WRITER, _expected, _lines

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def _follower(url: str, log: Path, err: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "hitcount.cli", "--store", url, "replay", str(log)]
    command += ["--follow", "--append", "--commit-every", "0.1", "-s", "sliding"]
    with err.open("a") as errors:
        return subprocess.Popen(
            [*command, "--max-window", "1e6"],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=_CLEAN_ENV,
        )


def _committed(url: str) -> Counter[str]:
    store = store_from_url(url)
    try:
        if store.load() is None:
            return Counter()
        counter = load_counter(store)
    finally:
        store.close()
    return Counter({ep: int(counter.query(ep, 1e6).answer.count) for ep in counter.endpoints()})


def test_kill_9_then_follow_append_on_redis_resumes_exactly(redis_url: str, tmp_path: Path) -> None:
    url = f"{redis_url}?namespace={fresh_namespace()}"
    log, err = tmp_path / "access.ndjson", tmp_path / "follow.err"
    batches = [_lines(250, seed) for seed in range(10, 18)]
    plan = {
        "log": str(log),
        "state": str(tmp_path / "x"),
        "steps": [{"append": b} for b in batches],
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    writer = subprocess.Popen([sys.executable, str(WRITER), str(tmp_path / "plan.json")])
    follower = _follower(url, log, err)
    expected = _expected(*batches)
    try:
        for pause_s in (0.8, 0.6):  # kill -9 twice while the writer is still writing
            time.sleep(pause_s)
            follower.kill()
            follower.wait()
            assert writer.poll() is None, "the writer finished before the crash"
            follower = _follower(url, log, err)
        assert writer.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while sum(_committed(url).values()) < sum(expected.values()):
            assert time.monotonic() < deadline, err.read_text()
            time.sleep(0.2)
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=20) == 130, err.read_text()
    finally:
        if follower.poll() is None:
            follower.kill()
        if writer.poll() is None:
            writer.kill()
        writer.wait()
    assert _committed(url) == expected

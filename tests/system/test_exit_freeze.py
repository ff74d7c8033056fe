"""The console entry freezes what a command built, so exiting skips walking it (speed).

The freeze comes after the command, whatever it ends with; the state is saved and closed
first (an SQLite state leaves no write-ahead log behind).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = (
    "import atexit, gc, sys\n"
    "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
    "from hitcount.__main__ import main\n"
    "main(sys.argv[1:])\n"
)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("suffix", [".json", ".db"])
def test_replay_exits_frozen_with_its_state_saved(tmp_path: Path, suffix: str) -> None:
    log = tmp_path / "in.ndjson"
    log.write_text("".join(f'{{"endpoint": "/a", "ts": {1000 + i}}}\n' for i in range(50)))
    state = tmp_path / f"s{suffix}"
    done = _run("--state", str(state), "replay", str(log))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "frozen True"
    assert not list(tmp_path.glob("*-wal"))
    answer = _run("--state", str(state), "query", "/a", "--last", "1h", "--json")
    assert json.loads(answer.stdout.splitlines()[0])["count"] == 50, answer.stdout  # all saved


def test_a_failing_command_exits_frozen_with_its_code(tmp_path: Path) -> None:
    done = _run("--state", str(tmp_path / "s.json"), "replay", str(tmp_path / "missing.log"))
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines()[-1] == "frozen True"

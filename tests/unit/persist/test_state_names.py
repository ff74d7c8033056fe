"""A state file reached by other names, with its own permissions, or empty (QA round 14b).

Writers reaching one state through a symbolic link and its target took two locks and lost
updates; hard links made SQLite keep one write-ahead log per name, losing appends in
silence; a JSON save replaced a symbolic link by a file and reset the file's mode to 0600;
a read-only command wrote a SQLite schema into an empty file. Expected counts are the hits
written here.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import assert_error, ok, ok_json, run


def _log(path: Path, endpoint: str, count: int) -> Path:
    path.write_text(
        "".join(f'{{"endpoint": "{endpoint}", "ts": {1_000_000 + i}}}\n' for i in range(count))
    )
    return path


def _total(state: Path) -> int:
    return int(ok_json(["--state", str(state), "metrics", "--json"])["total_hits"])


@pytest.mark.parametrize("suffix", [".db", ".json"])
def test_writers_through_a_symbolic_link_and_its_target_take_turns(
    tmp_path: Path, suffix: str
) -> None:
    (tmp_path / "data").mkdir()
    real, link = tmp_path / "data" / f"real{suffix}", tmp_path / f"link{suffix}"
    ok(["--state", str(real), "replay", str(_log(tmp_path / "s.ndjson", "/seed", 1)), "-s",
        "sliding", "--max-window", "1e9"])  # fmt: skip
    link.symlink_to(real)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    writers = []
    for name, state in (("a", real), ("b", link)):
        source = _log(tmp_path / f"{name}.ndjson", f"/{name}", 2_000)
        command = [sys.executable, "-m", "hitcount", "--state", str(state), "replay", "--append"]
        writers += [
            subprocess.Popen([*command, "--again", str(source)], env=env, stderr=subprocess.PIPE)
            for _ in range(3)
        ]
    for writer in writers:
        _, errors = writer.communicate(timeout=300)
        assert writer.returncode == 0, errors
    assert link.is_symlink()  # a JSON save replaced the file it names, not the link
    assert _total(real) == _total(link) == 1 + 6 * 2_000
    rows = ok_json(["--state", str(real), "top", "--last", "1000d", "--json"])
    assert {row["endpoint"]: row["count"] for row in rows} == {"/seed": 1, "/a": 6_000, "/b": 6_000}


@pytest.mark.parametrize("suffix", [".db", ".json"])
def test_a_state_with_hard_links_is_refused_and_kept(tmp_path: Path, suffix: str) -> None:
    state, other = tmp_path / f"s{suffix}", tmp_path / f"other{suffix}"
    source = _log(tmp_path / "s.ndjson", "/a", 3)
    ok(["--state", str(state), "replay", str(source)])
    os.link(state, other)
    before = state.read_bytes()
    result = run(["--state", str(other), "replay", "--append", "--again", str(source)])
    assert_error(result, 4, "the state file has 2 names (hard links)")
    assert state.read_bytes() == before and other.samefile(state)


def test_a_json_state_keeps_its_permissions_and_a_read_only_one_is_refused(
    tmp_path: Path,
) -> None:
    state = tmp_path / "s.json"
    source = _log(tmp_path / "s.ndjson", "/a", 3)
    ok(["--state", str(state), "replay", str(source)])
    assert stat.S_IMODE(state.stat().st_mode) == 0o600  # a new state: private
    state.chmod(0o644)  # shared with a reader
    ok(["--state", str(state), "replay", "--append", "--again", str(source)])
    assert stat.S_IMODE(state.stat().st_mode) == 0o644
    state.chmod(0o444)
    before = state.read_bytes()
    result = run(["--state", str(state), "replay", "--append", "--again", str(source)])
    assert_error(result, 5, "the state file is read-only")
    assert state.read_bytes() == before


@pytest.mark.parametrize("name", ["notes.txt", "empty.db"])
def test_a_reader_writes_nothing_into_an_empty_file(tmp_path: Path, name: str) -> None:
    state = tmp_path / name
    state.touch()
    result = run(["--state", str(state), "query", "/a"])
    assert_error(result, 4, "no saved state")
    assert state.stat().st_size == 0

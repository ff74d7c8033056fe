"""Appending a file twice is refused; `--again` counts it again; rotated files are new inputs.

The oracle is the number of lines written (every line one hit), on the JSON and SQLite stores.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from tests.cli_helpers import assert_error, ok, ok_json, run
from tests.conftest import fresh_namespace


def _write(path: Path, start: int, count: int) -> Path:
    lines = (json.dumps({"endpoint": f"/e{i % 5}", "ts": 1000 + i}) for i in range(start, count))
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture(params=["state.json", "state.db"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    return ["--state", str(tmp_path / request.param)]


def _grow(log: Path, start: int, end: int) -> None:
    """Append lines `start` to `end` to `log` (a log the server goes on writing)."""
    with log.open("a") as handle:
        handle.writelines(json.dumps({"endpoint": "/e2", "ts": 1000 + i}) + "\n"
                          for i in range(start, end))  # fmt: skip


def _total(state: list[str]) -> int:
    return int(ok_json([*state, "metrics", "--json"])["total_hits"])


def test_a_file_read_whole_is_refused_unless_again(state: list[str], tmp_path: Path) -> None:
    log = _write(tmp_path / "a.ndjson", 0, 300)
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    result = run([*state, "replay", "--append", str(log)])
    assert_error(result, 3, "already read whole by an earlier replay (300 lines in the state)")
    assert "add --again to count it a second time" in result.stderr
    assert _total(state) == 300  # nothing saved
    resumed = ok([*state, "replay", "--append", "--resume", str(log)])
    assert "already read whole" in resumed.stderr
    assert resumed.stdout.startswith("replayed 0 lines from no new input")
    assert _total(state) == 300
    ok([*state, "replay", "--append", "--again", str(log)])
    assert _total(state) == 600


def test_resume_on_stdin_says_it_counts_every_line(state: list[str], tmp_path: Path) -> None:
    log = _write(tmp_path / "a.ndjson", 0, 30)
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    for _ in range(2):  # stdin is never resumed: each run counts its lines
        again = ok([*state, "replay", "-", "--append", "--resume"], input=log.read_text())
        assert "--resume does not apply to <stdin>" in again.stderr
    assert _total(state) == 90


def test_a_file_named_twice_is_refused(state: list[str], tmp_path: Path) -> None:
    log = _write(tmp_path / "a.ndjson", 0, 50)
    link = tmp_path / "link.ndjson"
    link.symlink_to(log)
    for names in ([log, log], [log, link]):
        result = run([*state, "replay", *map(str, names)])
        assert_error(result, 3, "named twice in one replay")
    assert not Path(state[1]).exists()
    ok([*state, "replay", "--again", str(log), str(link)])
    assert _total(state) == 100


def test_rotated_and_rewritten_files_are_new_inputs(state: list[str], tmp_path: Path) -> None:
    log = _write(tmp_path / "a.ndjson", 0, 200)
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    os.rename(log, tmp_path / "a.ndjson.1")
    _write(log, 200, 260)  # rotated: another inode at the same path
    ok([*state, "replay", "--append", str(log)])
    assert _total(state) == 260
    _write(log, 500, 540)  # truncated and rewritten in place: another head
    result = ok([*state, "replay", "--append", "--resume", str(log)])
    assert "not the file replayed before" in result.stderr
    assert _total(state) == 300


def test_a_grown_file_resumes_after_its_old_end(state: list[str], tmp_path: Path) -> None:
    log = _write(tmp_path / "a.ndjson", 0, 120)
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    for end in (120, 400, 401, 1000):
        _write(log, 0, end)  # the same inode, grown (rewritten with the same head)
        ok([*state, "replay", "--append", "--resume", str(log)])
        assert _total(state) == end


@pytest.mark.redis
def test_a_whole_replay_into_redis_records_its_files_for_later_appends(
    redis_url: str, tmp_path: Path
) -> None:
    store = ["--store", redis_url, "--namespace", fresh_namespace()]
    log = _write(tmp_path / "a.ndjson", 0, 300)
    ok([*store, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    assert_error(run([*store, "replay", "--append", str(log)]), 3, "already read whole")
    assert _total(store) == 300
    _write(tmp_path / "b.ndjson", 300, 400)
    with log.open("a") as grown:  # the file grows: --resume counts only the new lines
        grown.write((tmp_path / "b.ndjson").read_text())
    ok([*store, "replay", "--append", "--resume", str(log)])
    assert _total(store) == 400


def _rotated(state: list[str], tmp_path: Path, *, compress: bool) -> tuple[Path, Path]:
    """As logrotate does: `a.ndjson` (1,000 lines replayed, 500 more written since) becomes
    `a.ndjson.1` (then `a.ndjson.1.gz`, a new inode, with `compress`), and a new `a.ndjson`
    starts with 500 lines. Returns the new log and the rotated one."""  # noqa: D205, D209
    log, rotated = tmp_path / "a.ndjson", tmp_path / "a.ndjson.1"
    _write(log, 0, 1000)
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    _grow(log, 1000, 1500)
    os.rename(log, rotated)
    if compress:
        rotated = _compress(rotated)
    _write(log, 1500, 2000)
    return log, rotated


def _compress(plain: Path) -> Path:
    """Gzip `plain` into `plain.gz` and remove it, as logrotate's compress does."""
    packed = plain.with_name(plain.name + ".gz")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    return packed


def test_a_log_rotated_by_renaming_resumes_where_it_was(state: list[str], tmp_path: Path) -> None:
    """Renamed as logrotate does: access.log becomes access.log.1, a new access.log starts."""
    log, rotated = _rotated(state, tmp_path, compress=False)
    resumed = ok([*state, "replay", "--append", "--resume", str(rotated), str(log)])
    assert f"a.ndjson.1: read before as {log} (the same file, renamed or linked)" in resumed.stderr
    assert "a.ndjson.1: resuming after line 1000" in resumed.stderr
    assert _total(state) == 2000  # each line once
    os.rename(log, tmp_path / "a.ndjson.2")  # rotated again: refused like the file itself
    result = run([*state, "replay", "--append", str(tmp_path / "a.ndjson.2")])
    assert result.exit_code == 3
    assert "already read whole by an earlier replay (500 lines in the state)" in result.stderr
    assert _total(state) == 2000


def test_a_hard_linked_log_read_by_either_name_counts_each_line_once(
    state: list[str], tmp_path: Path
) -> None:
    log, link = tmp_path / "access.ndjson", tmp_path / "old.ndjson"
    _write(log, 0, 1000)
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    os.link(log, link)
    for start, end, name in ((1000, 1100, link), (1100, 1150, log), (1150, 1160, link)):
        _grow(log, start, end)  # the file grows; read through one name, then the other
        resumed = ok([*state, "replay", "--append", "--resume", str(name)])
        assert f"resuming after line {start}" in resumed.stderr
        assert _total(state) == end
    again = ok([*state, "replay", "--append", "--resume", str(log)])
    assert "already read whole (1,160 lines)" in again.stderr


def test_a_rotated_log_compressed_since_resumes_where_it_was(
    state: list[str], tmp_path: Path
) -> None:
    """Logrotate with compress: access.log -> access.log.1 -> access.log.1.gz (a new inode)."""
    log, packed = _rotated(state, tmp_path, compress=True)
    resumed = ok([*state, "replay", "--append", "--resume", str(packed), str(log)])
    assert f"a.ndjson.1.gz: read before as {log} (the same lines, compressed since)" in (
        resumed.stderr
    )
    assert "a.ndjson.1.gz: resuming after line 1000" in resumed.stderr
    assert _total(state) == 2000  # each line once
    result = run([*state, "replay", "--append", str(packed)])  # now known by its own inode
    assert_error(result, 3, "already read whole by an earlier replay (1,500 lines in the state)")
    assert _total(state) == 2000


def test_a_log_compressed_whole_is_refused_like_the_log(state: list[str], tmp_path: Path) -> None:
    log = _write(tmp_path / "a.ndjson", 0, 700)
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    packed = _compress(log)
    result = run([*state, "replay", "--append", str(packed)])
    assert_error(result, 3, "already read whole by an earlier replay (700 lines in the state)")
    resumed = ok([*state, "replay", "--append", "--resume", str(packed)])
    assert "a.ndjson.gz: already read whole (700 lines); nothing new to count" in resumed.stderr
    assert _total(state) == 700
    other = _write(tmp_path / "b.ndjson", 700, 900)  # another log's gzip is another input
    ok([*state, "replay", "--append", str(_compress(other))])
    assert _total(state) == 900
    ok([*state, "replay", "--append", "--again", str(packed)])
    assert _total(state) == 1600


@pytest.mark.redis
def test_redis_finds_a_rotated_log_renamed_or_compressed(redis_url: str, tmp_path: Path) -> None:
    """Redis reads every recorded position, so rotated files are found by identity there too."""
    store = ["--store", redis_url, "--namespace", fresh_namespace()]
    log, rotated = tmp_path / "a.ndjson", tmp_path / "a.ndjson.1"
    _write(log, 0, 1000)
    ok([*store, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    _grow(log, 1000, 1200)
    os.rename(log, rotated)
    _write(log, 1200, 1300)
    resumed = ok([*store, "replay", "--append", "--resume", str(rotated), str(log)])
    assert "a.ndjson.1: resuming after line 1000" in resumed.stderr
    assert _total(store) == 1300
    _grow(log, 1300, 1350)  # rotated again, compressed this time
    os.rename(log, tmp_path / "a.ndjson.2")
    packed = _compress(tmp_path / "a.ndjson.2")
    resumed = ok([*store, "replay", "--append", "--resume", str(packed)])
    assert "(the same lines, compressed since)" in resumed.stderr
    assert "a.ndjson.2.gz: resuming after line 100" in resumed.stderr
    assert _total(store) == 1350


def _rotate_then_resume_new_first(store: list[str], tmp_path: Path) -> None:
    """Cron after logrotate: the new log is resumed first, then the rotated one."""
    log, rotated = tmp_path / "a.ndjson", tmp_path / "a.ndjson.1"
    _write(log, 0, 1000)
    ok([*store, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    _grow(log, 1000, 1200)  # lines the old file got before it was rotated
    os.rename(log, rotated)
    _write(log, 1200, 1300)
    ok([*store, "replay", "--append", "--resume", str(log)])  # the new file at the old name
    assert _total(store) == 1100
    resumed = ok([*store, "replay", "--append", "--resume", str(rotated)])
    assert "a.ndjson.1: resuming after line 1000" in resumed.stderr
    assert _total(store) == 1300  # each line once: the rotated file's position was kept
    refused = run([*store, "replay", "--append", str(rotated)])
    assert refused.exit_code == 3 and "already read whole" in refused.stderr
    assert _total(store) == 1300


def test_a_new_log_at_the_rotated_ones_name_keeps_the_rotated_ones_position(
    state: list[str], tmp_path: Path
) -> None:
    """The new file's position takes the name; the old file's moves to its new name."""
    _rotate_then_resume_new_first(state, tmp_path)


@pytest.mark.redis
def test_redis_keeps_a_rotated_logs_position_when_the_new_log_is_read_first(
    redis_url: str, tmp_path: Path
) -> None:
    store = ["--store", redis_url, "--namespace", fresh_namespace()]
    _rotate_then_resume_new_first(store, tmp_path)


def test_a_chain_of_rotations_keeps_each_rotated_files_position(
    state: list[str], tmp_path: Path
) -> None:
    """Rotated twice (a.ndjson.1 to .2, a.ndjson to .1), the new log read each time first:
    every rotated file resumes where it was, each line counted once."""  # noqa: D205, D209
    _rotate_twice(state, tmp_path)


@pytest.mark.redis
def test_redis_keeps_each_rotated_files_position_through_a_chain(
    redis_url: str, tmp_path: Path
) -> None:
    _rotate_twice(["--store", redis_url, "--namespace", fresh_namespace()], tmp_path)


def _rotate_twice(state: list[str], tmp_path: Path) -> None:
    log = tmp_path / "a.ndjson"
    _write(log, 0, 100)
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    _grow(log, 100, 150)
    os.rename(log, tmp_path / "a.ndjson.1")
    _write(log, 150, 200)
    ok([*state, "replay", "--append", "--resume", str(log)])
    _grow(log, 200, 220)
    os.rename(tmp_path / "a.ndjson.1", tmp_path / "a.ndjson.2")
    os.rename(log, tmp_path / "a.ndjson.1")
    _write(log, 220, 300)
    ok([*state, "replay", "--append", "--resume", str(log)])
    ok([*state, "replay", "--append", "--resume", str(tmp_path / "a.ndjson.1")])
    ok([*state, "replay", "--append", "--resume", str(tmp_path / "a.ndjson.2")])
    assert _total(state) == 300


def test_a_rotated_log_compressed_at_the_next_rotation_keeps_its_position(
    state: list[str], tmp_path: Path
) -> None:
    """Logrotate's delaycompress: access.log.1 becomes access.log.2.gz at the next rotation
    (a new file, the plain one gone); resuming it after the new logs counts nothing again."""  # noqa: D205, D209
    _rotate_with_delayed_compression(state, tmp_path)


@pytest.mark.redis
def test_redis_keeps_a_rotated_logs_position_through_delayed_compression(
    redis_url: str, tmp_path: Path
) -> None:
    store = ["--store", redis_url, "--namespace", fresh_namespace()]
    _rotate_with_delayed_compression(store, tmp_path)


def _rotate_with_delayed_compression(state: list[str], tmp_path: Path) -> None:
    log, first, second = tmp_path / "a.ndjson", tmp_path / "a.ndjson.1", tmp_path / "a.ndjson.2"
    _write(log, 0, 100)
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
    _grow(log, 100, 150)
    os.rename(log, first)
    _write(log, 150, 200)
    ok([*state, "replay", "--append", "--resume", str(log), str(first)])
    assert _total(state) == 200
    _grow(log, 200, 220)
    os.rename(first, second)
    packed = _compress(second)  # a.ndjson.2.gz; a.ndjson.2 is gone
    os.rename(log, first)
    _write(log, 220, 300)
    ok([*state, "replay", "--append", "--resume", str(log), str(first)])
    assert _total(state) == 300
    resumed = ok([*state, "replay", "--append", "--resume", str(packed)])
    assert "nothing new to count" in resumed.stderr
    assert _total(state) == 300


def test_a_log_rotated_by_copytruncate_resumes_in_its_copy(
    state: list[str], tmp_path: Path
) -> None:
    """With copytruncate, access.log is copied to access.log.1, then emptied in place (its inode
    kept); the copy resumes after the lines read, whichever is read first."""  # noqa: D205, D209
    for first_new in (True, False):
        place = tmp_path / ("new-first" if first_new else "copy-first")
        place.mkdir()
        store = [state[0], str(place / Path(state[1]).name)]
        log, copy = place / "a.ndjson", place / "a.ndjson.1"
        _write(log, 0, 100)
        ok([*store, "replay", str(log), "-s", "fixed", "--retention", "1e6"])
        _grow(log, 100, 130)  # written after that replay, before the rotation
        copy.write_bytes(log.read_bytes())
        with log.open("r+") as handle:
            handle.truncate(0)
        _grow(log, 130, 160)
        for name in [log, copy] if first_new else [copy, log]:
            ok([*store, "replay", "--append", "--resume", str(name)])
        assert _total(store) == 160  # each line once
        refused = run([*store, "replay", "--append", str(copy)])
        assert refused.exit_code == 3 and "already read whole" in refused.stderr


def test_a_link_beside_a_rotated_log_is_not_taken_for_it(state: list[str], tmp_path: Path) -> None:
    """`current -> a.ndjson` in the same directory: the rotated file's position goes to
    `a.ndjson.1`, not to the link (which names the new log)."""  # noqa: D205, D209
    (tmp_path / "current").symlink_to("a.ndjson")
    _rotate_then_resume_new_first(state, tmp_path)


@pytest.mark.parametrize("flags", [[], ["--resume"], ["--again"]])
def test_appending_a_directory_is_an_input_error_on_a_state_with_positions(
    state: list[str], tmp_path: Path, flags: list[str]
) -> None:
    """A state that recorded input positions looked inside a directory named as an input
    for one of them: an internal error (QA P1). It is the replay's own error, exit 3."""  # noqa: D205, D209
    ok([*state, "replay", str(_write(tmp_path / "a.ndjson", 0, 30)), "-s", "fixed"])
    (tmp_path / "logs").mkdir()
    result = run([*state, "replay", "--append", *flags, str(tmp_path / "logs")])
    assert_error(result, 3, "is a directory")
    assert _total(state) == 30

"""`replay --follow` as real processes: a writer rotating its log, kill -9, and a terminal.

The expected counts are a brute-force count of the lines the test wrote (`collections.Counter`
over `json.loads`), never hitcount's own reading.
"""

from __future__ import annotations

import json
import os
import pty
import random
import signal
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from hitcount import FileStore, load_counter

pytestmark = pytest.mark.slow

T0 = 1_767_225_600.0
WRITER = Path(__file__).parents[1] / "follow_writer.py"
_CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE")
}


def _lines(count: int, seed: int, prefix: str = "/e") -> list[str]:
    rng = random.Random(seed)
    return [
        json.dumps({"endpoint": f"{prefix}{rng.randrange(12)}", "ts": T0 + rng.uniform(0, 900)})
        for _ in range(count)
    ]


def _expected(*batches: list[str]) -> Counter[str]:
    return Counter(json.loads(line)["endpoint"] for batch in batches for line in batch)


class Follower:
    """`hitcount replay LOG --follow` in its own process, its output in files."""

    def __init__(self, state: Path, log: Path, *extra: str) -> None:
        command = [sys.executable, "-m", "hitcount.cli", "--state", str(state), "replay"]
        command += [str(log), "--follow", "--commit-every", "0.1", "-s", "sliding"]
        self.out, self.err = state.with_suffix(".out"), state.with_suffix(".err")
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [*command, "--max-window", "1e6", *extra], stdout=out, stderr=err, env=_CLEAN_ENV
            )

    def kill(self) -> None:
        """Send SIGKILL, as kill -9 does (nothing once it has ended)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self) -> tuple[str, str]:
        """Ctrl-C: it must exit 130 having saved the state; its stdout and stderr."""
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=20) == 130, self.err.read_text()
        err = self.err.read_text()
        assert "interrupted; the new state was saved" in err
        return self.out.read_text(), err


def _committed(state: Path) -> Counter[str]:
    """Per-endpoint counts in the saved state (empty before the first commit)."""
    if not state.exists():
        return Counter()
    counter = load_counter(FileStore(state))
    return Counter({ep: int(counter.query(ep, 1e6).answer.count) for ep in counter.endpoints()})


def _wait_for_total(state: Path, total: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (seen := sum(_committed(state).values())) != total:
        assert seen < total, f"{seen} hits committed, more than the {total} written"
        assert time.monotonic() < deadline, f"only {seen} of {total} hits committed"
        time.sleep(0.1)


def test_follow_survives_rename_and_copytruncate_rotation(tmp_path: Path) -> None:
    log, state = tmp_path / "access.ndjson", tmp_path / "state.json"
    first, late, second, third = _lines(400, 1), _lines(30, 2), _lines(300, 3), _lines(300, 4)
    plan = {
        "log": str(log),
        "state": str(state),
        "steps": [
            {"append": first},
            {"rename": ".1", "late": late},
            {"append": second},
            {"copytruncate": ".2"},
            {"append": third},
        ],
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    follower = Follower(state, log)  # before the log exists: it waits for it
    try:
        deadline = time.monotonic() + 20
        while "no such file yet; waiting for it to appear" not in follower.err.read_text():
            assert time.monotonic() < deadline, "the follower never said it waits"
            time.sleep(0.05)
        writer = subprocess.run(
            [sys.executable, str(WRITER), str(tmp_path / "plan.json")], timeout=60, check=False
        )
        assert writer.returncode == 0
        expected = _expected(first, late, second, third)
        _wait_for_total(state, sum(expected.values()))
        out, err = follower.stop()
    finally:
        follower.kill()
    assert _committed(state) == expected
    assert "rotated; reading the new file from the start" in err
    assert "truncated; reading it again from the start" in err
    summaries = [json.loads(line) for line in out.splitlines()]
    assert summaries[-1]["final"] is True
    assert summaries[-1]["hits_kept"] == sum(expected.values())
    assert all(s["kind"] == "follow_status" for s in summaries)


def test_kill_9_then_follow_append_resumes_exactly(tmp_path: Path) -> None:
    log, state = tmp_path / "access.ndjson", tmp_path / "state.json"
    batches = [_lines(250, seed) for seed in range(10, 18)]
    plan = {"log": str(log), "state": str(state), "steps": [{"append": b} for b in batches]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    writer = subprocess.Popen([sys.executable, str(WRITER), str(tmp_path / "plan.json")])
    follower = Follower(state, log)
    kills = 0
    try:
        for pause_s in (0.6, 0.5):  # kill -9 twice while the writer is still writing
            time.sleep(pause_s)
            while not state.exists():
                time.sleep(0.05)
            follower.kill()
            kills += 1
            assert writer.poll() is None, "the writer finished before the crash"
            follower = Follower(state, log, "--append")
        assert writer.wait(timeout=60) == 0
        expected = _expected(*batches)
        _wait_for_total(state, sum(expected.values()))
        follower.stop()
    finally:
        follower.kill()
        if writer.poll() is None:
            writer.kill()
        writer.wait()
    assert kills == 2
    assert _committed(state) == expected


def test_live_view_draws_on_a_terminal_and_ctrl_c_saves(tmp_path: Path) -> None:
    log, state = tmp_path / "access.ndjson", tmp_path / "state.json"
    lines = _lines(500, 7, prefix="/api/v")
    log.write_text("".join(line + "\n" for line in lines))
    command = [sys.executable, "-m", "hitcount.cli", "--state", str(state), "replay", str(log)]
    command += ["--follow", "--commit-every", "0.1", "-s", "sliding", "--last", "15m"]
    pid, master = pty.fork()
    if pid == 0:  # the child: hitcount on the pseudo-terminal
        os.execve(sys.executable, command, {**_CLEAN_ENV, "TERM": "xterm", "COLUMNS": "100"})
    screen = _read_until(master, b"/api/v")
    screen += _read_until(master, b" commit")
    os.write(master, b"\x03")  # Ctrl-C, as typed
    screen += _read_until(master, None)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    text = screen.decode("utf-8", "replace")
    assert "busiest endpoints, last 15m" in text
    assert "hits/s" in text and "bad lines" in text and "memory" in text
    assert any(spark in text for spark in "▂▃▄▅▆▇█")
    assert os.waitstatus_to_exitcode(status) == 130
    assert "interrupted; the new state was saved" in text
    assert _committed(state) == _expected(lines)


def _read_until(fd: int, marker: bytes | None, timeout_s: float = 15.0) -> bytes:
    """Bytes from the terminal until `marker` shows (or, for None, until it closes)."""
    import select

    data = b""
    deadline = time.monotonic() + timeout_s
    while marker is None or marker not in data:
        assert time.monotonic() < deadline, f"no {marker!r} on the terminal:\n{data!r}"
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    return data


def test_follow_json_status_lines_escape_hostile_endpoints_and_file_names(tmp_path: Path) -> None:
    hostile = ["/csi\x9b2J", "/rtl\u202eevil", "/del\x7fx", "/tag\U000e0041", "/esc\x1b[2J"]
    log = tmp_path / "f\x9b\u202e.ndjson"
    lines = [json.dumps({"endpoint": ep, "ts": T0 + i}) for i, ep in enumerate(hostile)]
    log.write_text("\n".join(lines) + "\n")
    state = tmp_path / "state.json"
    follower = Follower(state, log, "--json")
    _wait_for_total(state, len(hostile))
    time.sleep(0.3)  # a status line after the commit
    out, err = follower.stop()
    for text in (out, err):  # the oracle: Unicode categories, not hitcount's rule
        raw = [c for c in text if c != "\n" and unicodedata.category(c) in {"Cc", "Cf"}]
        assert not raw, repr(text)
    statuses = [json.loads(line) for line in out.splitlines()]
    shown = json.dumps(statuses, ensure_ascii=False)
    assert all(ep in shown for ep in hostile[:3]) and str(log) in shown  # decoded exactly


def test_a_bad_line_warning_stays_out_of_the_live_view_and_figures_are_fresh(
    tmp_path: Path,
) -> None:
    """On a terminal emulator's screen (pyte): the view shows every hit read long before
    the first commit (30 s away), the warning sits at the view's foot, never in its header,
    and after Ctrl-C it is printed below the last view."""  # noqa: D205, D209
    pyte = pytest.importorskip("pyte")
    log, state = tmp_path / "access.ndjson", tmp_path / "state.json"
    lines = _lines(300, 11, prefix="/api/v")
    log.write_text("".join(line + "\n" for line in lines) + "garbage line\n")
    command = [sys.executable, "-m", "hitcount.cli", "--state", str(state), "replay", log.name]
    command += ["--follow", "--commit-every", "30", "-s", "sliding", "--last", "15m"]
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(tmp_path)
        os.execve(sys.executable, command, {**_CLEAN_ENV, "TERM": "xterm", "COLUMNS": "100"})
    screen = pyte.Screen(100, 60)
    stream = pyte.ByteStream(screen)
    started = time.monotonic()
    stream.feed(_read_until(master, b"300 kept"))
    fresh_after_s = time.monotonic() - started
    stream.feed(_read_for(master, 1.5))  # the rest of that drawing, and the next
    running = [row.rstrip() for row in screen.display]
    os.write(master, b"\x03")
    stream.feed(_read_until(master, None))
    _, status = os.waitpid(pid, 0)
    os.close(master)
    assert os.waitstatus_to_exitcode(status) == 130
    assert fresh_after_s < 10  # not waiting for the commit, 30 s away
    header = next(row for row in running if "hits/s" in row)
    assert header.startswith("following · ") and "warning" not in header
    assert "300 kept · 0 late · 1 bad line · 0 commits" in header
    foot = running[running.index(next(r for r in running if r.startswith("messages"))) :]
    assert foot[1].startswith("warning: access.ndjson:301: invalid JSON")  # cut to the width: …
    assert sum("invalid JSON" in row for row in running) == 1
    final = [row.rstrip() for row in screen.display if row.strip()]
    warned = [i for i, row in enumerate(final) if row.startswith("hitcount: warning:")]
    assert len(warned) == 1 and "access.ndjson:301: invalid JSON" in final[warned[0]]
    assert warned[0] > max(i for i, row in enumerate(final) if "read to byte" in row)


def _read_for(fd: int, seconds: float) -> bytes:
    """Whatever the terminal shows within `seconds`."""
    import select

    data = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            data += os.read(fd, 65536)
    return data


def test_follow_exit_on_alert_exits_9_at_the_first_alert_with_it_committed(
    tmp_path: Path,
) -> None:
    state, log = tmp_path / "state.json", tmp_path / "live.ndjson"
    quiet = [json.dumps({"endpoint": "/p", "ts": T0 + 2 * i}) for i in range(30)]
    burst = [json.dumps({"endpoint": "/login", "ts": T0 + 100 + i / 10}) for i in range(60)]
    log.write_text("\n".join(quiet) + "\n")
    follower = Follower(state, log, "--alert", "/login>50/10s", "--exit-on-alert")
    try:
        _wait_for_total(state, len(quiet))
        with log.open("a") as handle:
            handle.write("\n".join(burst) + "\n")
        assert follower.process.wait(timeout=20) == 9, follower.err.read_text()
    finally:
        follower.kill()
    err = follower.err.read_text()
    assert "hitcount: alert: /login: 51 hits in 10s > 50" in err
    assert "stopped at the first alert (--exit-on-alert)" in err
    assert _committed(state) == _expected(quiet, burst)  # the batch of the alert: committed

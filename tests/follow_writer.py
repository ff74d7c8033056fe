"""A log writer for the follow tests, run as its own process: `python follow_writer.py PLAN`.

PLAN is a JSON file: `{"log": PATH, "state": STATE, "steps": [...]}`, each step one of
  {"append": [lines], "pause_s": 0.01}      append lines (every 7th in two writes, the
                                             newline arriving later), pausing between
                                             bursts of 50 lines;
  {"rename": SUFFIX, "late": [lines]}        rotate like logrotate's create: rename the log
                                             to LOG+SUFFIX, write `late` to the old file
                                             (a server not yet reopened), then create a
                                             new, empty log;
  {"copytruncate": SUFFIX}                   wait until the follower's committed offset
                                             reaches the end of the log, copy it to
                                             LOG+SUFFIX and truncate the log in place.
Only the standard library is used, so the tests' oracle does not depend on hitcount.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from typing import IO, Any


def _append(handle: IO[str], lines: list[str], pause_s: float) -> None:
    for number, line in enumerate(lines, 1):
        if number % 7 == 0:
            half = len(line) // 2
            handle.write(line[:half])
            handle.flush()
            time.sleep(0.005)
            handle.write(line[half:] + "\n")
        else:
            handle.write(line + "\n")
        if number % 50 == 0:
            handle.flush()
            time.sleep(pause_s)
    handle.flush()


def _committed_offset(state: str, log: str) -> int:
    try:
        with open(state) as source:
            document = json.load(source)
    except (OSError, ValueError):
        return -1
    status = os.stat(log)
    for position in document.get("inputs", []):
        if position["path"] == os.path.abspath(log) and position["inode"] == status.st_ino:
            return int(position["offset"])
    return -1


def _wait_caught_up(state: str, log: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _committed_offset(state, log) != os.path.getsize(log):
        if time.monotonic() > deadline:
            raise SystemExit("the follower never caught up")
        time.sleep(0.02)


def run(plan: dict[str, Any]) -> None:
    log, state = plan["log"], plan["state"]
    handle = open(log, "a")  # noqa: SIM115 - reopened on rotation
    for step in plan["steps"]:
        if "append" in step:
            _append(handle, step["append"], step.get("pause_s", 0.01))
        elif "rename" in step:
            os.rename(log, log + step["rename"])
            _append(handle, step["late"], 0.0)
            handle.close()
            time.sleep(0.1)
            handle = open(log, "a")  # noqa: SIM115
        elif "copytruncate" in step:
            _wait_caught_up(state, log)
            shutil.copyfile(log, log + step["copytruncate"])
            os.truncate(log, 0)
            time.sleep(0.2)
    handle.close()


if __name__ == "__main__":
    with open(sys.argv[1]) as plan_file:
        run(json.load(plan_file))

"""`--alert-exec`: run a command once per alert, beside the replay, never through a shell.

The command gets the event as one JSON object on its stdin and its main fields as
environment variables (`HITCOUNT_EVENT`, `HITCOUNT_ENDPOINT`, `HITCOUNT_COUNT`,
`HITCOUNT_LIMIT`, `HITCOUNT_WINDOW`, `HITCOUNT_TS`, `HITCOUNT_TS_ISO`, `HITCOUNT_RULE`).
Hooks run in worker threads while the replay goes on: a hook that fails, cannot start or
outlives its timeout (it is killed) is reported through `report` and changes nothing else.
Alerts themselves fire at most once per endpoint and window (see `engine/alerts.py`), and
at most `max_pending` hooks wait at a time; more are dropped and counted.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import msgspec

from hitcount.errors import ConfigurationError
from hitcount.model.events import Event
from hitcount.model.metrics import plain
from hitcount.model.timeparse import iso

#: Hooks that run at the same time.
WORKERS = 4
#: Hooks waiting to run before new ones are dropped.
MAX_PENDING = 256


def parse_command(command: str) -> list[str]:
    """The command's words, split as a shell would split them but run without one.

    Raises:
        ConfigurationError: empty, badly quoted, or the program is not found.
    """
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise ConfigurationError(
            f"--alert-exec: cannot split {command!r}: {err}", hint="check its quotes"
        ) from err
    if not argv:
        raise ConfigurationError("--alert-exec needs a command", hint="e.g. --alert-exec ./page.sh")
    if shutil.which(argv[0]) is None:
        raise ConfigurationError(
            f"--alert-exec: {argv[0]!r} is not an executable file or a command on PATH",
            hint="give the program's path (it runs without a shell: no pipes or redirections)",
        )
    return argv


class AlertExec:
    """Runs `argv` once per event handed to it, in worker threads."""

    def __init__(self, argv: list[str], timeout_s: float, report: Callable[[str], None]) -> None:
        """Start the worker pool (threads start with the first hook)."""
        self.argv, self.timeout_s, self.report = argv, timeout_s, report
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="alert-exec")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self.ran = self.failed = self.dropped = 0

    def __call__(self, event: Event) -> None:
        """Queue one run of the hook for `event` (dropped when too many are waiting)."""
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self.dropped += 1
                return
            future = self._pool.submit(self._run, event)
            self._pending.add(future)
        future.add_done_callback(self._done)

    def close(self) -> None:
        """Wait for every queued hook (each bounded by its timeout), then report drops."""
        self._pool.shutdown(wait=True)
        if self.dropped:
            self.report(
                f"--alert-exec: {self.dropped} alerts ran no hook: more than {MAX_PENDING}"
                " were waiting"
            )

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, event: Event) -> None:
        data = event.to_dict()
        what = f"{event.name} of {data.get('endpoint')!r}"
        try:
            finished = subprocess.run(
                self.argv,
                input=msgspec.json.encode(data) + b"\n",
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**os.environ, **environment(event)},
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self._failed(f"took more than {plain(self.timeout_s)}s for {what} and was stopped")
            return
        except OSError as err:
            self._failed(f"cannot run {self.argv[0]!r}: {err.strerror or err}")
            return
        with self._lock:
            self.ran += 1
        if finished.returncode != 0:
            said = finished.stderr.decode("utf-8", "replace").strip().splitlines()
            tail = f": {said[-1][:200]}" if said else ""
            self._failed(f"exited {finished.returncode} for {what}{tail}")

    def _failed(self, message: str) -> None:
        with self._lock:
            self.failed += 1
        self.report(f"--alert-exec: {shlex.join(self.argv[:1])} {message}")


def environment(event: Event) -> dict[str, str]:
    """The event's main fields as `HITCOUNT_*` environment variables."""
    data = event.to_dict()
    fields = {
        "HITCOUNT_EVENT": event.name,
        "HITCOUNT_ENDPOINT": data.get("endpoint"),
        "HITCOUNT_COUNT": data.get("count"),
        "HITCOUNT_LIMIT": data.get("limit"),
        "HITCOUNT_WINDOW": data.get("window"),
        "HITCOUNT_TS": data.get("ts"),
        "HITCOUNT_TS_ISO": iso(data["ts"]) if isinstance(data.get("ts"), (int, float)) else None,
        "HITCOUNT_RULE": data.get("rule"),
    }
    return {name: _text(value) for name, value in fields.items() if value is not None}


def _text(value: object) -> str:
    """A number with all its digits (`1795823995.248`, `60`), or the text (NUL escaped)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\x00", "\\x00")

"""Follow mode: replay inputs that keep growing, committing the state at a steady interval.

Each commit saves the counter together with how far into each file it has read (the
`InputPosition`s in `counter.inputs`), in one atomic write: after a crash, following the same
file again with the saved state resumes exactly where the last commit ended. Ctrl-C (SIGINT)
and SIGTERM stop the loop between two blocks, so the final commit is consistent too.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hitcount.engine import HitCounter, QueryResult
from hitcount.errors import ConfigurationError, InputError
from hitcount.ingest.reader import GZIP_MAGIC
from hitcount.ingest.replay import BadLineHandler, Replayer, ReplayReport, refuse_empty
from hitcount.ingest.rotation import keep_position
from hitcount.live.tail import (
    FOLLOW_STDIN_HINT,
    FileTail,
    NoteHandler,
    StreamTail,
    compressed_refusal,
)
from hitcount.model.positions import (
    STDIN,
    InputPosition,
    display_name,
    find,
    is_stream,
)
from hitcount.persist.state import commit
from hitcount.persist.stores.base import Store
from hitcount.views.series import series

#: Default seconds between two commits.
DEFAULT_COMMIT_EVERY_S = 5.0
#: Seconds to sleep when no input had a whole line ready.
POLL_S = 0.05
#: Steps in each endpoint's sparkline.
SPARK_STEPS = 20


@dataclass(frozen=True, slots=True)
class TopRow:
    """One busy endpoint: its window answer and its hits per step (NaN where unknown)."""

    result: QueryResult
    steps: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class FollowStatus:
    """What a follow run has done so far, for the live view and the NDJSON summaries."""

    elapsed_s: float
    lines_read: int
    hits_kept: int
    late_hits: int
    bad_lines: int
    hits_per_s: float
    window_s: float
    top: tuple[TopRow, ...]
    strategy: str
    memory_entries: int
    memory_bytes: int
    clock: float | None
    commits: int
    inputs: tuple[InputPosition, ...]
    final: bool = False
    #: Seconds the last commit took to save the state (0: none yet).
    last_commit_s: float = 0.0


@dataclass(slots=True)
class FollowResult:
    """How a follow run ended: what it read, and whether a signal stopped it."""

    report: ReplayReport
    interrupted: bool = False
    commits: int = 0


StatusHandler = Callable[[FollowStatus], None]


@dataclass(slots=True)
class FollowView:
    """What to show while following: the window and size of the top list, and the handlers.

    `on_tick` gets a status about every `tick_every_s` seconds, and at once when the
    inputs are drained or a commit is made (for a live view); `on_commit` gets one after each
    commit (for NDJSON summaries). `on_note` hears of rotations, truncations and missing
    files; `on_bad_line`, when set, hears of bad lines instead of `follow`'s own handler.
    """

    window_s: float = 60.0
    limit: int = 10
    tick_every_s: float = 1.0
    on_tick: StatusHandler | None = None
    on_commit: StatusHandler | None = None
    on_note: NoteHandler | None = None
    on_bad_line: BadLineHandler | None = None


def check_followable(sources: Sequence[str]) -> None:
    """Refuse gzip files, stdin mixed with files, and pipes named by path (follow `-`).

    Raises:
        ConfigurationError: gzip, or stdin mixed with files.
        InputError: a path that is not a regular file.
    """
    if STDIN in sources and len(sources) > 1:
        raise ConfigurationError("follow reads stdin (-) alone, not with files", param="follow")
    for source in sources:
        if source == STDIN:
            continue
        if is_stream(source):  # by its status: opening a FIFO would wait for a writer
            raise InputError(display_name(source), "is not a regular file", hint=FOLLOW_STDIN_HINT)
        try:
            with open(source, "rb") as handle:
                compressed = handle.read(2) == GZIP_MAGIC
        except OSError:  # missing: it is waited for; unreadable: reported when opened
            compressed = False
        if compressed or source.endswith(".gz"):
            raise compressed_refusal(source)


def follow(
    counter: HitCounter,
    sources: Sequence[str],
    store: Store,
    *,
    fmt: str | None = None,
    strict: bool = False,
    commit_every_s: float = DEFAULT_COMMIT_EVERY_S,
    on_bad_line: BadLineHandler | None = None,
    view: FollowView | None = None,
    should_stop: Callable[[], bool] | None = None,
    replacing: bool = False,
    commit_to: Callable[[HitCounter], None] | None = None,
    refused_hits: Callable[[], int] | None = None,
) -> FollowResult:
    """Record the lines `sources` gain into `counter`, committing it to `store` as it goes.

    Files are followed like `tail -F` and resumed from `counter.inputs` when they are still
    the files the state read; `-` (stdin) is read until its end. The caller holds the
    store's lock. The run ends at the end of stdin, when `should_stop()` is true, or on
    SIGINT/SIGTERM (when run in the main thread); it then commits a last time.

    Args:
        counter: where hits go; its `inputs` say where to resume.
        sources: paths, or `["-"]`.
        store: where each commit saves the counter.
        fmt: the input format; default: from each file name, else sniffed.
        strict: raise at the first bad line (the store keeps the last commit).
        commit_every_s: seconds between commits.
        on_bad_line: called for each bad line (when not strict).
        view: what to report while running.
        should_stop: polled between blocks; true ends the run.
        replacing: `counter` replaces the saved state: nothing is committed before the
            first hit, and a run that read none fails instead (the saved state stays).
        commit_to: how a commit saves `counter` (default: `persist.state.commit` to
            `store`; a Redis append sends its delta with the positions instead).
        refused_hits: how many hits the commits so far sent that the stored state refused
            as late (a shared store's is further on than `counter`): not counted as kept.

    Raises:
        ConfigurationError: a bad interval, gzip input, or stdin mixed with files.
        InputError: an unreadable input, (strict) a bad line, or (replacing) not one hit.
    """
    if not (math.isfinite(commit_every_s) and commit_every_s > 0):
        raise ConfigurationError(
            f"commit_every_s must be > 0 seconds, got {commit_every_s!r}", param="commit_every_s"
        )
    check_followable(sources)
    view = view or FollowView()
    run = _Run(counter, store, fmt, strict, view.on_bad_line or on_bad_line, view)
    run.replacing = replacing
    if commit_to is not None:
        run.commit_to = commit_to
    if refused_hits is not None:
        run.refused_hits = refused_hits
    try:
        run.add(sources)
        with _stop_signals() as signalled:
            run.loop(commit_every_s, lambda: signalled() or bool(should_stop and should_stop()))
            run.result.interrupted = signalled()
        if replacing:
            refuse_empty(run.report(), sources, counter.keying.where)  # nothing committed
        run.commit(final=True)
        run.tick()  # the view's last drawing counts the last commit
    finally:
        for tail in run.tails:
            tail.close()
    return run.result


class _Run:
    """The state of one follow run: its tails, their replayers, commit and status clocks."""

    def __init__(
        self,
        counter: HitCounter,
        store: Store,
        fmt: str | None,
        strict: bool,
        on_bad_line: BadLineHandler | None,
        view: FollowView,
    ) -> None:
        self.counter, self.store, self.view = counter, store, view
        self.fmt, self.strict, self.on_bad_line = fmt, strict, on_bad_line
        self.tails: list[FileTail | StreamTail] = []
        self.replayers: list[Replayer] = []
        self.sources: list[str] = []
        self.result = FollowResult(ReplayReport())
        self.started = time.monotonic()
        self._committed_lines = 0
        self._last_commit_s = 0.0
        self._dirty = False
        #: Lines were read or a commit made since the last tick: the view is stale.
        self._unshown = False
        #: The counter replaces the saved state: no commit before its first hit.
        self.replacing = False
        self.commit_to: Callable[[HitCounter], None] = lambda counter: commit(store, counter)
        self.refused_hits: Callable[[], int] = lambda: 0
        #: The busiest endpoints and the metrics as the last commit saw them, shown until a
        #: line is read again (a shared store's commit empties the counter it ships).
        self._seen: tuple[tuple[TopRow, ...], dict[str, Any]] | None = None
        self._rate_mark = (self.started, 0)

    def add(self, sources: Sequence[str]) -> None:
        """Open a tail and a replayer for each source."""
        for source in sources:
            tail: FileTail | StreamTail
            if source == STDIN:
                tail = StreamTail(sys.stdin.buffer)
            else:
                resume = saved_position(self.counter.inputs, source)
                tail = FileTail(source, resume, self.view.on_note)
                if resume is None and self.counter.metrics.total_hits:
                    tail.first_note = (
                        f"{source}: the saved state has no position in it; reading it from"
                        " the start (its hits are added to those of the state)"
                    )
            replayer = Replayer(self.counter, self.fmt, self.strict, self.on_bad_line, None)
            replayer.begin(source)
            self.tails.append(tail)
            self.replayers.append(replayer)
            self.sources.append(source)

    def loop(self, commit_every_s: float, stop: Callable[[], bool]) -> None:
        """Read, record and commit until `stop()` or the end of stdin.

        The view is ticked every `tick_every_s`, and at once when the inputs are drained
        or a commit was made, so what it shows is never older than what was read.
        """
        next_commit = time.monotonic() + commit_every_s
        next_tick = time.monotonic()
        while not stop():
            busy = self.step()
            if all(isinstance(t, StreamTail) and t.ended for t in self.tails):
                return
            now = time.monotonic()
            if now >= next_commit:
                self.commit()
                next_commit = now + commit_every_s
            if now >= next_tick or (self._unshown and not busy):
                self.tick()
                next_tick = now + self.view.tick_every_s
            if not busy and not any(isinstance(t, StreamTail) for t in self.tails):
                time.sleep(POLL_S)

    def tick(self) -> None:
        """Give the view the current status (when it has a live view)."""
        if self.view.on_tick is not None:
            self.view.on_tick(self.status())
        self._unshown = False

    def step(self) -> bool:
        """Give each tail one read; True when any had lines."""
        busy = False
        for tail, replayer, source in zip(self.tails, self.replayers, self.sources, strict=True):
            block = tail.read()
            if block is None:
                continue
            busy = True
            if block[0] == 1 and replayer.report.lines_read:
                # rotated or truncated: the new file starts afresh, a CSV header too
                replayer.flush()
                replayer.begin(source)
            try:
                replayer.block(*block)
            except InputError as err:
                if err.line is not None and self.result.commits:  # --strict
                    err.hint = (
                        "the state keeps the last commit before this line; fix or remove"
                        " the line in place (`sed -i` and most editors write a new file,"
                        " which is read from line 1 again), or drop --strict to skip bad lines"
                    )
                raise
            self._dirty = self._unshown = True
            if tail.position is not None:
                keep_position(self.counter.inputs, tail.position)
        return busy

    def commit(self, *, final: bool = False) -> None:
        """Save the counter with its input positions (unless nothing was read since the
        last commit); then report the status."""  # noqa: D205, D209
        for replayer in self.replayers:
            replayer.flush()
        report = self.report()
        if self.replacing and not report.hits_read:
            return  # an empty counter must not replace the saved state
        if self._dirty or not self.result.commits:
            self.counter.metrics.lines_read += report.lines_read - self._committed_lines
            self._committed_lines = report.lines_read
            self._seen = (self._top(), self.counter.metrics_dict())
            started = time.perf_counter()
            self.commit_to(self.counter)
            self._last_commit_s = time.perf_counter() - started
            self.result.commits += 1
            self._dirty, self._unshown = False, True
        self.result.report = self.report()  # after the commit: what the store refused
        if self.view.on_commit is not None:
            self.view.on_commit(self.status(final=final))

    def _top(self) -> tuple[TopRow, ...]:
        return top_rows(self.counter, self.view.window_s, self.view.limit)

    def report(self) -> ReplayReport:
        """The replayers' reports added up."""
        total = ReplayReport(elapsed_s=time.monotonic() - self.started)
        for replayer in self.replayers:
            part = replayer.report
            total.lines_read += part.lines_read
            total.hits_read += part.hits_read
            total.hits_kept += part.hits_kept
            total.bad_lines += part.bad_lines
            total.first_bad.extend(part.first_bad)
            total.formats.update(part.formats)
        total.hits_kept -= self.refused_hits()  # late for the stored state: as its metrics say
        return total

    def status(self, *, final: bool = False) -> FollowStatus:
        """The current figures, with the busiest endpoints of the window: every line read
        so far is in them (the hits gathered line by line are recorded first)."""  # noqa: D205, D209
        for replayer in self.replayers:
            replayer.flush()
        report = self.report()
        now = time.monotonic()
        mark_time, mark_hits = self._rate_mark
        rate = (report.hits_read - mark_hits) / (now - mark_time) if now > mark_time else 0.0
        self._rate_mark = (now, report.hits_read)
        if self._seen is not None and not self._dirty:
            top, metrics = self._seen
        else:
            top, metrics = self._top(), self.counter.metrics_dict()
        return FollowStatus(
            elapsed_s=report.elapsed_s,
            lines_read=report.lines_read,
            hits_kept=report.hits_kept,
            late_hits=report.late_hits,
            bad_lines=report.bad_lines,
            hits_per_s=rate,
            window_s=self.view.window_s,
            top=top,
            strategy=self.counter.strategy.describe(),
            memory_entries=metrics["memory_entries"],
            memory_bytes=metrics["state_bytes"] + metrics["distinct_bytes"],
            clock=self.counter.clock,
            commits=self.result.commits,
            inputs=tuple(self.counter.inputs.values()),
            final=final,
            last_commit_s=self._last_commit_s,
        )


def top_rows(counter: HitCounter, window_s: float, limit: int) -> tuple[TopRow, ...]:
    """The busiest endpoints of the window ending at the clock, each with its steps."""
    if counter.clock is None:
        return ()
    rows = []
    for result in counter.top(window_s, limit=limit):
        try:
            points = series(counter, [result.endpoint], window_s, window_s / SPARK_STEPS)
        except ConfigurationError:  # a strategy that keeps no time has no steps
            steps: tuple[float, ...] = ()
        else:
            steps = tuple(p.count if p.complete else math.nan for p in points.series[0].points)
        rows.append(TopRow(result, steps))
    return tuple(rows)


@contextmanager
def _stop_signals() -> Iterator[Callable[[], bool]]:
    """Turn the first SIGINT/SIGTERM into a stop request; a second SIGINT interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    received: list[int] = []

    def request_stop(signum: int, frame: object) -> None:
        if received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(received)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def saved_position(inputs: Mapping[str, InputPosition], source: str) -> InputPosition | None:
    """The saved position of `source`: by its path, else by the file it names (a link)."""
    return find(inputs, source)

"""What `replay --follow` shows: a live Rich view on a terminal, NDJSON summaries when piped."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from hitcount.cli.render import Renderer, counted, duration, safe
from hitcount.cli.render.charts import sparkline
from hitcount.cli.render.reports import bad_line_text
from hitcount.cli.render.rich_parts import InertTable
from hitcount.ingest.replay import BadLineInfo
from hitcount.live.follow import FollowStatus, FollowView
from hitcount.model.metrics import number
from hitcount.model.timeparse import iso
from hitcount.views.json_forms import follow_status_json

#: Endpoints in the live view and in each summary.
TOP_LIMIT = 10
#: The latest warnings and notes shown at the foot of the live view.
MESSAGES_SHOWN = 3
#: Warnings and notes kept to print on stderr once the live view ends (the rest are counted).
MESSAGES_KEPT = 20


@contextmanager
def follow_view(render: Renderer, window_s: float) -> Iterator[FollowView]:
    """The live view (or NDJSON summaries) while `replay --follow` runs."""
    with FollowDisplay(render, window_s, TOP_LIMIT) as display:
        yield display.follow_view()


def status_view(status: FollowStatus, messages: Messages | None = None) -> Group:
    """The live view of one status: figures, the busiest endpoints with sparklines, inputs,
    and the latest warnings at its foot."""  # noqa: D205, D209
    header = Text.assemble(
        ("following", "bold"),
        f" · {status.hits_per_s:,.0f} hits/s · {status.lines_read:,} lines ·"
        f" {status.hits_kept:,} kept · {status.late_hits:,} late · ",
        (
            f"{status.bad_lines:,} bad line{'' if status.bad_lines == 1 else 's'}",
            "yellow" if status.bad_lines else "",
        ),
        f" · {status.commits} commit{'' if status.commits == 1 else 's'}",
    )
    state = Text(
        f"{status.strategy} · memory {status.memory_entries:,} entries,"
        f" {_bytes(status.memory_bytes)} · clock {iso(status.clock) or '-'}",
        style="dim",
    )
    foot = messages.foot() if messages is not None else []
    return Group(header, state, _top_table(status), *_input_lines(status), *foot)


def _top_table(status: FollowStatus) -> Table:
    window = duration(status.window_s)
    title = f"busiest endpoints, last {window} · Ctrl-C stops"
    table = InertTable(title=title, title_justify="left", pad_edge=False)
    table.add_column("endpoint", overflow="fold")
    table.add_column("count", justify="right")
    table.add_column(f"hits per {duration(status.window_s / max(_steps(status), 1))}")
    top = max((max(_known(row.steps), default=0.0) for row in status.top), default=0.0)
    for row in status.top:
        answer = row.result.answer
        count = number(answer.count) if answer.exact else f"~{number(answer.count)}"
        line = sparkline(list(row.steps), top) if row.steps else "(all time)"
        table.add_row(row.result.endpoint, count, Text(line, style="cyan"))  # the table escapes
    if not status.top:
        table.add_row(Text("no hits yet", style="dim"), "", "")
    return table


def _steps(status: FollowStatus) -> int:
    return max((len(row.steps) for row in status.top), default=0)


def _known(steps: tuple[float, ...]) -> list[float]:
    return [value for value in steps if not math.isnan(value)]


def _input_lines(status: FollowStatus) -> list[Text]:
    return [
        Text(
            f"{safe(p.path)}: read to byte {p.offset:,} (line {p.lines:,})",
            style="dim",
        )
        for p in status.inputs
    ]


def _bytes(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


class Messages:
    """Warnings and notes met while the live view runs: the latest at its foot, the first
    `MESSAGES_KEPT` kept for stderr once it ends, and a count of all."""  # noqa: D205, D209

    def __init__(self) -> None:
        self.count = 0
        self.latest: deque[Text] = deque(maxlen=MESSAGES_SHOWN)
        self.kept: list[tuple[str, bool]] = []

    def add(self, message: str, *, warning: bool) -> None:
        """Remember one message (a warning, or a note)."""
        self.count += 1
        shown = f"warning: {safe(message)}" if warning else safe(message)
        style = "yellow" if warning else "dim"
        self.latest.append(Text(shown, style=style, no_wrap=True, overflow="ellipsis"))
        if len(self.kept) < MESSAGES_KEPT:
            self.kept.append((message, warning))

    def foot(self) -> list[Text]:
        """The lines at the foot of the view: a heading and the latest messages."""
        if not self.count:
            return []
        heading = "messages (printed on stderr when following stops)"
        if self.count > len(self.latest):
            heading += f", the latest {len(self.latest)} of {number(self.count)}"
        return [Text(heading + ":", style="bold"), *self.latest]

    def flush(self, render: Renderer) -> None:
        """Print the kept messages on stderr, and how many more there were."""
        for message, warning in self.kept:
            (render.warn if warning else render.note)(message)
        if self.count > len(self.kept):
            render.warn(f"{counted(self.count - len(self.kept), 'more message')} not shown")


class FollowDisplay:
    """Shows statuses: redrawn in place on a terminal, one JSON line per commit otherwise.

    While the live view is drawn on a terminal, warnings (bad lines, rotations) go to its
    foot; when stderr is that terminal too, they are printed on it only once the view ends,
    and whatever else goes to stderr meanwhile (alerts, `--trace`) is printed above the view,
    so that nothing is written into the region the view redraws.
    """

    def __init__(self, render: Renderer, window_s: float, limit: int) -> None:
        self.render = render
        self.live = render.draws_live()
        self._view: Live | None = None
        self.window_s, self.limit = window_s, limit
        self.messages = Messages()
        self._hold = self.live and render.err.is_terminal
        self._status: FollowStatus | None = None

    def follow_view(self) -> FollowView:
        """The handlers to pass to `follow`."""
        return FollowView(
            window_s=self.window_s,
            limit=self.limit,
            on_tick=self.draw if self.live else None,
            on_commit=None if self.live else self.summary,
            on_note=self.warn,
            on_bad_line=self.bad_line if self.live else None,
        )

    def warn(self, message: str) -> None:
        """A warning: at the foot of the live view, and on stderr (after the view, on a
        terminal)."""  # noqa: D205, D209
        if not self.live:
            self.render.warn(message)
            return
        self.messages.add(message, warning=True)
        if not self._hold:
            self.render.warn(message)
        self._redraw()

    def bad_line(self, info: BadLineInfo) -> None:
        """One bad line, as a warning."""
        self.warn(bad_line_text(info))

    def summary(self, status: FollowStatus) -> None:
        """Print one NDJSON summary line."""
        self.render.json(follow_status_json(status))

    def draw(self, status: FollowStatus) -> None:
        """Redraw the live view."""
        self._status = status
        self._redraw()

    def _redraw(self) -> None:
        if self._view is None:
            return
        if self._status is None:
            started = Text(f"following… (started {iso(self._started)})")
            self._view.update(Group(started, *self.messages.foot()), refresh=True)
        else:
            self._view.update(status_view(self._status, self.messages), refresh=True)

    def __enter__(self) -> FollowDisplay:
        self._started = time.time()
        if self.live:
            self._view = Live(console=self.render.out, auto_refresh=False)
            self._view.start()
            self._redraw()
        if self._hold:  # the view's console prints above it; a plain write would land inside
            self._err, self.render.err = self.render.err, self.render.out
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._view is not None:
            self._view.stop()
            self._view = None
        if self._hold:
            self.render.err = self._err
            self.messages.flush(self.render)

"""What `replay --follow` shows: a live Rich view on a terminal, NDJSON summaries when piped."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from hitcount.cli.render import Renderer, duration, safe
from hitcount.cli.render.charts import sparkline
from hitcount.cli.render.console import InertTable
from hitcount.live.follow import FollowStatus, FollowView
from hitcount.model.metrics import number
from hitcount.model.timeparse import iso
from hitcount.views.json_forms import follow_status_json

#: Endpoints in the live view and in each summary.
TOP_LIMIT = 10


@contextmanager
def follow_view(render: Renderer, window_s: float) -> Iterator[FollowView]:
    """The live view (or NDJSON summaries) while `replay --follow` runs."""
    with FollowDisplay(render, window_s, TOP_LIMIT) as display:
        yield display.follow_view()


def shows_live(render: Renderer) -> bool:
    """Whether `replay --follow` redraws a live view (then a text summary ends it)."""
    return render.out.is_terminal and not render.json_output


def status_view(status: FollowStatus) -> Group:
    """The live view of one status: figures, the busiest endpoints with sparklines, inputs."""
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
    return Group(header, state, _top_table(status), *_input_lines(status))


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
        table.add_row(Text(safe(row.result.endpoint)), count, Text(line, style="cyan"))
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


class FollowDisplay:
    """Shows statuses: redrawn in place on a terminal, one JSON line per commit otherwise."""

    def __init__(self, render: Renderer, window_s: float, limit: int) -> None:
        self.render = render
        self.live = shows_live(render)
        self._view: Live | None = None
        self.window_s, self.limit = window_s, limit

    def follow_view(self) -> FollowView:
        """The handlers to pass to `follow`."""
        return FollowView(
            window_s=self.window_s,
            limit=self.limit,
            on_tick=self.draw if self.live else None,
            on_commit=None if self.live else self.summary,
            on_note=self.render.warn,
        )

    def summary(self, status: FollowStatus) -> None:
        """Print one NDJSON summary line."""
        self.render.json(follow_status_json(status))

    def draw(self, status: FollowStatus) -> None:
        """Redraw the live view."""
        if self._view is not None:
            self._view.update(status_view(status), refresh=True)

    def __enter__(self) -> FollowDisplay:
        if self.live:
            self._view = Live(console=self.render.out, auto_refresh=False)
            self._view.start()
            self._view.update(Text(f"following… (started {iso(time.time())})"), refresh=True)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._view is not None:
            self._view.stop()

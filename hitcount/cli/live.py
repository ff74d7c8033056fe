"""What `replay --follow` shows: a live Rich view on a terminal, NDJSON summaries when piped."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from hitcount.cli.options import FollowSettings
from hitcount.cli.plot import sparkline
from hitcount.cli.render import Renderer, duration, safe
from hitcount.engine import HitCounter
from hitcount.ingest.replay import BadLineInfo
from hitcount.live.follow import FollowResult, FollowStatus, FollowView, follow
from hitcount.model.metrics import number
from hitcount.model.timeparse import iso
from hitcount.persist.stores import Store

#: Endpoints in the live view and in each summary.
TOP_LIMIT = 10


def follow_and_show(
    counter: HitCounter,
    sources: list[str],
    store: Store,
    render: Renderer,
    settings: FollowSettings,
    *,
    fmt: str | None,
    strict: bool,
    on_bad_line: Callable[[BadLineInfo], None],
    on_saved: Callable[[], None],
) -> FollowResult:
    """Run `follow` with the live view (or NDJSON summaries), then print the text summary
    on a terminal."""  # noqa: D205, D209
    with FollowDisplay(render, settings.window_s, TOP_LIMIT) as display:
        view = display.follow_view()
        show = view.on_commit

        def committed(status: FollowStatus) -> None:
            on_saved()  # from now on, an interrupt says the state was saved
            if show is not None:
                show(status)

        view.on_commit = committed
        result = follow(
            counter,
            sources,
            store,
            fmt=fmt,
            strict=strict,
            commit_every_s=settings.commit_every_s,
            on_bad_line=on_bad_line,
            view=view,
        )
    if display.live:
        render.replay(result.report, counter.metrics_dict(), store.describe())
    return result


def status_view(status: FollowStatus) -> Group:
    """The live view of one status: figures, the busiest endpoints with sparklines, inputs."""
    header = Text.assemble(
        ("following", "bold"),
        f" · {status.hits_per_s:,.0f} hits/s · {status.lines_read:,} lines ·"
        f" {status.hits_kept:,} kept · {status.late_hits:,} late · ",
        (f"{status.bad_lines:,} bad lines", "yellow" if status.bad_lines else ""),
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
    table = Table(title=title, title_justify="left", pad_edge=False)
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


def status_json(status: FollowStatus) -> dict[str, Any]:
    """One NDJSON summary line (NaN steps, before the retained data, become null)."""
    return {
        "kind": "follow_status",
        "final": status.final,
        "elapsed_s": round(status.elapsed_s, 3),
        "lines_read": status.lines_read,
        "hits_kept": status.hits_kept,
        "late_hits": status.late_hits,
        "bad_lines": status.bad_lines,
        "hits_per_s": round(status.hits_per_s, 1),
        "commits": status.commits,
        "clock": status.clock,
        "clock_iso": iso(status.clock),
        "strategy": status.strategy,
        "memory_entries": status.memory_entries,
        "memory_bytes": status.memory_bytes,
        "window_s": status.window_s,
        "top": [
            {
                "endpoint": row.result.endpoint,
                "count": row.result.answer.count,
                "low": row.result.answer.low,
                "high": row.result.answer.high if math.isfinite(row.result.answer.high) else None,
                "exact": row.result.answer.exact,
                "steps": [None if math.isnan(v) else round(v, 3) for v in row.steps],
            }
            for row in status.top
        ],
        "inputs": [position.to_dict() for position in status.inputs],
    }


class FollowDisplay:
    """Shows statuses: redrawn in place on a terminal, one JSON line per commit otherwise."""

    def __init__(self, render: Renderer, window_s: float, limit: int) -> None:
        self.render = render
        self.live = render.out.is_terminal and not render.json_output
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
        self.render.json(status_json(status))

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

"""Everything the CLI prints: Rich on a terminal, plain text when piped, JSON on request.

Endpoint text is data: control characters are shown escaped and nothing is read as markup.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

import msgspec
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from hitcount.engine import DistinctResult, QueryResult
from hitcount.ingest.replay import BadLineInfo, ReplayReport
from hitcount.model.events import THRESHOLD_EXCEEDED, Event
from hitcount.model.metrics import metric_text, number
from hitcount.model.timeparse import iso
from hitcount.ops.compare import Comparison, worst_error
from hitcount.strategies import WindowAnswer

_NUMBERS = ("count", "low", "high", "retained hits")
#: `--json` lists at most this many endpoints a glob matched (`matched_count` has them all).
_MATCHED_SHOWN = 100
#: Output width when stdout is not a terminal: wide enough that table rows never wrap.
_PIPED_WIDTH = 100_000
#: What `watch_top` calls for each refresh: the results and the strategy's description.
TopFetcher = Callable[[], tuple[list[QueryResult], str]]
#: Replays shorter than this (seconds) draw no progress line.
_PROGRESS_AFTER_S = 1.0
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """Text with control, C1 and bidi characters shown as Python escapes, e.g. ESC as x1b."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def duration(seconds: float) -> str:
    """`300 s`, `5m`, `2h`: a window length for humans."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{number(seconds)}s"


class Renderer:
    """Prints results on stdout and diagnostics on stderr."""

    def __init__(self, *, json_output: bool = False) -> None:
        self.json_output = json_output
        self.out = Console(highlight=False, soft_wrap=True)
        if not self.out.is_terminal:  # piped: never wrap rows for grep and awk
            self.out = Console(highlight=False, soft_wrap=True, width=_PIPED_WIDTH)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    # -- primitives -------------------------------------------------------------------

    def json(self, payload: Any) -> None:
        """One JSON document on stdout (non-finite numbers become null)."""
        sys.stdout.write(msgspec.json.encode(payload).decode("utf-8") + "\n")
        sys.stdout.flush()

    def document(self, data: bytes | str) -> None:
        """A whole document (a snapshot, an HTML page) on stdout, byte for byte."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    def line(self, *parts: str | Text) -> None:
        """One line of plain text (no markup) on stdout."""
        self.out.print(Text.assemble(*parts))

    def warn(self, message: str) -> None:
        """`hitcount: warning: ...` on stderr."""
        self.err.print(Text(f"hitcount: warning: {safe(message)}", style="yellow"))

    def note(self, message: str) -> None:
        """A dim informational line on stderr."""
        self.err.print(Text(message, style="dim"))

    def error(self, message: str, hint: str | None = None) -> None:
        """`hitcount: error: ...` (and the hint) on stderr."""
        self.err.print(Text(f"hitcount: error: {safe(message)}", style="bold red"))
        if hint:
            self.err.print(Text(f"hint: {safe(hint)}", style="dim"))

    def show(self, table: Table) -> None:
        """Print a table; when piped, without the padding Rich leaves at line ends."""
        if self.out.is_terminal:
            self.out.print(table)
            return
        with self.out.capture() as captured:
            self.out.print(table)
        lines = captured.get().splitlines()
        sys.stdout.write("".join(line.rstrip() + "\n" for line in lines))
        sys.stdout.flush()

    def title(self, text: str) -> None:
        """A section title: a rule on a terminal, a plain line when piped."""
        if self.out.is_terminal:
            self.out.rule(Text(text), style="dim")
        else:
            self.line(f"== {text}")

    def table(self, *columns: str, right: tuple[str, ...] = ()) -> Table:
        """A table: boxed on a terminal, bare aligned columns when piped; `right` columns are
        right-justified (numbers)."""  # noqa: D205, D209
        styled = self.out.is_terminal
        table = Table(
            box=box.SIMPLE_HEAD if styled else None,
            show_header=True,
            header_style="bold" if styled else "",
            pad_edge=False,
        )
        for column in columns:
            if column in right:
                table.add_column(column, justify="right", overflow="fold")
            else:
                table.add_column(column, justify="left", overflow="fold")
        return table

    @contextmanager
    def progress(self) -> Iterator[Callable[[int], None]]:
        """A progress callback (lines read) that shows a live line on a terminal's stderr.

        Nothing is drawn when stderr is not a terminal, nor for replays under a second.
        """
        if not self.err.is_terminal:
            yield lambda lines: None
            return
        started = time.monotonic()
        bar = Progress(
            SpinnerColumn(),
            TextColumn("replaying: {task.completed:,.0f} lines"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rate]}"),
            console=self.err,
            transient=True,
        )
        task = bar.add_task("replay", total=None, rate="")

        def update(lines: int) -> None:
            elapsed = time.monotonic() - started
            if elapsed > _PROGRESS_AFTER_S and not bar.live.is_started:
                bar.start()
            bar.update(task, completed=lines, rate=f"{lines / max(elapsed, 1e-9):,.0f} lines/s")

        try:
            yield update
        finally:
            bar.stop()

    # -- results ----------------------------------------------------------------------

    def query(
        self, result: QueryResult, strategy: str, users: DistinctResult | None = None
    ) -> None:
        """One window answer (and its distinct users, when asked)."""
        if self.json_output:
            self.json({**query_json(result, strategy), **distinct_json(users)})
            return
        answer = result.answer
        summary = answer_text(answer, result.last_s)
        self.line(Text(safe(result.endpoint), style="bold"), f": {summary}")
        if len(result.matched) > 1 or result.matched != (result.endpoint,):
            self.note(f"matched {len(result.matched)} endpoint(s)")
        if result.now is not None and not answer.all_time:
            start = iso(result.now - result.last_s)
            self.note(f"window {start} < ts <= {iso(result.now)} · {strategy}")
        self._caveats(answer)
        if users is not None:
            self.line(Text(safe(users.endpoint), style="bold"), f": {distinct_text(users)}")
            if not users.answer.complete:
                self.warn(
                    "the window starts before the oldest distinct-users bucket kept, so the"
                    " true number may be higher"
                )

    def _caveats(self, answer: WindowAnswer) -> None:
        if answer.all_time and answer.since is None:
            self.warn("this strategy keeps no time: the answer counts all hits ever recorded")
        elif answer.all_time:
            self.warn(
                "this strategy keeps no time: the answer counts the hits the strategy it was"
                f" swapped from still held, those after {iso(answer.since)}"
            )
        if not answer.complete:
            self.warn(
                "the window starts before the oldest data the strategy keeps, so the true"
                " count may be higher; use a longer --max-window / --retention"
            )

    def top(self, results: list[QueryResult], last_s: float, strategy: str) -> None:
        """The busiest endpoints."""
        if self.json_output:
            self.json([query_json(result, strategy) for result in results])
            return
        self.show(self._top_table(results))
        if not results:
            self.note(f"no hits in the last {duration(last_s)}")
        if results:
            now = results[0].now
            if now is not None and not results[0].answer.all_time:
                self.note(f"window {iso(now - last_s)} < ts <= {iso(now)} · {strategy}")
            self._caveats(_combine(r.answer for r in results))

    def _top_table(self, results: list[QueryResult]) -> Table:
        table = self.table("endpoint", "count", "low", "high", "exact", right=_NUMBERS)
        for result in results:
            a = result.answer
            table.add_row(
                Text(safe(result.endpoint)),
                number(a.count),
                number(a.low),
                number(a.high),
                "yes" if a.exact else "no",
            )
        return table

    def watch_top(
        self, fetch: TopFetcher, last_s: float, interval_s: float, count: int | None
    ) -> None:
        """Redraw `top` every `interval_s` seconds (`count` times, or until Ctrl-C).

        On a terminal the table is redrawn in place; piped, each refresh is printed after
        the last (one JSON array per line with --json).
        """
        live = self.out.is_terminal and not self.json_output
        shown = 0
        try:
            with Live(console=self.out, auto_refresh=False) if live else nullcontext() as view:
                while count is None or shown < count:
                    results, strategy = fetch()
                    if isinstance(view, Live):
                        view.update(self._watch_view(results, last_s, strategy), refresh=True)
                    elif self.json_output:
                        self.json([query_json(result, strategy) for result in results])
                    else:
                        self.line(f"== {iso(time.time())}")
                        self.top(results, last_s, strategy)
                    shown += 1
                    if count is None or shown < count:
                        time.sleep(interval_s)
        except KeyboardInterrupt:  # the normal way to stop watching
            return

    def _watch_view(self, results: list[QueryResult], last_s: float, strategy: str) -> Group:
        now = results[0].now if results else None
        window = f"{iso(now - last_s)} < ts <= {iso(now)}" if now is not None else "no hits"
        header = Text(f"top · last {duration(last_s)} · {window} · {strategy} · Ctrl-C stops")
        return Group(header, self._top_table(results))

    def metrics(self, metrics: Mapping[str, Any]) -> None:
        """Every metric."""
        if self.json_output:
            self.json(dict(metrics))
            return
        table = self.table("metric", "value")
        for name, value in metrics.items():
            table.add_row(name, Text(safe(metric_text(name, value))))
        self.show(table)

    def events(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Remembered events, oldest first."""
        rows = list(events)
        if self.json_output:
            self.json(rows)
            return
        table = self.table("clock", "event", "details")
        for row in rows:
            details = ", ".join(
                f"{k}={_value_text(v)}" for k, v in row.items() if k not in ("event", "clock")
            )
            table.add_row(iso(row.get("clock")) or "-", str(row.get("event")), Text(safe(details)))
        self.show(table)
        if not rows:
            self.note("no such events remembered (the state keeps its last 200 notable ones)")

    def replay(self, report: ReplayReport, metrics: Mapping[str, Any], saved_to: str) -> None:
        """What a replay did."""
        if self.json_output:
            self.json(replay_json(report, metrics, saved_to))
            self.bad_lines_summary(report)
            return
        formats = ", ".join(f"{safe(src)} ({fmt})" for src, fmt in report.formats.items())
        self.line(
            f"replayed {report.lines_read} lines from {formats or 'no input'}"
            f" in {report.elapsed_s:.2f}s: {report.hits_kept} hits kept,"
            f" {report.late_hits} too late, {report.bad_lines} bad lines"
        )
        self.line(
            f"state: {metrics['strategy']} · {metrics['endpoints_count']} endpoints ·"
            f" {metrics['memory_entries']} entries · clock {iso(metrics['clock']) or '-'}"
            f" · saved to {safe(saved_to)}"
        )
        self.bad_lines_summary(report)

    def comparison(self, result: Comparison) -> None:
        """Every strategy's answers against the exact counts."""
        if self.json_output:
            self.json(comparison_json(result))
            return
        self.line(f"busiest {len(result.exact)} endpoints in the last {duration(result.last_s)}"
                  f" before {iso(result.now) or '-'}")  # fmt: skip
        summary = self.table(
            "strategy", "replay s", "entries", "state bytes", "worst error", "bounds hold",
            "parameters", right=("replay s", "entries", "state bytes", "worst error"),
        )  # fmt: skip
        for run in result.runs:
            truth = result.truth(run)
            held = sum(run.bounds_hold(ep, n) for ep, n in truth.items())
            name, _, params = run.strategy.partition("(")
            summary.add_row(
                name + (" (all time)" if run.all_time else ""), f"{run.replay_s:.2f}",
                str(run.memory_entries), str(run.state_bytes),
                f"{worst_error(run, truth):.2%}", f"{held}/{len(truth)}", params.rstrip(")"),
            )  # fmt: skip
        self.show(summary)
        answers = self.table("endpoint", "exact", *(r.strategy.split("(")[0] for r in result.runs))
        for endpoint, exact in result.exact.items():
            counts = [number(run.answers[endpoint].count) for run in result.runs]
            answers.add_row(Text(safe(endpoint)), str(exact), *counts)
        self.show(answers)

    def bad_line(self, info: BadLineInfo) -> None:
        """One bad line, as it is met."""
        self.warn(f"{info.source}:{info.line}: {info.reason} (skipped)")

    def bad_lines_summary(self, report: ReplayReport) -> None:
        """The count of bad lines, when more were skipped than shown."""
        hidden = report.bad_lines - len(report.first_bad)
        if hidden > 0:
            self.warn(f"{hidden} more bad line(s) skipped; {report.bad_lines} in total")

    def alert(self, event: Event) -> None:
        """One line on stderr per `threshold_exceeded` / `threshold_cleared` event."""
        data = event.payload
        where = f"{safe(data['endpoint'])}: {data['count']} hits in {duration(data['window'])}"
        rule = f"({safe(data['rule'])})"
        if event.name == THRESHOLD_EXCEEDED:
            text = f"hitcount: alert: {where} > {data['limit']} at {iso(data['ts'])} {rule}"
            self.err.print(Text(text, style="bold red"))
        else:
            text = (
                f"hitcount: alert cleared: {where} at {iso(data['ts'])},"
                f" <= {data['limit']} for a full window {rule}"
            )
            self.err.print(Text(text, style="green"))

    def trace(self, event: Event) -> None:
        """One event on stderr, for `--trace`."""
        details = " ".join(f"{k}={_value_text(v)}" for k, v in event.payload.items())
        stamp = iso(event.clock) or "-"
        self.err.print(
            Text.assemble((f"{stamp} ", "dim"), (event.name, "cyan"), " ", safe(details))
        )


def _combine(answers: Iterable[WindowAnswer]) -> WindowAnswer:
    items = list(answers)
    total = items[0]
    for answer in items[1:]:
        total = total + answer
    return total


def answer_text(answer: WindowAnswer, last_s: float) -> str:
    """`42 hits in the last 5m (exact)`, or an estimate with its bounds."""
    scope = f"in the last {duration(last_s)}"
    if answer.all_time:
        scope = "over all time" if answer.since is None else f"since {iso(answer.since)}"
    if not answer.complete:
        return f"at least {number(answer.low)} {_hits(answer.low)} {scope} (no upper bound)"
    if answer.exact:
        return f"{number(answer.count)} {_hits(answer.count)} {scope} (exact)"
    kind = "certain" if answer.confidence is None else f"{answer.confidence:.0%} interval"
    bounds = f"{number(answer.low)}..{number(answer.high)}, {kind}"
    return f"~{number(answer.count)} {_hits(answer.count)} {scope} ({bounds})"


def _hits(count: float) -> str:
    return "hit" if count == 1 else "hits"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def answer_json(answer: WindowAnswer) -> dict[str, Any]:
    """The fields of an answer for `--json`."""
    return {
        "count": answer.count,
        "low": answer.low,
        "high": _finite(answer.high),
        "exact": answer.exact,
        "confidence": answer.confidence,
        "complete": answer.complete,
        "all_time": answer.all_time,
        "since": answer.since,
    }


def distinct_text(result: DistinctResult) -> str:
    """`~412 distinct users in the last 1h (395..430, 95% interval)`."""
    a = result.answer
    scope = f"in the last {duration(result.last_s)}"
    if not a.complete:
        return f"at least {a.low:,.0f} distinct users {scope} (no upper bound)"
    bounds = f"{a.low:,.0f}..{a.high:,.0f}, {a.confidence:.0%} interval"
    return f"~{a.estimate:,.0f} distinct users {scope} ({bounds})"


def distinct_json(result: DistinctResult | None) -> dict[str, Any]:
    """The distinct-users fields of `query --json --distinct` (none without --distinct)."""
    if result is None:
        return {}
    a = result.answer
    return {
        "distinct": a.estimate,
        "distinct_low": a.low,
        "distinct_high": _finite(a.high),
        "distinct_confidence": a.confidence,
        "distinct_complete": a.complete,
        "distinct_buckets_partial": a.buckets_partial,
    }


def query_json(result: QueryResult, strategy: str) -> dict[str, Any]:
    """A query result for `--json`."""
    return {
        "endpoint": result.endpoint,
        "matched": list(result.matched[:_MATCHED_SHOWN]),
        "matched_count": len(result.matched),
        "last": result.last_s,
        "now": result.now,
        "now_iso": iso(result.now),
        **answer_json(result.answer),
        "strategy": strategy,
    }


def comparison_json(result: Comparison) -> dict[str, Any]:
    """A comparison for `--json`."""
    return {
        "last": result.last_s,
        "now": result.now,
        "exact": result.exact,
        "totals": result.totals,
        "strategies": [
            {
                "strategy": run.strategy,
                "replay_s": round(run.replay_s, 6),
                "memory_entries": run.memory_entries,
                "state_bytes": run.state_bytes,
                "all_time": run.all_time,
                "worst_error": worst_error(run, result.truth(run)),
                "answers": {ep: answer_json(a) for ep, a in run.answers.items()},
            }
            for run in result.runs
        ],
    }


def replay_json(report: ReplayReport, metrics: Mapping[str, Any], saved_to: str) -> dict[str, Any]:
    """A replay report for `--json`."""
    return {
        "lines_read": report.lines_read,
        "hits_kept": report.hits_kept,
        "late_hits": report.late_hits,
        "bad_lines": report.bad_lines,
        "first_bad_lines": [
            {"source": b.source, "line": b.line, "reason": b.reason} for b in report.first_bad
        ],
        "formats": report.formats,
        "elapsed_s": round(report.elapsed_s, 6),
        "state": saved_to,
        "metrics": dict(metrics),
    }


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return number(value)
    return str(value)


def _param_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)

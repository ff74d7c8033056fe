"""Reports on screen: replays, comparisons, metrics, events, bad lines, alerts, traces."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hitcount.cli.render.console import Output
from hitcount.cli.render.text import Styled, counted, duration, safe, value_text
from hitcount.engine import RECENT_EVENTS
from hitcount.model.metrics import metric_text, number
from hitcount.model.timeparse import iso
from hitcount.views.json_forms import answer_json, replay_json

if TYPE_CHECKING:  # what only replay and compare print (start-up time of the others)
    from hitcount.ingest.replay import BadLineInfo, ReplayReport
    from hitcount.model.answers import WindowAnswer
    from hitcount.model.events import Event
    from hitcount.ops.compare import Comparison

#: Inputs a replay's summary names; past that, the first ones and how many more.
_NAMED_INPUTS = 10


def _round_up(seconds: float) -> float:
    """Up to a whole unit a person would type: days past a week, else hours or minutes."""
    for size, floor in ((86400.0, 7 * 86400.0), (3600.0, 3600.0), (60.0, 60.0)):
        if seconds >= floor:
            return math.ceil(seconds / size) * size
    return float(math.ceil(seconds))


def bad_line_text(info: BadLineInfo) -> str:
    """`access.log:17: no request (skipped)`: one bad line, where it is and why."""
    return f"{info.source}:{info.line}: {info.reason} (skipped)"


class ReportViews(Output):
    """Prints what commands did and what the state holds."""

    def metrics(self, metrics: Mapping[str, Any]) -> None:
        """Every metric."""
        if self.csv_output:  # a metric per row: name, value
            self.csv([{"metric": k, "value": v} for k, v in metrics.items()])
            return
        if self.json_output:
            self.json(dict(metrics))
            return
        table = self.table("metric", "value")
        for name, value in metrics.items():
            table.add_row(name, metric_text(name, value))  # cells: made inert by the table
        self.show(table)

    def events(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        whole_log: bool = False,
        bounded: bool = False,
        earlier: bool = False,
        window: str | None = None,
    ) -> None:
        """Remembered events, oldest first: from the whole event log, or from the last ones
        kept (`bounded`: that list is full, older events are gone); `earlier`: more matched
        than were asked for, the earliest left out; `window`: the log-clock span asked."""  # noqa: D205, D209
        rows = list(events)
        if earlier:
            self.note(
                f"showing the last {len(rows)} matching events; earlier ones were left out"
                " (--limit N shows more)"
            )
        if self.json_output:  # --json and --csv: the notes below on stderr all the same
            self.json(rows)
        else:
            table = self.table("clock", "event", "details")
            for row in rows:
                details = ", ".join(
                    f"{k}={value_text(v)}" for k, v in row.items() if k not in ("event", "clock")
                )
                table.add_row(iso(row.get("clock")) or "-", str(row.get("event")), details)
            if rows:  # no header over nothing: the note says why
                self.show(table)
        within = f" with a log clock in {window}" if window else ""
        if not rows:
            where = "in the state's event log" if whole_log else "remembered"
            self.note(f"no such events {where}{within}")
        if bounded:
            self.note(
                f"this state (JSON or Redis) keeps only its last {RECENT_EVENTS} notable events"
                " (a SQLite state keeps them all)"
            )

    def replay(self, report: ReplayReport, metrics: Mapping[str, Any], saved_to: str) -> None:
        """What a replay did."""
        if self.json_output:
            self.json(replay_json(report, metrics, saved_to))
            self.bad_lines_summary(report)
            return
        named = [f"{safe(src)} ({fmt})" for src, fmt in report.formats.items()]
        if len(named) > _NAMED_INPUTS:  # thousands of files: a few names and a count
            more = len(named) - _NAMED_INPUTS + 1
            named = [*named[: _NAMED_INPUTS - 1], f"{more:,} more files"]
        formats = ", ".join(named)
        self.line(
            f"replayed {counted(report.lines_read, 'line')} from {formats or 'no new input'}"
            f" in {report.elapsed_s:.2f}s: {counted(report.hits_kept, 'hit')} kept,"
            f" {report.late_hits} too late, {counted(report.bad_lines, 'bad line')}"
        )
        self.line(
            f"state: {metrics['strategy']} · {counted(metrics['endpoints_count'], 'endpoint')} ·"
            f" {counted(metrics['memory_entries'], 'entry', 'entries')}"
            f" · clock {iso(metrics['clock']) or '-'}"
            f" · saved to {safe(saved_to)}"
        )
        self._outside_retention(report, metrics)
        self.bad_lines_summary(report)

    def _outside_retention(self, report: ReplayReport, metrics: Mapping[str, Any]) -> None:
        """Say so when the input reaches further back than the strategy keeps."""
        horizon, clock, oldest = metrics.get("horizon"), metrics.get("clock"), report.oldest_ts
        if horizon is None or clock is None or not oldest <= horizon < clock:
            return
        if report.late_hits and not metrics.get("pruned_events"):
            return  # nothing kept was pruned: only hits refused as too late were that old
            # (the summary counts them; one odd timestamp would drive the advice: QA P5)
        share = (horizon - oldest) / (clock - oldest) if clock > oldest else 1.0
        from hitcount.strategies import get_strategy

        strategy = get_strategy(str(metrics["strategy"]))
        flag = next(
            (p.flag for p in strategy.params_spec if p.name == strategy.retention_param), None
        )
        span = clock - oldest + float(metrics.get("max_lateness_s") or 0)
        keeps = f"; {flag} {duration(_round_up(span))} would keep it" if flag else ""
        self.warn(
            f"the input goes back to {iso(oldest)}, but {metrics['strategy']} keeps only what"
            f" is after {iso(horizon)}: {share:.0%} of the input's time span can no longer be"
            f" answered{keeps}"
        )

    def comparison(self, result: Comparison) -> None:
        """Every strategy's answers against the exact counts."""
        from hitcount.engine.counter import DEFAULT_MAX_LATENESS_S as LATENESS_S
        from hitcount.ops.compare import incomplete, worst_error

        if self.csv_output:  # a row per strategy and endpoint
            self.csv(comparison_rows(result))
            return
        if self.json_output:
            self.json(comparison_json(result))
            return
        self.line(
            f"busiest {counted(len(result.exact), 'endpoint')} in the last"
            f" {duration(result.last_s)} before {iso(result.now) or '-'}"
        )
        summary = self.table(
            "strategy", "replay s", "entries", "state bytes", "worst error", "bounds hold",
            "parameters", right=("replay s", "entries", "state bytes", "worst error"),
        )  # fmt: skip
        partial = []
        for run in result.runs:
            truth = result.truth(run)
            held = sum(run.bounds_hold(ep, n) for ep, n in truth.items())
            name, _, params = run.strategy.partition("(")
            worst = worst_error(run, truth)
            summary.add_row(
                name + (" (all time)" if run.all_time else ""), f"{run.replay_s:.2f}",
                str(run.memory_entries), str(run.state_bytes),
                "-" if worst is None else f"{worst:.2%}", f"{held}/{len(truth)}",
                params.rstrip(")"),
            )  # fmt: skip
            if missing := incomplete(run, truth):
                partial.append(f"{name} ({missing} of {len(truth)})")
        self.show(summary)
        # An all-time answer sits beside the all-time count it is judged against.
        all_time = any(run.all_time for run in result.runs)
        names = [
            r.strategy.split("(")[0] + (" (all time)" if r.all_time else "") for r in result.runs
        ]
        extra = ["exact, all time"] if all_time else []
        answers = self.table("endpoint", "exact", *extra, *names)
        for endpoint, exact in result.exact.items():
            counts = [_compared(run.answers[endpoint]) for run in result.runs]
            totals = [str(result.totals[endpoint])] if all_time else []
            answers.add_row(endpoint, str(exact), *totals, *counts)
        self.show(answers)
        for run in result.runs:
            if run.late_hits:
                name = run.strategy.partition("(")[0]
                self.warn(
                    f"{name} refused {counted(run.late_hits, 'hit')} as too late (compare"
                    f" replays with the default --max-lateness, {duration(LATENESS_S)}): the"
                    " exact counts take them; its answers do not, and widen their upper"
                    " bounds by them"
                )
        if partial:
            which = ", ".join(partial)
            self.warn(
                f"the window starts before the oldest data some strategies keep: {which}"
                " answers are lower bounds, shown as >=N and left out of the worst error; give"
                " a longer --max-window / --retention"
            )

    def bad_line(self, info: BadLineInfo) -> None:
        """One bad line, as it is met."""
        self.warn(bad_line_text(info))

    def bad_lines_summary(self, report: ReplayReport) -> None:
        """The count of bad lines, when more were skipped than shown."""
        hidden = report.bad_lines - len(report.first_bad)
        if hidden > 0:
            self.warn(f"{counted(hidden, 'more bad line')} skipped; {report.bad_lines} in total")

    def alert(self, event: Event) -> None:
        """One line on stderr per `threshold_exceeded` / `threshold_cleared` event."""
        from hitcount.model.events import THRESHOLD_EXCEEDED  # here: queries print no event

        data = event.payload
        where = f"{safe(data['endpoint'])}: {data['count']} hits in {duration(data['window'])}"
        rule = f"({safe(data['rule'])})"
        if event.name == THRESHOLD_EXCEEDED:
            text = f"hitcount: alert: {where} > {data['limit']} at {iso(data['ts'])} {rule}"
            self.diagnostic(Styled(text, "bold red"))
        else:
            text = (
                f"hitcount: alert cleared: {where} at {iso(data['ts'])},"
                f" <= {data['limit']} for a full window {rule}"
            )
            self.diagnostic(Styled(text, "green"))

    def trace(self, event: Event) -> None:
        """One event on stderr, for `--trace`."""
        details = " ".join(f"{k}={value_text(v)}" for k, v in event.payload.items())
        stamp = iso(event.clock) or "-"
        self.diagnostic(Styled(f"{stamp} ", "dim"), Styled(event.name, "cyan"), " ", details)


def _compared(answer: WindowAnswer) -> str:
    """A strategy's count in compare's table: `>=N` when it is only a lower bound."""
    return number(answer.count) if answer.complete else f">={number(answer.count)}"


def comparison_json(result: Comparison) -> dict[str, Any]:
    """A comparison for `--json`."""
    from hitcount.ops.compare import worst_error

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
                "late_hits": run.late_hits,
                "worst_error": worst_error(run, result.truth(run)),
                "answers": {ep: answer_json(a) for ep, a in run.answers.items()},
            }
            for run in result.runs
        ],
    }


def comparison_rows(result: Comparison) -> list[dict[str, Any]]:
    """A comparison for `--csv`: one row per strategy and compared endpoint."""
    return [
        {
            "strategy": run.strategy,
            "endpoint": endpoint,
            "exact_count": exact,
            "exact_all_time": result.totals[endpoint],
            **answer_json(run.answers[endpoint]),
            "all_time_strategy": run.all_time,
            "replay_s": round(run.replay_s, 6),
            "memory_entries": run.memory_entries,
            "state_bytes": run.state_bytes,
            "last": result.last_s,
            "now": result.now,
        }
        for run in result.runs
        for endpoint, exact in result.exact.items()
    ]

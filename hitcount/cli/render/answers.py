"""Window answers on screen: `query`, `top` and `top --watch`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import TYPE_CHECKING

from hitcount.cli.render.console import Output, TextTable
from hitcount.cli.render.text import (
    Styled,
    answer_text,
    counted,
    distinct_text,
    duration,
    rate_line,
    rate_text,
    window_text,
)
from hitcount.engine.ranking import Ranked
from hitcount.model.metrics import number, upper_bound
from hitcount.model.timeparse import iso
from hitcount.views.json_forms import distinct_json, query_json, ranked_json, rate_json

if TYPE_CHECKING:  # Rich: imported where a table or a live view is drawn (start-up time)
    from rich.console import Group

    from hitcount.engine.queries import DistinctResult, QueryResult
    from hitcount.model.answers import Rate, WindowAnswer

_NUMBERS = ("count", "low", "high")
#: What `watch_top` calls for each refresh: the rows and the strategy's description.
TopFetcher = Callable[[], tuple[list[Ranked], str]]


class AnswerViews(Output):
    """Prints query results: one answer, the busiest endpoints, a redrawn top."""

    def query(
        self,
        result: QueryResult,
        strategy: str,
        users: DistinctResult | None = None,
        known: tuple[float | None, float | None] | None = None,
        ranged: bool = False,
        rate: bool = False,
        per_s: Rate | None = None,
    ) -> None:
        """One window answer (and its distinct users, when asked).

        `known`: the state's horizon and clock, to say where its data begins and ends;
        `ranged`: the window came from --since/--until (said so, not "the last N");
        `rate`: hits per second were asked, `per_s` (None when the answer has no window).
        """
        if self.json_output:
            extra = {**(rate_json(per_s) if rate else {}), **distinct_json(users), **self.keys}
            self.json({**query_json(result, strategy), **extra})
            return
        answer = result.answer
        summary = answer_text(answer, result.last_s, window_text(result.last_s, result.now, ranged))
        self.line(Styled(result.endpoint, "bold"), f": {summary}")
        if rate:
            self.line(Styled(result.endpoint, "bold"), f": {rate_line(per_s)}")
        if len(result.matched) > 1 or result.matched != (result.endpoint,):
            self.note(f"matched {counted(len(result.matched), 'endpoint')}")
        if result.now is not None and not answer.all_time:
            start = iso(result.now - result.last_s)
            self.note(f"window {start} < ts <= {iso(result.now)} · {strategy}")
        horizon, clock = known if known is not None else (None, None)
        self._caveats(answer, horizon)
        if clock is not None and result.now is not None and result.now > clock:
            self.note(
                f"the window ends after the latest hit the state has seen ({iso(clock)}):"
                " it knows nothing of the time after that"
            )
        if users is not None:
            self.line(Styled(users.endpoint, "bold"), f": {distinct_text(users, ranged)}")
            if not users.answer.complete:
                self.warn(
                    "the window starts before the oldest distinct-users bucket kept, so the"
                    " true number may be higher"
                )

    def _caveats(self, answer: WindowAnswer, horizon: float | None = None) -> None:
        if answer.all_time and answer.since is None:
            self.warn("this strategy keeps no time: the answer counts all hits ever recorded")
        elif answer.all_time:
            self.warn(
                "this strategy keeps no time: the answer counts the hits the strategy it was"
                f" swapped from still held, those after {iso(answer.since)}"
            )
        if not answer.complete:
            since = f" (it has no data at or before {iso(horizon)})" if horizon else ""
            self.warn(
                f"the window starts before the oldest data the state keeps{since}, so the"
                " true count may be higher; use a longer --max-window / --retention"
            )

    def top(
        self,
        rows: list[Ranked],
        last_s: float | None,
        strategy: str,
        unheld: WindowAnswer | None = None,
    ) -> None:
        """The busiest endpoints (`last_s` None: a window whose length the clock decides).

        `unheld`: what the window holds of an endpoint the state keeps nothing of; with no
        row, its caveats say whether "no hits" is certain (JSON too: on stderr).
        """
        if self.json_output:
            self.json([{**ranked_json(row, strategy), **self.keys} for row in rows])
            if not rows and unheld is not None:
                self._caveats(unheld)
            return
        self.show(self._top_table(rows))
        results = [row.result for row in rows]
        if not results:
            self.note("no hits in the window" if last_s is None else _no_hits(last_s))
            if unheld is not None:
                self._caveats(unheld)
        if results:
            first = results[0]
            if first.now is not None and not first.answer.all_time:
                start, end = iso(first.now - first.last_s), iso(first.now)
                self.note(f"window {start} < ts <= {end} · {strategy}")
            self._caveats(_combine(r.answer for r in results))

    def _top_table(self, rows: list[Ranked]) -> TextTable:
        users = any(row.users is not None for row in rows)
        extra = ("users",) if users else ()
        table = self.table(
            "endpoint", "count", "low", "high", "exact", "rate/s", *extra,
            right=(*_NUMBERS, "rate/s", *extra),
        )  # fmt: skip
        for row in rows:
            a = row.result.answer
            cells: list[str] = [
                row.result.endpoint,  # the table makes every str cell inert and unambiguous
                number(a.count),
                number(a.low),
                upper_bound(a.high),
                "yes" if a.exact else "no",
                rate_text(row.rate),
            ]
            if users:
                cells.append(f"~{row.users.answer.estimate:,.0f}" if row.users else "-")
            table.add_row(*cells)
        return table

    def watch_top(
        self, fetch: TopFetcher, last_s: float | None, interval_s: float, count: int | None
    ) -> None:
        """Redraw `top` every `interval_s` seconds (`count` times, or until Ctrl-C).

        On a terminal the table is redrawn in place; piped, each refresh is printed after
        the last (one JSON array per line with --json).
        """
        from rich.live import Live

        live = self.draws_live()
        shown = 0
        try:
            with Live(console=self.out, auto_refresh=False) if live else nullcontext() as view:
                while count is None or shown < count:
                    rows, strategy = fetch()
                    if isinstance(view, Live):
                        view.update(self._watch_view(rows, last_s, strategy), refresh=True)
                    elif self.json_output:
                        self.json([{**ranked_json(row, strategy), **self.keys} for row in rows])
                    else:
                        self.line(f"== {iso(time.time())}")
                        self.top(rows, last_s, strategy)
                    shown += 1
                    if count is None or shown < count:
                        time.sleep(interval_s)
        except KeyboardInterrupt:  # the normal way to stop watching
            return

    def _watch_view(self, rows: list[Ranked], last_s: float | None, strategy: str) -> Group:
        first = rows[0].result if rows else None
        window = "no hits"
        if first is not None and first.now is not None:
            window = f"{iso(first.now - first.last_s)} < ts <= {iso(first.now)}"
        from rich.console import Group
        from rich.text import Text

        length = "" if last_s is None else f" · last {duration(last_s)}"
        header = Text(f"top{length} · {window} · {strategy} · Ctrl-C stops")
        return Group(header, self.rich_table(self._top_table(rows)))


def _no_hits(last_s: float) -> str:
    return f"no hits in the last {duration(last_s)}"


def _combine(answers: Iterable[WindowAnswer]) -> WindowAnswer:
    items = list(answers)
    total = items[0]
    for answer in items[1:]:
        total = total + answer
    return total

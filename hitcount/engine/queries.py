"""Answering: window queries, distinct users and `top`, over the counter's strategy.

`Answering` is the query half of `HitCounter` (the recording half is `engine/counter.py`):
every window is `now - N < ts <= now`, `now` defaulting to the replay clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.engine.capping import OVERFLOW_ENDPOINT
from hitcount.errors import ConfigurationError, StateError
from hitcount.model.answers import EMPTY_ANSWER, WindowAnswer
from hitcount.model.arguments import finite_number, of_type
from hitcount.model.globs import select
from hitcount.model.keys import Keying
from hitcount.model.metrics import Metrics
from hitcount.strategies import Strategy

if TYPE_CHECKING:
    from hitcount.model.answers import DistinctAnswer
    from hitcount.sketches.distinct import DistinctTracker

#: How many notable events (not per-hit ones) the state remembers for `hitcount events`.
RECENT_EVENTS = 200


class QueryResult(msgspec.Struct, frozen=True):
    """A window query and its answer: hits of `endpoint` with `now - last_s < ts <= now`.

    Attributes:
        endpoint: the endpoint or glob asked for.
        matched: the endpoints it matched (summed into `answer`).
        last_s: window length in seconds.
        now: end of the window (None when the state has never seen a hit).
        answer: count, bounds and exactness.
    """

    endpoint: str
    matched: tuple[str, ...]
    last_s: float
    now: float | None
    answer: WindowAnswer


class DistinctResult(msgspec.Struct, frozen=True):
    """Distinct users of `endpoint` in `now - last_s < ts <= now`.

    A glob's endpoints are merged: a user seen on several of them counts once.
    """

    endpoint: str
    matched: tuple[str, ...]
    last_s: float
    now: float | None
    answer: DistinctAnswer


class Answering:
    """The queries of a counter: what it needs is its strategy, clock and distinct users."""

    _strategy: Strategy
    _clock: float | None = None
    max_lateness_s: float
    max_endpoints: int | None
    metrics: Metrics
    recent_events: deque[dict[str, Any]]
    stored_sizes: dict[str, int] | None
    keying: Keying
    #: Read in part: whether the store holds any user sketch (None: judge by those read).
    users_stored: bool | None = None

    @property
    def clock(self) -> float | None:
        """The replay clock: the latest timestamp recorded (None: no hit yet)."""
        return self._clock

    @clock.setter
    def clock(self, value: float | None) -> None:
        self._clock = value
        if value is not None:
            self._clock_moved(value)

    def _clock_moved(self, clock: float) -> None:
        """The clock was set or moved on (a counter tells its strategy)."""

    @property
    def strategy(self) -> Strategy:
        """The current strategy (a counter swaps it with `swap_strategy`)."""
        return self._strategy

    _distinct: DistinctTracker | None = None
    _distinct_loader: Callable[[], DistinctTracker | None] | None = None

    @property
    def distinct(self) -> DistinctTracker | None:
        """The distinct-users tracker (None when off); a saved one is decoded on first use."""
        if self._distinct_loader is not None:
            loader, self._distinct_loader = self._distinct_loader, None
            self._distinct = loader()
        return self._distinct

    @distinct.setter
    def distinct(self, tracker: DistinctTracker | None) -> None:
        self._distinct, self._distinct_loader = tracker, None

    def load_distinct_later(self, loader: Callable[[], DistinctTracker | None]) -> None:
        """Decode the tracker only if something asks for it (read-only commands rarely do)."""
        self._distinct, self._distinct_loader = None, loader

    def has_users(self) -> bool:
        """Whether distinct users can be asked: counting is on and some hit carried a user."""
        tracker = self.distinct
        return tracker is not None and self._users_seen(tracker)

    def _users_seen(self, tracker: DistinctTracker) -> bool:
        """Whether some hit kept carried a user (in the store, when read in part)."""
        return self.users_stored if self.users_stored is not None else tracker.has_data()

    def endpoints(self) -> list[str]:
        """Every endpoint with state, sorted."""
        return sorted(self._strategy.endpoints())

    def match(self, pattern: str) -> list[str]:
        """Endpoints equal to `pattern`, or matching it as a glob (`*`, `?`, `[...]`).

        Raises:
            ConfigurationError: `pattern` is not a string.
        """
        of_type(pattern, str, "endpoint", "a string (an endpoint or a glob)")
        return select(pattern, self._strategy.endpoints())

    def query(self, endpoint: str, last_s: float, now: float | None = None) -> QueryResult:
        """Hits of `endpoint` (or of every endpoint matching a glob, summed) in a window.

        Args:
            endpoint: an endpoint, or a glob such as `/api/*`.
            last_s: window length N in seconds; the window is `now - N < ts <= now`.
            now: end of the window in epoch seconds; default: the replay clock.

        Raises:
            ConfigurationError: `last_s` is not a positive number.
        """
        return self.query_of(endpoint, self.match(endpoint), last_s, now)

    def query_of(
        self,
        label: str,
        endpoints: Sequence[str],
        last_s: float,
        now: float | None = None,
        *,
        widen: bool = True,
    ) -> QueryResult:
        """Hits of `endpoints` summed in a window, answered under the name `label`
        (`widen=False`: without a capped state's overflow, for `widen` to add).

        Raises:
            ConfigurationError: `last_s` is not a positive number.
        """  # noqa: D205
        start, end = self._window(last_s, now)
        matched = list(endpoints) if math.isfinite(end) else []
        answer = self.answer_between(matched, start, end, widen=widen)
        return QueryResult(label, tuple(matched), last_s, self._now(now), answer)

    def unheld_answer(self, last_s: float, now: float | None = None) -> WindowAnswer:
        """What a window holds of an endpoint the state keeps nothing of: no hit, certain
        only when the window starts at or after the oldest data kept (else no upper bound;
        over all time, or since its counters started, for a strategy that keeps no time).

        Raises:
            ConfigurationError: `last_s` is not a positive number.
        """  # noqa: D205
        start, _ = self._window(last_s, now)
        return honest(with_refused(self._empty_answer(start), self._refused(start)))

    def widen(self, result: QueryResult) -> QueryResult:
        """A result asked with `widen=False`, its bound taking in the overflow's hits."""
        start, end = self._window(result.last_s, result.now)
        if OVERFLOW_ENDPOINT in result.matched or not math.isfinite(end):
            return result
        answer = widened(result.answer, self._overflow(start, end))
        return msgspec.structs.replace(result, answer=honest(answer))

    def answer_between(
        self, endpoints: Sequence[str], start: float, end: float, *, widen: bool = True
    ) -> WindowAnswer:
        """Hits of `endpoints` summed with `start < ts <= end`, as every answer gives them:
        a capped state's overflow in the window widens them (unless `widen` is false), and
        a window reaching past the data kept has no upper bound (`widened`, `honest`)."""  # noqa: D205, D209
        answer = self._empty_answer(start)
        for name in endpoints:
            answer = answer + self._strategy.query(name, start, end, self._clock_for_query())
        if widen and OVERFLOW_ENDPOINT not in endpoints:
            answer = widened(answer, self._overflow(start, end))
        return honest(with_refused(answer, self._refused(start)))

    def refused_in(self, last_s: float, now: float | None = None) -> int:
        """The hits refused as too late that the window may hold, which no answer counted
        (its upper bound takes them in: `answer_between`).

        Raises:
            ConfigurationError: `last_s` is not a positive number.
        """  # noqa: D205
        start, _ = self._window(last_s, now)
        return self._refused(start)

    def _refused(self, start: float) -> int:
        """The hits refused as too late that a window starting at `start` may hold.

        `ehist` and `auto` refuse hits inside their retention: each was more than
        `max_lateness_s` behind the clock of then (never behind less: docs/semantics.md),
        so none is after `clock - max_lateness_s`. Which endpoint and second each had is
        not kept, so any window reaching before that may hold every one of them. The other
        strategies refuse only hits older than anything they keep (an incomplete window).
        """
        late = self.metrics.late_hits
        if not late or not self._strategy.refuses_inside_retention or self.clock is None:
            return 0
        return late if start < self.clock - self.max_lateness_s else 0

    def _overflow(self, start: float, end: float) -> WindowAnswer | None:
        """What `(other endpoints)` holds in the window of a capped state (None: nothing).

        Its hits may belong to any endpoint not asked for by that name (a name past the cap,
        or one that had none before a place came free), so an answer of other endpoints
        takes its `high` into its own and is no longer exact (`widened`).
        """
        if self.max_endpoints is None or not math.isfinite(end):
            return None
        if OVERFLOW_ENDPOINT not in self._strategy.endpoints():
            return None
        overflow = self._strategy.query(OVERFLOW_ENDPOINT, start, end, self._clock_for_query())
        return overflow if overflow.high > 0 else None

    def query_distinct(
        self, endpoint: str, last_s: float, now: float | None = None, confidence: float = 0.95
    ) -> DistinctResult:
        """Distinct users of `endpoint` (or of a glob's endpoints, counted once) in a window.

        Raises:
            ConfigurationError: `last_s` is not a positive number.
            StateError: distinct counting is off, or no hit recorded so far carried a user.
        """
        return self.query_distinct_of(endpoint, self.match(endpoint), last_s, now, confidence)

    def query_distinct_of(
        self,
        label: str,
        endpoints: Sequence[str],
        last_s: float,
        now: float | None = None,
        confidence: float = 0.95,
    ) -> DistinctResult:
        """Distinct users of `endpoints` (each counted once) in a window, named `label`.

        Raises:
            ConfigurationError: `last_s` is not a positive number.
            StateError: distinct counting is off, or no hit recorded so far carried a user.
        """
        start, end = self._window(last_s, now)
        if not 0 < finite_number(confidence, "confidence", "a probability") < 1:
            raise ConfigurationError(
                f"confidence must be between 0 and 1, got {confidence!r}", param="confidence"
            )
        tracker = self.distinct
        if tracker is None:
            raise StateError(
                "this state keeps no distinct users (replayed with --no-distinct, or"
                " written to Redis by a hitcount that kept no sketches there)",
                hint="replay again without --no-distinct to count distinct users",
            )
        if not self._users_seen(tracker):
            raise StateError(
                "this state has no user data: no hit recorded so far carried a user",
                hint='distinct counts need a user per line (ndjson "user", a csv user'
                " column, or the client host of an access log)",
            )
        matched = list(endpoints) if math.isfinite(end) else []
        answer = tracker.query(matched, start, end, self.clock, confidence)
        if OVERFLOW_ENDPOINT not in matched and self._overflow(start, end) is not None:
            # users of the overflow's hits may be any other endpoint's: the bound takes them
            overflow = tracker.query([OVERFLOW_ENDPOINT], start, end, self.clock, confidence)
            answer = msgspec.structs.replace(answer, high=answer.high + overflow.high)
        horizon = max(tracker.horizon, self._strategy.horizon)
        if start < horizon and answer.complete:
            answer = msgspec.structs.replace(answer, complete=False)
        if not answer.complete:  # users from what was pruned are unknown: no upper bound
            answer = msgspec.structs.replace(answer, high=math.inf)
        return DistinctResult(label, tuple(matched), last_s, self._now(now), answer)

    def top(self, last_s: float, now: float | None = None, limit: int = 10) -> list[QueryResult]:
        """The `limit` endpoints with the most hits in the window, most first."""
        if limit < 1:
            raise ConfigurationError(f"limit must be >= 1, got {limit}", param="limit")
        start, end = self._window(last_s, now)
        clock, overflow = self._clock_for_query(), self._overflow(start, end)
        refused = self._refused(start)
        query = self._strategy.query
        owns = {ep: query(ep, start, end, clock) for ep in self._strategy.endpoints()}
        results = [
            QueryResult(
                ep,
                (ep,),
                last_s,
                self._now(now),
                honest(
                    with_refused(
                        own if ep == OVERFLOW_ENDPOINT else widened(own, overflow), refused
                    )
                ),
            )
            for ep, own in owns.items()
            if own.high > 0  # nothing of its own there for certain: left out
        ]
        results.sort(key=lambda r: (-r.answer.count, r.endpoint))
        return results[:limit]

    def _now(self, now: float | None) -> float | None:
        return self.clock if now is None else now

    def _clock_for_query(self) -> float:
        return self.clock if self.clock is not None else -math.inf

    def _window(self, last_s: float, now: float | None) -> tuple[float, float]:
        if isinstance(last_s, bool) or not (
            isinstance(last_s, int | float) and math.isfinite(last_s) and last_s > 0
        ):
            raise ConfigurationError(
                f"last_s must be a positive number of seconds, got {last_s!r}", param="last_s"
            )
        if now is not None:
            now = finite_number(now, "now", "a finite number of epoch seconds")
        end = self._now(now)
        if end is None:
            return -math.inf, -math.inf
        return end - last_s, end

    def _empty_answer(self, start: float) -> WindowAnswer:
        strategy = self._strategy
        if strategy.retention_s() == math.inf and not strategy.is_exact:  # morris
            horizon = strategy.horizon if math.isfinite(strategy.horizon) else None
            return WindowAnswer(0, 0, 0, True, all_time=True, since=horizon)
        complete = start >= self._strategy.horizon
        return EMPTY_ANSWER if complete else WindowAnswer.exactly(0, complete=False)

    def metrics_dict(self) -> dict[str, Any]:
        """Every metric by name (the counters, sizes, clock, horizon and parameters)."""
        strategy = self._strategy
        horizon = strategy.horizon
        sizes = self.stored_sizes or {}
        return {
            **self.metrics.as_dict(),
            "endpoints_count": sizes.get("endpoints_count", sum(1 for _ in strategy.endpoints())),
            "memory_entries": sizes.get("memory_entries", strategy.memory_entries()),
            "state_bytes": sizes.get("state_bytes", strategy.state_bytes()),
            **{name: sizes[name] for name in ("database_bytes", "wal_bytes") if name in sizes},
            "distinct_bytes": sizes.get(
                "distinct_bytes", self.distinct.memory_bytes() if self.distinct is not None else 0
            ),
            "distinct_precision": self.distinct.precision if self.distinct is not None else None,
            "strategy": strategy.name,
            "strategy_params": dict(strategy.params),
            "clock": self.clock,
            "horizon": horizon if math.isfinite(horizon) else None,
            "max_lateness_s": self.max_lateness_s,
            **({} if self.keying.default else {"keys": self.keying.describe()}),
            "max_endpoints": self.max_endpoints,
        }

    def iter_events(self) -> Iterator[dict[str, Any]]:
        """The remembered notable events, oldest first."""
        return iter(self.recent_events)

    def events_in(self, last_s: float, end: float) -> list[dict[str, Any]]:
        """The remembered events whose clock is in `(end - last_s, end]`, oldest first.

        An event recorded before the state saw any hit has no clock, and is in no window.
        """
        start = end - last_s
        return [
            row
            for row in self.recent_events
            if isinstance(row.get("clock"), (int, float)) and start < row["clock"] <= end
        ]


def widened(answer: WindowAnswer, overflow: WindowAnswer | None) -> WindowAnswer:
    """`answer` with `overflow`'s hits as ones it may also hold: `high` takes them, and it
    is exact no more (None: no overflow in the window)."""  # noqa: D205, D209
    if overflow is None:
        return answer
    confidence = answer.confidence or overflow.confidence  # as a sum of answers holds
    return msgspec.structs.replace(
        answer, high=answer.high + overflow.high, exact=False, confidence=confidence
    )


def with_refused(answer: WindowAnswer, refused: int) -> WindowAnswer:
    """`answer` with `refused` hits the window may hold though no answer counted them:
    `high` takes them in, and it is exact no more (0: none can be there)."""  # noqa: D205, D209
    if not refused:
        return answer
    return msgspec.structs.replace(answer, high=answer.high + refused, exact=False)


def honest(answer: WindowAnswer) -> WindowAnswer:
    """A window reaching past the retained data has no upper bound and is not exact."""
    if answer.complete:
        return answer
    return msgspec.structs.replace(answer, high=math.inf, exact=False)

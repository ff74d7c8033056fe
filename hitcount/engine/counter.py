"""`HitCounter`: records hits through a strategy, keeps the replay clock, answers queries."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Protocol

from hitcount.engine.alerts import AlertRule, Alerts
from hitcount.errors import ConfigurationError, InputError, SwapRefusedError
from hitcount.model import events as ev
from hitcount.model.events import Event, EventBus, Handler
from hitcount.model.hits import MAX_TS, BadLine, Hit, check_endpoint, check_ts, check_user
from hitcount.model.metrics import Metrics
from hitcount.sketches.distinct import DistinctAnswer, DistinctTracker
from hitcount.sketches.hll import DEFAULT_PRECISION
from hitcount.strategies import EMPTY_ANSWER, Strategy, WindowAnswer, create_strategy, get_strategy

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hitcount.model.columns import Columns
    from hitcount.model.positions import InputPosition

#: Default allowance for late lines, in seconds: pruning waits this long past retention.
DEFAULT_MAX_LATENESS_S = 60.0
#: How many notable events (not per-hit ones) the state remembers for `hitcount events`.
RECENT_EVENTS = 200
#: Events remembered for `hitcount events`. `pruned` is left out: one per endpoint and prune,
#: it would crowd out the rest (pruning is counted in `metrics.pruned_events`).
_NOTABLE = (
    ev.ENDPOINT_SWITCHED,
    ev.STRATEGY_SWAPPED,
    ev.STRATEGY_RESET,
    ev.SNAPSHOT_TAKEN,
    ev.SNAPSHOT_RESTORED,
    ev.THRESHOLD_EXCEEDED,
    ev.THRESHOLD_CLEARED,
)
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class QueryResult:
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


@dataclass(frozen=True, slots=True)
class DistinctResult:
    """Distinct users of `endpoint` in `now - last_s < ts <= now`.

    A glob's endpoints are merged: a user seen on several of them counts once.
    """

    endpoint: str
    matched: tuple[str, ...]
    last_s: float
    now: float | None
    answer: DistinctAnswer


class HitCounter:
    """Counts hits per endpoint with a swappable strategy.

    Time is the replay clock: the latest timestamp recorded, in epoch seconds. Queries
    default to it, so an old log gives sensible answers. Example:

        counter = HitCounter("sliding", max_window_s=600)
        counter.record("/api/login", 1700000000.0)
        counter.query("/api/*", last_s=60).answer.count  # 1
    """

    def __init__(
        self,
        strategy: str | Strategy = "fixed",
        *,
        max_lateness_s: float = DEFAULT_MAX_LATENESS_S,
        distinct: bool = True,
        distinct_precision: int = DEFAULT_PRECISION,
        **params: object,
    ) -> None:
        """Create an empty counter.

        Args:
            strategy: a registered strategy name, or a strategy instance.
            max_lateness_s: how late (seconds behind the latest hit) a line may arrive and
                still be counted; pruning keeps this much extra history.
            distinct: keep a distinct-users sketch (HyperLogLog) per endpoint and time
                bucket for hits that carry a user (`query_distinct`).
            distinct_precision: its precision p (4..16; relative error ~1.04/sqrt(2^p)).
            **params: the strategy's parameters (e.g. `window_s=10`).

        Raises:
            UnknownStrategyError: unknown strategy name.
            ConfigurationError: bad parameter.
        """
        self.events = EventBus()
        self._distinct: DistinctTracker | None = None
        self._distinct_loader: Callable[[], DistinctTracker | None] | None = None
        if distinct:
            try:
                self.distinct = DistinctTracker(precision=distinct_precision)
            except ValueError as err:
                raise ConfigurationError(f"--distinct-precision: {err}") from None
        self.set_max_lateness(max_lateness_s)
        self.clock: float | None = None
        self.metrics = Metrics()
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        #: Sizes measured where the state lives, when it is not all in memory (Redis).
        self.stored_sizes: dict[str, int] | None = None
        #: How far into each followed file the state has read, by absolute path.
        self.inputs: dict[str, InputPosition] = {}
        #: Alert rules watched on every hit (None: no rule, no cost); see `add_alert`.
        self.alerts: Alerts | None = None
        self._use(
            strategy if isinstance(strategy, Strategy) else create_strategy(strategy, **params)
        )
        for name in _NOTABLE:
            self.events.subscribe(name, self._remember)

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

    def set_max_lateness(self, max_lateness_s: float) -> None:
        """Change how late (seconds) a hit may arrive; pruning follows from the next hit.

        Raises:
            ConfigurationError: negative or not finite.
        """
        if not (math.isfinite(max_lateness_s) and 0 <= max_lateness_s <= MAX_TS):
            raise ConfigurationError(
                f"--max-lateness must be between 0 and {MAX_TS:g} seconds, got {max_lateness_s!r}"
            )
        self.max_lateness_s = float(max_lateness_s)

    def _use(self, strategy: Strategy) -> None:
        self._strategy = strategy
        #: The last horizon handed to `strategy.prune` (a strategy may keep a later one of
        #: its own after a conversion, yet still have finer parts to prune).
        self._pruned_to = -math.inf

    def continue_with(self, strategy: Strategy) -> None:
        """Go on with `strategy` (e.g. emptied after its hits were shipped to a store).

        Unlike a swap, nothing is converted and no event is emitted; the clock, the
        pruning horizon and the metrics stay.
        """
        self._strategy = strategy

    @property
    def strategy(self) -> Strategy:
        """The current strategy (swap it with `swap_strategy`)."""
        return self._strategy

    def subscribe(self, name: str, handler: Handler) -> Any:
        """Call `handler(event)` for every event `name` (or `"*"` for all); see `events`."""
        return self.events.subscribe(name, handler)

    def add_alert(self, rule: AlertRule | str) -> AlertRule:
        """Watch an alert rule (`"/login>100/60s"`) on every hit recorded from now on.

        Emits `threshold_exceeded` and `threshold_cleared` on log time, exactly whatever
        the strategy; see `hitcount.engine.alerts` for the rule.

        Raises:
            ConfigurationError: a rule that does not parse.
        """
        rule = rule if isinstance(rule, AlertRule) else AlertRule.parse(rule)
        if self.alerts is None:
            self.alerts = Alerts((), self.events.emit, clock=self.clock)
        self.alerts.add(rule)
        return rule

    def _remember(self, event: Event) -> None:
        self.recent_events.append(event.to_dict())

    def _emit(self, name: str, payload: dict[str, Any]) -> None:
        self.events.emit(name, payload, self.clock)

    # -- recording -------------------------------------------------------------------

    def record(self, endpoint: str, ts: float, user: str | None = None) -> bool:
        """Count one hit of `endpoint` at `ts` (epoch seconds).

        Returns:
            False when the hit was older than what the strategy still keeps (counted in
            `metrics.late_hits`), True otherwise.

        Raises:
            InputError: empty or oversized endpoint, or a timestamp that is not finite,
                negative or past year 9999.
        """
        try:
            check_endpoint(endpoint)
            ts = check_ts(float(ts))
            user = check_user(user)
        except (BadLine, TypeError, ValueError) as err:
            raise InputError("record()", str(err)) from None
        return self._record_checked(endpoint, ts, user)

    def _record_checked(self, endpoint: str, ts: float, user: str | None = None) -> bool:
        kept = self._strategy.record(endpoint, ts)
        if kept:
            self.metrics.total_hits += 1
            if user is not None and self.distinct is not None:
                self.distinct.add(endpoint, ts, user)
            if self.events.wants(ev.HIT_RECORDED):
                self._emit(ev.HIT_RECORDED, {"endpoint": endpoint, "ts": ts})
        else:
            self._note_late(endpoint, ts)
        self._advance_clock(ts)
        self._announce_switches()
        self._metrics_updated()
        if self.alerts is not None:
            self.alerts.observe(endpoint, ts)
        return kept

    def record_many(
        self, hits: Iterable[Hit | tuple[str, float] | tuple[str, float, str | None]]
    ) -> int:
        """Count many hits at once (grouped per endpoint; faster than `record` in a loop).

        The resulting state and metrics equal recording the same hits one by one, in the
        same order. Per-hit events are only produced when somebody subscribes to them.

        Returns:
            The number of hits kept.

        Raises:
            InputError: an invalid endpoint or timestamp (nothing is recorded then).
        """
        from hitcount.model.columns import columns_from_hits

        batch = [
            hit if isinstance(hit, Hit) else Hit(hit[0], float(hit[1]), *hit[2:3]) for hit in hits
        ]
        try:
            for hit in batch:
                check_endpoint(hit.endpoint)
                check_ts(float(hit.ts))
                check_user(hit.user)
        except BadLine as bad:
            raise InputError("record_many()", bad.reason) from None
        columns: Columns = columns_from_hits(batch)
        return self.record_columns(columns)

    def record_columns(self, columns: Columns) -> int:
        """Count a columnar batch of checked hits (the NDJSON fast path uses this).

        A hit is late, exactly as with `record`, when it is older than the horizon left
        by the hits before it; the others go to the strategy's `record_columns`.

        Returns:
            The number of hits kept.
        """
        if not len(columns):
            return 0
        if self.wants_each_hit():
            names, codes = columns.names, columns.codes.tolist()
            hits = zip(codes, columns.ts.tolist(), columns.user_list(), strict=True)
            return sum(1 for code, ts, user in hits if self._record_checked(names[code], ts, user))
        late = self._late_mask(columns.ts)
        if self.distinct is not None and columns.has_users():
            self._add_distinct(columns, late)
        if late.any():
            on_time = ~late
            codes, stamps, order = columns.codes[on_time], columns.ts[on_time], None
        else:
            codes, stamps, order = columns.codes, columns.ts, columns.order
        kept = self._strategy.record_columns(columns.names, codes, stamps, order)
        self._finish_batch(len(columns), kept, float(columns.ts.max()))
        if self.alerts is not None:
            self.alerts.observe_columns(columns.names, columns.codes, columns.ts)
        return kept

    def _add_distinct(self, columns: Columns, late: npt.NDArray[np.bool_]) -> None:
        """Users of the kept hits into the tracker (before the batch's prune, as per hit)."""
        import numpy as np

        tracker = self.distinct
        assert tracker is not None
        entries = columns.user_entries
        made_for = None if entries is None else (entries.precision, entries.bucket_s)
        any_late = bool(late.any())
        usable = made_for == (tracker.precision, tracker.bucket_s)
        if entries is not None and usable and not any_late:  # a worker's reduction holds
            tracker.add_entries(columns.names, entries)
            return
        if columns.user_names is not None and columns.user_codes is not None:
            user_names, user_codes = columns.user_names, columns.user_codes
        elif columns.users is not None:
            from hitcount.sketches.sketchlog import code_users

            user_names, user_codes = code_users(columns.users)
        else:
            return
        if any_late:
            user_codes = np.where(late, np.int32(-1), user_codes)  # late hits add no user
        tracker.add_users(columns.names, columns.codes, columns.ts, user_names, user_codes)

    def wants_each_hit(self) -> bool:
        """Whether someone listens to per-hit events (batches then go hit by hit)."""
        return self.events.wants(ev.HIT_RECORDED) or self.events.wants(ev.LATE_DROPPED)

    def _late_mask(self, stamps: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Which hits `record` would refuse: older than the horizon the hits before left."""
        import numpy as np

        retention = self._strategy.retention_s()
        if not math.isfinite(retention):
            return np.zeros(len(stamps), dtype=bool)
        clock = -math.inf if self.clock is None else self.clock
        grid = self._strategy.prune_grid_s()
        # The usual batch: even its oldest hit is on time against the latest horizon any
        # of its hits could face, so none is late (horizons only grow within a batch).
        newest = max(clock, float(stamps.max()))
        latest = max(
            math.floor((newest - retention - self.max_lateness_s) / grid) * grid,
            self._strategy.horizon,
        )
        oldest = np.array([stamps.min()])
        if not self._strategy.late_mask(oldest, np.array([latest]))[0]:
            return np.zeros(len(stamps), dtype=bool)
        before = np.maximum.accumulate(np.concatenate(([clock], stamps[:-1])))
        horizons = np.floor((before - retention - self.max_lateness_s) / grid) * grid
        horizons = np.maximum(horizons, self._strategy.horizon)
        return self._strategy.late_mask(stamps, horizons)

    def _finish_batch(self, hits: int, kept: int, newest: float) -> None:
        self.metrics.total_hits += kept
        self.metrics.late_hits += hits - kept
        self._advance_clock(newest)
        self._announce_switches()
        self._metrics_updated()

    def _announce_switches(self) -> None:
        """Emit `endpoint_switched` for endpoints an adaptive strategy moved to less memory."""
        drain = getattr(self._strategy, "drain_switches", None)
        if drain is None:
            return
        for endpoint in drain():  # drained even when nobody listens, so it cannot grow
            self._emit(ev.ENDPOINT_SWITCHED, {"endpoint": endpoint, "to": "ehist"})

    def _note_late(self, endpoint: str, ts: float) -> None:
        self.metrics.late_hits += 1
        if self.events.wants(ev.LATE_DROPPED):
            payload = {"endpoint": endpoint, "ts": ts, "horizon": self._strategy.horizon}
            self._emit(ev.LATE_DROPPED, payload)

    def _metrics_updated(self) -> None:
        if self.events.wants(ev.METRICS_UPDATED):
            self._emit(
                ev.METRICS_UPDATED,
                {
                    "total_hits": self.metrics.total_hits,
                    "memory_entries": self._strategy.memory_entries(),
                },
            )

    def _advance_clock(self, ts: float) -> None:
        if self.clock is None or ts > self.clock:
            self.clock = ts
        self.prune()
        self._prune_distinct()

    def _prune_distinct(self) -> None:
        """Prune the distinct-users buckets with the strategy's retention, on their grid."""
        tracker = self.distinct
        if tracker is None or self.clock is None:
            return
        retention = self._strategy.retention_s()
        if not math.isfinite(retention):
            retention = tracker.retention_s
        width = tracker.bucket_s
        horizon = math.floor((self.clock - retention - self.max_lateness_s) / width) * width
        tracker.prune(horizon)

    def prune_all(self) -> int:
        """`prune` the strategy, and the distinct-users sketches with the same rule.

        Returns:
            Strategy entries removed.
        """
        removed = self.prune()
        self._prune_distinct()
        return removed

    def prune(self) -> int:
        """Prune what is older than clock - retention - max_lateness (on a fixed grid).

        Returns:
            Entries removed.
        """
        retention = self._strategy.retention_s()
        if self.clock is None or not math.isfinite(retention):
            return 0
        grid = self._strategy.prune_grid_s()
        horizon = math.floor((self.clock - retention - self.max_lateness_s) / grid) * grid
        if horizon <= self._pruned_to:
            return 0
        self._pruned_to = horizon
        removed = self._strategy.prune(horizon)
        total = sum(removed.values())
        self.metrics.pruned_events += total
        if self.events.wants(ev.PRUNED):
            for endpoint, count in removed.items():
                self._emit(ev.PRUNED, {"endpoint": endpoint, "removed": count})
        return total

    # -- answering -------------------------------------------------------------------

    def endpoints(self) -> list[str]:
        """Every endpoint with state, sorted."""
        return sorted(self._strategy.endpoints())

    def match(self, pattern: str) -> list[str]:
        """Endpoints equal to `pattern`, or matching it as a glob (`*`, `?`, `[...]`)."""
        known = self._strategy.endpoints()
        if pattern in known or not _GLOB_CHARS.intersection(pattern):
            return [pattern] if pattern in known else []
        return sorted(ep for ep in known if fnmatchcase(ep, pattern))

    def query(self, endpoint: str, last_s: float, now: float | None = None) -> QueryResult:
        """Hits of `endpoint` (or of every endpoint matching a glob, summed) in a window.

        Args:
            endpoint: an endpoint, or a glob such as `/api/*`.
            last_s: window length N in seconds; the window is `now - N < ts <= now`.
            now: end of the window in epoch seconds; default: the replay clock.

        Raises:
            ConfigurationError: `last_s` is not a positive number.
        """
        start, end = self._window(last_s, now)
        matched = self.match(endpoint) if math.isfinite(end) else []
        answer = self._empty_answer(start)
        for name in matched:
            answer = answer + self._strategy.query(name, start, end, self._clock_for_query())
        return QueryResult(endpoint, tuple(matched), last_s, self._now(now), _honest(answer))

    def query_distinct(
        self, endpoint: str, last_s: float, now: float | None = None, confidence: float = 0.95
    ) -> DistinctResult:
        """Distinct users of `endpoint` (or of a glob's endpoints, counted once) in a window.

        Raises:
            ConfigurationError: `last_s` is not a positive number.
            StateError: distinct counting is off, or no hit recorded so far carried a user.
        """
        from hitcount.errors import StateError

        start, end = self._window(last_s, now)
        tracker = self.distinct
        if tracker is None:
            raise StateError(
                "this state keeps no distinct users (replayed with --no-distinct,"
                " or kept in a Redis store, which has no distinct-user sketches yet)",
                hint="replay again without --no-distinct to count distinct users",
            )
        if not tracker.has_data():
            raise StateError(
                "this state has no user data: no hit recorded so far carried a user",
                hint='distinct counts need a user per line (ndjson "user", a csv user'
                " column, or the client host of an access log)",
            )
        matched = self.match(endpoint) if math.isfinite(end) else []
        answer = tracker.query(matched, start, end, self.clock, confidence)
        horizon = max(tracker.horizon, self._strategy.horizon)
        if start < horizon and answer.complete:
            answer = dataclasses.replace(answer, complete=False)
        if not answer.complete:  # users from what was pruned are unknown: no upper bound
            answer = dataclasses.replace(answer, high=math.inf)
        return DistinctResult(endpoint, tuple(matched), last_s, self._now(now), answer)

    def top(self, last_s: float, now: float | None = None, limit: int = 10) -> list[QueryResult]:
        """The `limit` endpoints with the most hits in the window, most first."""
        if limit < 1:
            raise ConfigurationError(f"--limit must be >= 1, got {limit}")
        start, end = self._window(last_s, now)
        clock = self._clock_for_query()
        results = [
            QueryResult(
                ep,
                (ep,),
                last_s,
                self._now(now),
                _honest(self._strategy.query(ep, start, end, clock)),
            )
            for ep in self._strategy.endpoints()
        ]
        results.sort(key=lambda r: (-r.answer.count, r.endpoint))
        return [r for r in results[:limit] if r.answer.high > 0]

    def _now(self, now: float | None) -> float | None:
        return self.clock if now is None else now

    def _clock_for_query(self) -> float:
        return self.clock if self.clock is not None else -math.inf

    def _window(self, last_s: float, now: float | None) -> tuple[float, float]:
        if not (isinstance(last_s, (int, float)) and math.isfinite(last_s) and last_s > 0):
            raise ConfigurationError(f"--last must be a positive number of seconds, got {last_s!r}")
        if now is not None and not math.isfinite(now):
            raise ConfigurationError(f"--now must be finite, got {now!r}")
        end = self._now(now)
        if end is None:
            return -math.inf, -math.inf
        return end - last_s, end

    def _empty_answer(self, start: float) -> WindowAnswer:
        if self._strategy.retention_s() == math.inf and not self._strategy.is_exact:
            return WindowAnswer(0, 0, 0, True, all_time=True)
        complete = start >= self._strategy.horizon
        return EMPTY_ANSWER if complete else WindowAnswer.exactly(0, complete=False)

    # -- strategy swaps ----------------------------------------------------------------

    def swap_strategy(self, name: str, *, reset: bool = False, **params: object) -> Strategy:
        """Replace the strategy, converting what the state holds (downhill only).

        Args:
            name: the new strategy.
            reset: when the conversion would need information the state no longer has,
                start the new strategy empty (emits `strategy_reset`) instead of refusing.
            **params: the new strategy's parameters.

        Raises:
            SwapRefusedError: the conversion is impossible and `reset` is False.
            UnknownStrategyError, ConfigurationError: bad name or parameters.
        """
        target = get_strategy(name)
        old = self._strategy
        try:
            new = target.convert(old, params)
        except SwapRefusedError as refusal:
            if not reset:
                raise
            new = target(**params)
            # It knows nothing of what came before: windows reaching back past now are
            # incomplete, not an exact zero.
            known_from = self.clock if self.clock is not None else -math.inf
            new.horizon = max(old.horizon, new.horizon, known_from)
            self._use(new)
            self._emit(
                ev.STRATEGY_RESET,
                {"from": old.describe(), "to": new.describe(), "reason": refusal.message},
            )
        else:
            self._use(new)
            self._emit(ev.STRATEGY_SWAPPED, {"old": old.describe(), "new": new.describe()})
        self._announce_switches()
        self.prune()
        return new

    # -- snapshots -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Deprecated: use `hitcount.take_snapshot(counter)` (kept for one release)."""
        warnings.warn(
            "HitCounter.snapshot() is deprecated: use hitcount.take_snapshot(counter)",
            DeprecationWarning,
            stacklevel=2,
        )
        return _document_codec().take(self)

    def restore(self, document: dict[str, Any]) -> None:
        """Deprecated: use `hitcount.restore_snapshot(counter, document)` (one release)."""
        warnings.warn(
            "HitCounter.restore() is deprecated: use hitcount.restore_snapshot(counter, document)",
            DeprecationWarning,
            stacklevel=2,
        )
        _document_codec().restore(self, document)

    def snapshot_taken(self) -> None:
        """Emit `snapshot_taken` (the document format, a layer above, calls this)."""
        endpoints = sum(1 for _ in self._strategy.endpoints())
        self._emit(ev.SNAPSHOT_TAKEN, {"endpoints_count": endpoints})

    def replace_with(self, other: HitCounter) -> None:
        """Take over `other`'s state (strategy, clock, metrics); keep subscriptions."""
        self._use(other._strategy)
        self.distinct = other.distinct
        self.clock = other.clock
        self.max_lateness_s = other.max_lateness_s
        self.metrics = other.metrics
        self.recent_events = other.recent_events
        self.inputs = other.inputs
        self._emit(ev.SNAPSHOT_RESTORED, {})

    # -- metrics -----------------------------------------------------------------------

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
            "distinct_bytes": self.distinct.memory_bytes() if self.distinct is not None else 0,
            "strategy": strategy.name,
            "strategy_params": dict(strategy.params),
            "clock": self.clock,
            "horizon": horizon if math.isfinite(horizon) else None,
            "max_lateness_s": self.max_lateness_s,
        }

    def iter_events(self) -> Iterator[dict[str, Any]]:
        """The remembered notable events, oldest first."""
        return iter(self.recent_events)


class DocumentCodec(Protocol):
    """The document format, as the deprecated `snapshot`/`restore` methods reach it."""

    def take(self, counter: HitCounter) -> dict[str, Any]:
        """The counter's snapshot document."""

    def restore(self, counter: HitCounter, document: dict[str, Any]) -> None:
        """Replace the counter's state with a document's."""


_codec: list[DocumentCodec] = []


def register_document_codec(codec: DocumentCodec) -> None:
    """Called once by `hitcount.persist.document`, which owns the format (a layer above)."""
    _codec[:] = [codec]


def _document_codec() -> DocumentCodec:
    if not _codec:
        raise RuntimeError("import hitcount (or hitcount.persist.document) first")
    return _codec[0]


def _honest(answer: WindowAnswer) -> WindowAnswer:
    """A window reaching past the retained data has no upper bound and is not exact."""
    if answer.complete:
        return answer
    return dataclasses.replace(answer, high=math.inf, exact=False)


_default_counter: HitCounter | None = None


def default_counter() -> HitCounter:
    """A process-wide counter for quick scripts (in memory, `fixed` strategy).

    Libraries and the CLI never use it; create your own `HitCounter` when you need more
    than one or a saved state.
    """
    global _default_counter
    if _default_counter is None:
        _default_counter = HitCounter()
    return _default_counter

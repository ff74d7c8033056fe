"""`HitCounter`: records hits through a strategy, keeps the replay clock, answers queries."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hitcount.engine.alerts import AlertRule, Alerts, HitObserver
from hitcount.engine.batches import add_users, horizon_at, late_mask, record_on_time
from hitcount.engine.capping import capped_columns, capped_endpoint
from hitcount.engine.codec import DeprecatedSnapshots
from hitcount.engine.queries import RECENT_EVENTS as RECENT_EVENTS  # re-exported
from hitcount.engine.queries import Answering
from hitcount.engine.swaps import Swap, swap
from hitcount.errors import ConfigurationError, InputError
from hitcount.model import events as ev
from hitcount.model.arguments import finite_number
from hitcount.model.events import Event, EventBus, Handler
from hitcount.model.hits import (
    MAX_TS,
    BadLine,
    Hit,
    as_seconds,
    check_endpoint,
    check_ts,
    check_user,
    hit_of,
)
from hitcount.model.keys import Keying
from hitcount.model.metrics import Metrics, plain
from hitcount.sketches.distinct import DistinctTracker
from hitcount.sketches.hll import DEFAULT_PRECISION
from hitcount.strategies import Strategy, create_strategy

if TYPE_CHECKING:
    from hitcount.model.columns import Columns
    from hitcount.model.positions import InputPosition

#: Default allowance for late lines, in seconds: pruning waits this long past retention.
DEFAULT_MAX_LATENESS_S = 60.0
#: At most this many events wait for a store with a whole event log (SQLite) between saves.
UNSAVED_EVENTS = 100_000


class HitCounter(Answering, DeprecatedSnapshots):
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
        self._distinct, self._distinct_loader = None, None
        if distinct:
            try:
                self.distinct = DistinctTracker(precision=distinct_precision)
            except ValueError as err:
                raise ConfigurationError(
                    f"distinct_precision: {err}", param="distinct_precision"
                ) from err
        self.set_max_lateness(max_lateness_s)  # the clock: None (`Answering`) until a hit
        self.metrics = Metrics()
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        #: Every event since the state was loaded or last saved (a store's event log).
        self.unsaved_events: deque[dict[str, Any]] = deque(maxlen=UNSAVED_EVENTS)
        #: Sizes measured where the state lives, when it is not all in memory (Redis).
        self.stored_sizes: dict[str, int] | None = None
        #: How far into each replayed file the state has read, by real path.
        self.inputs: dict[str, InputPosition] = {}
        #: The saved alert tracks (`Alerts.to_state`): taken back by the rules watched again.
        self.alert_tracks: list[dict[str, Any]] = []
        #: Observers shown every hit recorded, in arrival order (alerts); see `observe_hits`.
        self._observers: list[HitObserver] = []
        #: What counts as the endpoint (`--key`...); `max_endpoints` by name (`capping`).
        self.keying = Keying()
        self.max_endpoints: int | None = None
        self._use(
            strategy if isinstance(strategy, Strategy) else create_strategy(strategy, **params)
        )
        for name in ev.REMEMBERED:
            self.events.subscribe(name, self._remember)

    def set_max_lateness(self, max_lateness_s: float) -> None:
        """Change how late (seconds) a hit may arrive; pruning follows from the next hit.

        Raises:
            ConfigurationError: negative or not finite.
        """
        seconds = finite_number(max_lateness_s, "max_lateness_s", "a number of seconds")
        if not 0 <= seconds <= MAX_TS:
            raise ConfigurationError(
                f"max_lateness_s must be between 0 and {plain(MAX_TS)} seconds,"
                f" got {max_lateness_s!r}",
                param="max_lateness_s",
            )
        self.max_lateness_s = seconds
        if hasattr(self, "_strategy"):
            self.lateness_note = self._strategy.allow_lateness(self.max_lateness_s)

    def _use(self, strategy: Strategy) -> None:
        self._strategy = strategy
        if self.clock is not None:  # a swap, or a load: the late edge follows the clock
            strategy.note_clock(self.clock)
        #: What the strategy adjusted to keep every hit inside the lateness allowance.
        self.lateness_note = strategy.allow_lateness(self.max_lateness_s)
        #: The last horizon handed to `strategy.prune` (it may keep a later one of its own).
        self._pruned_to = -math.inf

    def continue_with(self, strategy: Strategy) -> None:
        """Go on with `strategy` (e.g. emptied after its hits were shipped to a store).

        Unlike a swap, nothing is converted and no event is emitted; the clock, the
        pruning horizon and the metrics stay.
        """
        self._strategy = strategy
        strategy.allow_lateness(self.max_lateness_s)

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
        alerts = self.alerts
        if alerts is None:
            alerts = Alerts((), self.events.emit, clock=self.clock)
            self.observe_hits(alerts)
        alerts.add(rule)
        alerts.restore(self.alert_tracks)
        return rule

    def saved_alerts(self) -> list[dict[str, Any]]:
        """The alert tracks to save: those watched now, and the saved ones of other rules."""
        alerts = self.alerts
        return self.alert_tracks if alerts is None else alerts.to_state(self.alert_tracks)

    @property
    def alerts(self) -> Alerts | None:
        """The alert rules watched (None when `add_alert` was never called: no cost)."""
        return next((o for o in self._observers if isinstance(o, Alerts)), None)

    def observe_hits(self, observer: HitObserver) -> None:
        """Show `observer` every hit recorded from now on, kept or late, in arrival order."""
        self._observers.append(observer)

    def _remember(self, event: Event) -> None:
        row = event.to_dict()
        self.recent_events.append(row)
        self.unsaved_events.append(row)

    def _emit(self, name: str, payload: dict[str, Any]) -> None:
        self.events.emit(name, payload, self._clock)

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
            ts = check_ts(as_seconds(ts))
            user = check_user(user)
        except BadLine as bad:
            raise InputError("record()", bad.reason) from bad
        return self._record_checked(endpoint, ts, user)

    def _record_checked(self, endpoint: str, ts: float, user: str | None = None) -> bool:
        if self.max_endpoints is not None:
            endpoint = capped_endpoint(endpoint, self._strategy.endpoints(), self.max_endpoints)
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
        for observer in self._observers:
            observer.observe(endpoint, ts)
        return kept

    def record_parsed(self, hits: Iterable[Hit]) -> int:
        """Count hits a format's parser made (checked there), in order; returns those kept."""
        return sum(1 for hit in hits if self._record_checked(hit.endpoint, hit.ts, hit.user))

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
        from hitcount.model.columns import columns_from_hits  # numpy at import: batches only

        batch = []
        if not isinstance(hits, Iterable):
            raise InputError(
                "record_many()", f"hits must be an iterable, got {type(hits).__name__}"
            )
        try:
            for index, hit in enumerate(hits):
                given = hit if isinstance(hit, Hit) else hit_of(index, hit)
                check_endpoint(given.endpoint)
                check_ts(as_seconds(given.ts))
                user = check_user(given.user)  # an integer user is kept as text, as `record`
                batch.append(given if user is given.user else Hit(given.endpoint, given.ts, user))
        except BadLine as bad:
            raise InputError("record_many()", bad.reason) from bad
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
        late = late_mask(self._strategy, self._clock, self.max_lateness_s, columns.ts)
        if self.max_endpoints is not None:
            columns = capped_columns(columns, late, self._strategy.endpoints(), self.max_endpoints)
        if self.distinct is not None and columns.has_users():
            add_users(self.distinct, columns, late)
        kept = record_on_time(self._strategy, columns, late, reduced_ok=self.max_endpoints is None)
        self._finish_batch(len(columns), kept, float(columns.ts.max()))
        for observer in self._observers:
            observer.observe_columns(columns.names, columns.codes, columns.ts)
        return kept

    def wants_each_hit(self) -> bool:
        """Whether someone listens to per-hit events (batches then go hit by hit)."""
        return self.events.wants(ev.HIT_RECORDED) or self.events.wants(ev.LATE_DROPPED)

    def _finish_batch(self, hits: int, kept: int, newest: float) -> None:
        self.metrics.total_hits += kept
        self.metrics.late_hits += hits - kept
        self._advance_clock(newest)
        self._announce_switches()
        self._metrics_updated()

    def _announce_switches(self) -> None:
        drain = getattr(self._strategy, "drain_switches", None)
        if drain is not None:  # drained even when nobody listens, so it cannot grow
            self.announce_switches(drain())

    def announce_switches(self, switches: Iterable[tuple[str, float]]) -> None:
        """Emit `endpoint_switched` for endpoints an adaptive strategy moved to less memory
        (its own, or a store's copy of it: a Redis append), dated at the hit that passed
        the budget (the event's clock), not at the end of the batch that held it."""  # noqa: D205, D209
        for endpoint, at in switches:
            self.events.emit(ev.ENDPOINT_SWITCHED, {"endpoint": endpoint, "to": "ehist"}, at)

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

    def _clock_moved(self, clock: float) -> None:
        if hasattr(self, "_strategy"):
            self._strategy.note_clock(clock)

    def _advance_clock(self, ts: float) -> None:  # hot: `_clock` read, the property set
        if self._clock is None or ts > self._clock:
            self.clock = ts
        self.prune()
        self._prune_distinct()

    def _prune_distinct(self) -> None:
        """Prune the distinct-users buckets with the strategy's retention, on their grid."""
        tracker = self.distinct
        if tracker is None or self._clock is None:
            return
        retention = self._strategy.retention_s()
        if not math.isfinite(retention):
            retention = tracker.retention_s
        tracker.prune(horizon_at(self._clock, retention, self.max_lateness_s, tracker.bucket_s))

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
        if self._clock is None or not math.isfinite(retention):
            return 0
        horizon = horizon_at(
            self._clock, retention, self.max_lateness_s, self._strategy.prune_grid_s()
        )
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
        return self.apply_swap(self.plan_swap(name, reset=reset, **params))

    def plan_swap(self, name: str, *, reset: bool = False, **params: object) -> Swap:
        """The swap `swap_strategy` would make, with what it would drop; nothing changes.

        Raises:
            SwapRefusedError, UnknownStrategyError, ConfigurationError: as `swap_strategy`.
        """
        clock, lateness = self._clock, self.max_lateness_s
        return swap(self._strategy, name, params, reset=reset, clock=clock, lateness=lateness)

    def apply_swap(self, plan: Swap) -> Strategy:
        """Go on with the planned strategy (emits its event) and prune it."""
        self._use(plan.strategy)
        self._emit(plan.event, plan.payload)
        self._announce_switches()
        self.prune()
        return plan.strategy

    def snapshot_taken(self) -> None:
        """Emit `snapshot_taken` (the document format, a layer above, calls this)."""
        endpoints = sum(1 for _ in self._strategy.endpoints())
        self._emit(ev.SNAPSHOT_TAKEN, {"endpoints_count": endpoints})

    def replace_with(self, other: HitCounter) -> None:
        """Take over `other`'s state (strategy, clock, metrics); keep subscriptions."""
        self._use(other._strategy)
        self.distinct = other.distinct
        self.clock = other.clock
        self.set_max_lateness(other.max_lateness_s)
        self.metrics = other.metrics
        self.recent_events = other.recent_events
        self.unsaved_events.clear()
        self.inputs = other.inputs
        self.keying = other.keying
        self.max_endpoints = other.max_endpoints
        self.alert_tracks = other.saved_alerts()  # a burst in progress goes on
        self._emit(ev.SNAPSHOT_RESTORED, {})


_default_counter: HitCounter | None = None


def default_counter() -> HitCounter:
    """A process-wide counter for quick scripts (in memory, `fixed`); the CLI never uses it."""
    global _default_counter
    if _default_counter is None:
        _default_counter = HitCounter()
    return _default_counter

"""HitCounter: events, metrics, swaps, globs and input checks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import hitcount
from hitcount import (
    ConfigurationError,
    Hit,
    HitCounter,
    InputError,
    SwapRefusedError,
    default_counter,
    restore_snapshot,
    take_snapshot,
)
from hitcount.model import events as ev
from hitcount.model.events import EVENT_FIELDS, Event, EventBus
from tests.conftest import Oracle

T0 = 1_767_225_600.0


def _collect(counter: HitCounter, name: str = ev.ALL) -> list[Event]:
    seen: list[Event] = []
    counter.subscribe(name, seen.append)
    return seen


def test_subscribers_get_events_in_order_with_their_fields() -> None:
    counter = HitCounter("sliding", max_window_s=10, max_lateness_s=0)
    seen = _collect(counter)
    for i in range(40):
        counter.record("/a", T0 + i)
    counter.swap_strategy("fixed", window_s=5)
    take_snapshot(counter)
    names = [event.name for event in seen]
    assert names[0] == ev.HIT_RECORDED
    assert names[1] == ev.METRICS_UPDATED
    assert ev.PRUNED in names
    assert names[-2:] == [ev.STRATEGY_SWAPPED, ev.SNAPSHOT_TAKEN]
    for event in seen:
        assert set(event.payload) == set(EVENT_FIELDS[event.name]), event
    hits = [e.payload["ts"] for e in seen if e.name == ev.HIT_RECORDED]
    assert hits == [T0 + i for i in range(40)]


def test_subscription_by_name_only_gets_that_event_and_can_be_removed() -> None:
    counter = HitCounter("fixed")
    seen: list[Event] = []
    unsubscribe = counter.subscribe(ev.HIT_RECORDED, seen.append)
    counter.record("/a", T0)
    unsubscribe()
    counter.record("/a", T0 + 1)
    assert [e.name for e in seen] == [ev.HIT_RECORDED]


def test_unknown_event_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown event"):
        EventBus().subscribe("hit_recordd", print)


def test_no_subscriber_means_no_payload_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    original = EventBus.emit

    def spy(
        self: EventBus, name: str, payload: dict[str, object], clock: float | None = None
    ) -> None:
        built.append(name)
        original(self, name, payload, clock)

    monkeypatch.setattr(EventBus, "emit", spy)
    counter = HitCounter("sliding", max_window_s=5, max_lateness_s=0)
    for i in range(100):
        counter.record("/a", T0 + i)
    counter.record_many(("/b", T0 + 100 + i) for i in range(100))
    # Only the notable events the counter remembers for `hitcount events` are built.
    assert ev.HIT_RECORDED not in built
    assert ev.METRICS_UPDATED not in built
    assert set(built) <= {ev.PRUNED}


def test_metrics_count_hits_prunes_and_late_lines() -> None:
    counter = HitCounter("sliding", max_window_s=10, max_lateness_s=5)
    pruned = _collect(counter, ev.PRUNED)
    for i in range(100):
        counter.record("/a", T0 + i)
    assert counter.record("/a", T0 + 1) is False  # long pruned: too late
    m = counter.metrics_dict()
    assert m["total_hits"] == 100
    assert m["late_hits"] == 1
    assert m["pruned_events"] == sum(e.payload["removed"] for e in pruned)
    assert m["pruned_events"] + m["memory_entries"] == 100
    for name in ("endpoints_count", "memory_entries", "state_bytes", "strategy", "bad_lines"):
        assert name in m


def test_record_many_equals_record_one_by_one_for_answers() -> None:
    hits = [(f"/e{i % 3}", T0 + (i * 7919) % 500) for i in range(600)]
    one = HitCounter("fixed", window_s=10)
    for endpoint, ts in hits:
        one.record(endpoint, ts)
    many = HitCounter("fixed", window_s=10)
    assert many.record_many(hits) == 600
    assert many.strategy.to_state() == one.strategy.to_state()
    assert many.metrics == one.metrics


@pytest.mark.parametrize(
    ("endpoint", "ts"),
    [
        ("", T0),
        ("/a", float("nan")),
        ("/a", float("inf")),
        ("/a", -1.0),
        ("x" * 5000, T0),
        ("/a", 1e13),
        ("/a", "1700000000"),  # a string, even of a number: formats parse text times
        ("/a", "2023-11-14T22:13:20Z"),
        ("/a", None),
        ("/a", True),
        ("/a", 10**400),  # too large for a float
    ],
)
def test_record_rejects_bad_input_without_changing_state(endpoint: str, ts: object) -> None:
    counter = HitCounter("sliding")
    with pytest.raises(InputError, match=r"^record"):
        counter.record(endpoint, ts)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"^record_many"):
        counter.record_many([("/ok", T0), (endpoint, ts)])  # type: ignore[list-item]
    assert counter.metrics.total_hits == 0
    assert counter.clock is None


@pytest.mark.parametrize("item", [("/a",), ("/a", T0, "u", 4), "/a", 17, None])
def test_record_many_names_an_item_that_is_not_a_hit(item: object) -> None:
    counter = HitCounter("sliding")
    with pytest.raises(InputError, match=r"item 1 is not a Hit or \(endpoint, ts\[, user\]\)"):
        counter.record_many([("/ok", T0), item])  # type: ignore[list-item]
    assert counter.metrics.total_hits == 0


def test_replay_takes_one_path_as_one_input(tmp_path: Path) -> None:
    log = tmp_path / "one.ndjson"
    log.write_text(f'{{"endpoint": "/a", "ts": {T0}}}\n{{"endpoint": "/b", "ts": {T0 + 1}}}\n')
    for source in (str(log), log):
        counter = HitCounter("sliding")
        hitcount.replay(counter, source)  # type: ignore[arg-type]
        assert counter.metrics.total_hits == 2


def test_glob_query_sums_matching_endpoints() -> None:
    hits = [("/api/a", T0 + 1), ("/api/b", T0 + 2), ("/api/b", T0 + 3), ("/web", T0 + 3)]
    counter = HitCounter("sliding")
    counter.record_many(hits)
    result = counter.query("/api/*", 60)
    assert result.matched == ("/api/a", "/api/b")
    assert result.answer.count == 3
    assert counter.query("/api/?", 60).answer.count == 3
    assert counter.query("/nope/*", 60).answer.count == 0
    assert counter.query("/api", 60).matched == ()


def test_top_orders_by_count_then_name_and_limits() -> None:
    counter = HitCounter("sliding")
    counter.record_many([("/b", T0)] * 3 + [("/a", T0)] * 3 + [("/c", T0)])
    top = counter.top(60, limit=2)
    assert [(r.endpoint, r.answer.count) for r in top] == [("/a", 3), ("/b", 3)]


def test_swap_sliding_to_fixed_keeps_every_retained_hit_in_its_bucket() -> None:
    hits = [("/a", T0 + i * 1.7) for i in range(300)]
    counter = HitCounter("sliding", max_window_s=10_000)
    counter.record_many(hits)
    swaps = _collect(counter, ev.STRATEGY_SWAPPED)
    counter.swap_strategy("fixed", window_s=10, retention_s=10_000)
    assert swaps[0].payload["old"].startswith("sliding")
    oracle = Oracle(hits)
    clock = counter.clock or 0.0
    for last in (5, 50, 333):
        answer = counter.query("/a", last).answer
        assert answer.low <= oracle.count("/a", clock - last, clock) <= answer.high
    assert counter.query("/a", 10_000).answer.count == 300


def test_swap_fixed_to_a_multiple_regroups_and_to_a_non_multiple_refuses() -> None:
    counter = HitCounter("fixed", window_s=10)
    counter.record_many(("/a", T0 + i) for i in range(100))
    counter.swap_strategy("fixed", window_s=30)
    assert counter.strategy.totals() == {"/a": 100}
    with pytest.raises(SwapRefusedError, match="whole multiple"):
        counter.swap_strategy("fixed", window_s=45)
    assert counter.strategy.params["window_s"] == 30  # refused swaps change nothing


def test_uphill_swap_refuses_unless_reset_which_emits_strategy_reset() -> None:
    counter = HitCounter("fixed")
    counter.record_many(("/a", T0 + i) for i in range(10))
    resets = _collect(counter, ev.STRATEGY_RESET)
    with pytest.raises(SwapRefusedError):
        counter.swap_strategy("sliding")
    assert counter.strategy.name == "fixed"
    counter.swap_strategy("sliding", reset=True)
    assert counter.strategy.name == "sliding"
    assert counter.query("/a", 3600).answer.count == 0
    assert resets[0].payload["from"].startswith("fixed")
    assert counter.metrics.total_hits == 10  # the history of what was recorded stays


def test_swap_to_morris_estimates_the_converted_totals() -> None:
    counter = HitCounter("sliding")
    counter.record_many(("/a", T0 + i * 0.1) for i in range(3000))
    counter.swap_strategy("morris", base=1.05, counters=16, seed=1)
    answer = counter.query("/a", 1).answer
    assert answer.all_time
    assert answer.low <= 3000 <= answer.high


def test_restore_replaces_state_and_keeps_subscribers() -> None:
    counter = HitCounter("fixed")
    counter.record_many(("/a", T0 + i) for i in range(10))
    document = take_snapshot(counter)
    counter.record_many(("/b", T0 + 20 + i) for i in range(10))
    restored = _collect(counter, ev.SNAPSHOT_RESTORED)
    restore_snapshot(counter, document)
    assert counter.metrics.total_hits == 10
    assert counter.endpoints() == ["/a"]
    assert len(restored) == 1
    counter.record("/c", T0 + 40)
    assert counter.metrics.total_hits == 11


def test_default_counter_is_one_per_process() -> None:
    assert default_counter() is default_counter()


def test_after_a_reset_old_windows_are_unknown_not_zero() -> None:
    counter = HitCounter("morris")
    counter.record_many(("/a", T0 + i) for i in range(50))
    counter.swap_strategy("sliding", reset=True)
    answer = counter.query("/a", 3600).answer
    assert not answer.complete and not answer.exact
    assert answer.high == math.inf


def test_distinct_users_past_retention_have_no_upper_bound() -> None:
    counter = HitCounter("sliding", max_window_s=60, max_lateness_s=0)
    counter.record_many([Hit("/a", T0 + i, f"u{i}") for i in range(600)])
    inside = counter.query_distinct("/a", 60).answer
    assert inside.complete and math.isfinite(inside.high)
    past = counter.query_distinct("/a", 600).answer
    assert not past.complete
    assert past.high == math.inf


def test_the_deprecated_snapshot_methods_warn_and_still_work() -> None:
    counter = HitCounter("fixed")
    counter.record_many(("/a", T0 + i) for i in range(10))
    with pytest.warns(DeprecationWarning, match="take_snapshot"):
        document = counter.snapshot()
    counter.record("/b", T0 + 20)
    with pytest.warns(DeprecationWarning, match="restore_snapshot"):
        counter.restore(document)
    assert counter.metrics.total_hits == 10
    assert counter.endpoints() == ["/a"]


def test_record_many_of_something_not_iterable_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"record_many\(\): hits must be an iterable"):
        HitCounter("sliding").record_many(None)  # type: ignore[arg-type]

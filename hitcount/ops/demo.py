"""The five scenarios of the original design, deterministic, on a simulated clock."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hitcount.engine import HitCounter
from hitcount.errors import SwapRefusedError
from hitcount.model import events as ev
from hitcount.model.events import Event
from hitcount.model.metrics import plain
from hitcount.persist.document import restore_snapshot, take_snapshot

#: The simulated clock starts here: 2026-01-01T00:00:00Z.
T0 = 1767225600.0


@dataclass
class Scenario:
    """One scenario's story: what it did, what it saw, and whether the check held."""

    number: int
    title: str
    lines: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Events left out of the trace (see `listen`'s `most`), by name.
    untraced: dict[str, int] = field(default_factory=dict)
    passed: bool = True

    def say(self, text: str) -> None:
        """Add one line to the story."""
        self.lines.append(text)

    def expect(self, condition: bool, text: str) -> None:
        """Record a check; the scenario fails if any check is false."""
        self.passed = self.passed and condition
        self.say(f"{'ok' if condition else 'FAILED'}: {text}")

    def listen(
        self, counter: HitCounter, *, skip: tuple[str, ...] = (), most: int | None = None
    ) -> None:
        """Keep the events of `counter` (except `skip`) in this scenario's trace.

        `most`: keep at most this many of each name (the trace of a busy scenario stays
        readable); the others are counted in `self.untraced`.
        """
        seen: dict[str, int] = {}

        def keep(event: Event) -> None:
            if event.name in skip:
                return
            seen[event.name] = seen.get(event.name, 0) + 1
            if most is None or seen[event.name] <= most:
                self.events.append(event.to_dict())
            else:
                self.untraced[event.name] = self.untraced.get(event.name, 0) + 1

        counter.subscribe(ev.ALL, keep)


def fixed_window() -> Scenario:
    """1. Fixed window: record hits, query a window, see exact and boundary buckets."""
    s = Scenario(1, "Fixed window record and query")
    counter = HitCounter("fixed", window_s=10)
    s.listen(counter, skip=(ev.METRICS_UPDATED,))
    offsets = (0, 3, 7, 12, 15, 21, 28, 29)
    for offset in offsets:
        counter.record("/api/login", T0 + offset)
    answer = counter.query("/api/login", last_s=20).answer
    true = sum(1 for offset in offsets if 9 < offset <= 29)
    s.say("8 hits at t0+{0,3,7,12,15,21,28,29}; window: t0+9 < ts <= t0+29 (last 20 s)")
    bounds = f"{plain(answer.low)}..{plain(answer.high)}"
    s.say(f"fixed(10 s) answers ~{plain(answer.count)} (bounds {bounds})")
    s.expect(answer.low <= true <= answer.high, f"the true count, {true}, lies within the bounds")
    aligned = counter.query("/api/login", last_s=40, now=T0 + 30).answer
    s.expect(aligned.exact and aligned.count == 8, "a window on bucket edges is exact: 8")
    return s


def sliding_vs_fixed() -> Scenario:
    """2. The same hits through sliding and fixed: compare their answers."""
    s = Scenario(2, "Sliding vs fixed, same hits, compared counts")
    rng = random.Random(2)
    hits = sorted(T0 + rng.uniform(0, 120) for _ in range(200))
    sliding = HitCounter("sliding", max_window_s=300)
    fixed = HitCounter("fixed", window_s=30)
    s.listen(fixed, skip=(ev.METRICS_UPDATED,), most=3)  # the first hits, as fixed sees them
    for counter in (sliding, fixed):
        counter.record_many(("/api/search", ts) for ts in hits)
    for last in (10, 45, 90):
        exact = sliding.query("/api/search", last).answer
        approx = fixed.query("/api/search", last).answer
        s.say(
            f"last {last:>2} s: sliding {plain(exact.count)} (exact) | fixed ~{approx.count:.1f}"
            f" in [{plain(approx.low)}, {plain(approx.high)}]"
        )
        s.expect(approx.low <= exact.count <= approx.high, f"fixed bounds hold for {last} s")
    return s


def swap_to_morris() -> Scenario:
    """3. Swap to Morris: exact counts become a compact approximation."""
    s = Scenario(3, "Swap to Morris approximation")
    counter = HitCounter("sliding", max_window_s=3600)
    s.listen(counter, skip=(ev.METRICS_UPDATED, ev.HIT_RECORDED))
    counter.record_many(("/api/orders", T0 + i * 0.5) for i in range(5000))
    before = counter.metrics_dict()
    counter.swap_strategy("morris", base=1.1, counters=8, seed=3)
    answer = counter.query("/api/orders", 60).answer
    after = counter.metrics_dict()
    s.say(f"sliding held {before['memory_entries']} timestamps ({before['state_bytes']} B)")
    s.say(
        f"morris holds {after['memory_entries']} counters ({after['state_bytes']} B):"
        f" ~{answer.count:.0f} hits, 95% interval {answer.low:.0f}..{answer.high:.0f}, all time"
    )
    s.expect(answer.low <= 5000 <= answer.high, "the interval covers the true 5000")
    try:
        counter.swap_strategy("sliding")
        s.expect(False, "morris -> sliding is refused")
    except SwapRefusedError as refusal:
        s.expect(True, f"morris -> sliding is refused ({refusal.message.split(':')[0]})")
    counter.swap_strategy("sliding", reset=True)
    s.expect(counter.query("/api/orders", 60).answer.count == 0, "--reset starts sliding empty")
    return s


def pruning() -> Scenario:
    """4. High volume with pruning: memory stays bounded as time moves on."""
    s = Scenario(4, "High-volume hits with pruning")
    counter = HitCounter("sliding", max_window_s=60, max_lateness_s=0)
    s.listen(counter, skip=(ev.METRICS_UPDATED, ev.HIT_RECORDED), most=5)  # the first prunes
    rng = random.Random(4)
    peak = 0
    for minute in range(10):
        start = T0 + minute * 60
        hits = sorted(start + rng.uniform(0, 60) for _ in range(5000))
        counter.record_many((f"/api/item/{i % 7}", ts) for i, ts in enumerate(hits))
        entries = counter.metrics_dict()["memory_entries"]
        peak = max(peak, entries)
        s.say(f"minute {minute}: {counter.metrics.total_hits} hits recorded, {entries} retained")
    m = counter.metrics_dict()
    s.say(f"pruned {m['pruned_events']} timestamps in total")
    s.expect(m["memory_entries"] < m["total_hits"] / 3, "memory entries fall well below hits")
    answer = counter.query("/api/item/*", 60).answer
    s.expect(
        answer.exact and answer.complete, f"the last minute is still exact: {plain(answer.count)}"
    )
    return s


def snapshot_restore() -> Scenario:
    """5. Snapshot, mutate, restore: totals return to the snapshot's."""
    s = Scenario(5, "Snapshot, mutate, restore")
    counter = HitCounter("fixed", window_s=60)
    s.listen(counter, skip=(ev.METRICS_UPDATED, ev.HIT_RECORDED))
    counter.record_many(("/checkout", T0 + i) for i in range(100))
    document = take_snapshot(counter)
    saved = counter.metrics.total_hits
    counter.record_many(("/checkout", T0 + 100 + i) for i in range(50))
    s.say(f"snapshot at {saved} hits; after 50 more: {counter.metrics.total_hits}")
    restore_snapshot(counter, document)
    s.say(f"restored: {counter.metrics.total_hits} hits")
    s.expect(counter.metrics.total_hits == saved, "totals return to the snapshot's")
    answer = counter.query("/checkout", 3600).answer
    s.expect(answer.count == 100, f"queries answer as before: {plain(answer.count)}")
    return s


SCENARIOS: dict[int, Callable[[], Scenario]] = {
    1: fixed_window,
    2: sliding_vs_fixed,
    3: swap_to_morris,
    4: pruning,
    5: snapshot_restore,
}


def run_demo(numbers: list[int] | None = None) -> list[Scenario]:
    """Run the chosen scenarios (all by default), in order."""
    return [SCENARIOS[n]() for n in sorted(numbers or SCENARIOS)]

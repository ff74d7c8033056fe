"""Alerts on log time: hand-computed firing and clearing times, and a brute-force oracle.

The rule under test (README "Alerts"): with the clock c = the latest timestamp seen, an
endpoint's count is its hits with c - window < ts <= c; `threshold_exceeded` fires when it goes
above the limit while quiet, and `threshold_cleared` once it has stayed at or below the limit
for a full window, at that window's end, noticed when the clock reaches it.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from hitcount import HitCounter
from hitcount.engine.alerts import AlertRule, Alerts
from hitcount.errors import ConfigurationError
from hitcount.model.columns import columns_from_hits
from hitcount.model.events import EVENT_FIELDS, THRESHOLD_CLEARED, THRESHOLD_EXCEEDED, Event
from hitcount.model.hits import Hit
from tests.conftest import ROOMY_PARAMS

T0 = 1_700_000_000.0
#: One emitted alert as the tests compare it: (name, rule, endpoint, count, ts, clock).
Row = tuple[str, str, str, int, float, float]


class Recorder:
    """Collects what `Alerts` emits, as comparable rows with times relative to T0."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def __call__(self, name: str, payload: dict[str, Any], clock: float) -> None:
        """Keep one event."""
        self.rows.append(_row(name, payload, clock))


def _row(name: str, payload: dict[str, Any], clock: float | None) -> Row:
    assert clock is not None
    short = "exceeded" if name == THRESHOLD_EXCEEDED else "cleared"
    return (short, payload["rule"], payload["endpoint"], payload["count"],
            payload["ts"] - T0, clock - T0)  # fmt: skip


def feed(rules: list[str], hits: list[tuple[str, float]]) -> list[Row]:
    """Hits (times relative to T0) through an `Alerts`, one by one."""
    recorder = Recorder()
    alerts = Alerts([AlertRule.parse(rule) for rule in rules], recorder)
    for endpoint, ts in hits:
        alerts.observe(endpoint, T0 + ts)
    return recorder.rows


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "pattern", "limit", "window_s"),
    [
        ("/login>100/60s", "/login", 100, 60.0),
        ("/api/*>500/1m", "/api/*", 500, 60.0),
        ("/a/b>0/90", "/a/b", 0, 90.0),
        ("/x>y>3/2h", "/x>y", 3, 7200.0),  # the last '>' splits
        ("/login > 7 / 1.5m", "/login", 7, 90.0),
    ],
)
def test_rules_parse_endpoint_limit_and_window(
    spec: str, pattern: str, limit: int, window_s: float
) -> None:
    assert AlertRule.parse(spec) == AlertRule(pattern, limit, window_s)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/login", "--alert must look like ENDPOINT>LIMIT/WINDOW"),
        ("/login>100", "--alert must look like ENDPOINT>LIMIT/WINDOW"),
        ("/login>-1/60s", "--alert must look like ENDPOINT>LIMIT/WINDOW"),
        ("/login>1.5/60s", "--alert must look like ENDPOINT>LIMIT/WINDOW"),
        (">5/60s", "--alert must look like ENDPOINT>LIMIT/WINDOW"),
        ("/login>5/", "the window must be a duration"),
        ("/login>5/0s", "must be greater than 0"),
        ("/login>5/soon", "the window must be a duration"),
    ],
)
def test_bad_rules_are_configuration_errors_with_the_form(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AlertRule.parse(spec)


def test_a_glob_matches_each_endpoint_and_a_plain_pattern_only_itself() -> None:
    glob, plain = AlertRule.parse("/api/*>1/10s"), AlertRule.parse("/api>1/10s")
    assert glob.matches("/api/a") and glob.matches("/api/b/c") and not glob.matches("/apix")
    assert plain.matches("/api") and not plain.matches("/api/a")


# -- hand-computed cases -----------------------------------------------------------------


def test_a_burst_gives_one_alert_and_clears_a_full_window_after_it_ends() -> None:
    # 4 hits at 0..3 put the count at 4 > 3 at ts 3; the hits at 4 and 5 keep it above. The
    # latest 4 are 2..5, so the count falls to 3 at 2 + 10 = 12; quiet until 22.
    hits = [("/login", float(t)) for t in range(6)] + [("/other", 21.5), ("/other", 30.0)]
    assert feed(["/login>3/10s"], hits) == [
        ("exceeded", "/login>3/10s", "/login", 4, 3.0, 3.0),
        ("cleared", "/login>3/10s", "/login", 0, 22.0, 30.0),
    ]


def test_clearing_is_noticed_when_the_clock_reaches_it_not_before() -> None:
    burst = [("/login", 0.0), ("/login", 1.0)]
    assert feed(["/login>1/10s"], [*burst, ("/x", 19.75)])[1:] == []
    # The count falls to 1 at 0 + 10 and to 0 at 11; quiet from 10, cleared at 20.
    assert feed(["/login>1/10s"], [*burst, ("/x", 20.0)])[1:] == [
        ("cleared", "/login>1/10s", "/login", 0, 20.0, 20.0)
    ]
    assert feed(["/login>1/10s"], [*burst, ("/x", 15.0), ("/y", 19.5)])[1:] == []


def test_advance_clears_without_a_hit() -> None:
    recorder = Recorder()
    alerts = Alerts([AlertRule.parse("/login>1/10s")], recorder)
    alerts.observe("/login", T0)
    alerts.observe("/login", T0 + 1)
    alerts.advance(T0 + 19)
    assert len(recorder.rows) == 1
    alerts.advance(T0 + 25)
    assert recorder.rows[1] == ("cleared", "/login>1/10s", "/login", 0, 20.0, 25.0)
    assert alerts.active() == []


def test_dipping_below_the_limit_for_less_than_a_window_does_not_alert_again() -> None:
    # Above at 2 (3 hits > 2). The count falls to 2 at 10 (quiet from 10), then the hits at
    # 13, 14, 15 take it above again at 15: still the same alert. Latest 3 are 13..15, so it
    # falls at 23 and clears at 33. A naive crossing rule would have alerted twice.
    hits = [("/a", t) for t in (0.0, 1.0, 2.0, 13.0, 14.0, 15.0)] + [("/z", 40.0)]
    assert feed(["/a>2/10s"], hits) == [
        ("exceeded", "/a>2/10s", "/a", 3, 2.0, 2.0),
        ("cleared", "/a>2/10s", "/a", 0, 33.0, 40.0),
    ]


def test_after_clearing_a_new_burst_alerts_again() -> None:
    hits = [("/a", t) for t in (0.0, 1.0, 30.0, 31.0)]
    assert feed(["/a>1/10s"], hits) == [
        ("exceeded", "/a>1/10s", "/a", 2, 1.0, 1.0),
        ("cleared", "/a>1/10s", "/a", 0, 20.0, 30.0),  # noticed at the hit of 30, before it
        ("exceeded", "/a>1/10s", "/a", 2, 31.0, 31.0),
    ]


def test_a_glob_watches_each_endpoint_on_its_own() -> None:
    # /api/a and /api/b have one hit each in (-9, 1]: 2 together, but 1 each: no alert.
    hits = [("/api/a", 0.0), ("/api/b", 1.0), ("/api/a", 2.0), ("/api/b", 3.0), ("/x", 25.0)]
    assert feed(["/api/*>1/10s"], hits) == [
        ("exceeded", "/api/*>1/10s", "/api/a", 2, 2.0, 2.0),
        ("exceeded", "/api/*>1/10s", "/api/b", 2, 3.0, 3.0),
        ("cleared", "/api/*>1/10s", "/api/a", 0, 20.0, 25.0),  # falls at 10, quiet to 20
        ("cleared", "/api/*>1/10s", "/api/b", 0, 21.0, 25.0),  # falls at 11, quiet to 21
    ]


def test_several_rules_fire_independently() -> None:
    rules = ["/login>1/10s", "/login>3/60s", "/*>4/5s"]
    hits = [("/login", t) for t in (0.0, 1.0, 2.0, 3.0, 4.0)] + [("/x", 100.0)]
    # /login>1/10s: above at 1; latest 2 are 3, 4 -> falls at 13, clears at 23.
    # /login>3/60s: above at 3; latest 4 are 1..4 -> falls at 61, clears at 121 (not yet).
    # /*>4/5s: 5 hits in (-1, 4] at 4 -> above; latest 5 are 0..4 -> falls at 5, clears 10.
    assert feed(rules, hits) == [
        ("exceeded", "/login>1/10s", "/login", 2, 1.0, 1.0),
        ("exceeded", "/login>3/60s", "/login", 4, 3.0, 3.0),
        ("exceeded", "/*>4/5s", "/login", 5, 4.0, 4.0),
        ("cleared", "/*>4/5s", "/login", 0, 10.0, 100.0),
        ("cleared", "/login>1/10s", "/login", 0, 23.0, 100.0),
    ]  # /login>3/60s is still active at 100: it clears at 121


def test_a_late_hit_counts_while_inside_the_window_of_the_clock() -> None:
    # The clock is 105 after /b; a late /a at 96 is inside (95, 105], one at 94 is not.
    assert feed(["/a>1/10s"], [("/a", 100.0), ("/b", 105.0), ("/a", 94.0)]) == []
    assert feed(["/a>1/10s"], [("/a", 100.0), ("/b", 105.0), ("/a", 96.0)]) == [
        ("exceeded", "/a>1/10s", "/a", 2, 105.0, 105.0)
    ]


def test_a_limit_of_zero_alerts_on_any_hit() -> None:
    assert feed(["/admin>0/1m"], [("/admin", 5.0), ("/admin", 6.0), ("/x", 200.0)]) == [
        ("exceeded", "/admin>0/60s", "/admin", 1, 5.0, 5.0),
        ("cleared", "/admin>0/60s", "/admin", 0, 126.0, 200.0),
    ]


def test_memory_stays_bounded_by_limit_plus_one_and_idle_endpoints_go() -> None:
    alerts = Alerts([AlertRule.parse("/*>3/10s")], lambda *_: None)
    for i in range(5000):
        alerts.observe(f"/e{i}", T0 + i)  # each endpoint once, then idle
    for i in range(1000):
        alerts.observe("/hot", T0 + 5000 + i / 1000)
    tracks = alerts._tracks
    assert len(tracks) <= 2048
    assert all(len(track.recent) <= 4 for track in tracks.values())


# -- the brute-force oracle ----------------------------------------------------------------


def oracle(rules: list[AlertRule], hits: list[tuple[str, float]]) -> list[Row]:
    """The documented rule, tick by tick, each count a scan of every hit seen so far.

    Times and windows are whole seconds, so counts only change on whole seconds and one
    look per second sees every change.
    """
    seen: list[tuple[str, float]] = []
    firing: dict[tuple[int, str], float | None] = {}  # -> quiet since (None: above)
    rows: list[Row] = []

    def count(rule: AlertRule, endpoint: str, t: float) -> int:
        return sum(1 for ep, ts in seen if ep == endpoint and t - rule.window_s < ts <= t)

    clock: float | None = None
    for endpoint, ts in hits:
        new_clock = ts if clock is None else max(clock, ts)
        for t in range(int(clock if clock is not None else ts) + 1, int(new_clock) + 1):
            for key in sorted(firing):  # time passes before the hit arrives
                rule = rules[key[0]]
                if count(rule, key[1], t) > rule.limit:
                    firing[key] = None
                    continue
                quiet = firing[key]
                if quiet is None:
                    firing[key] = quiet = t
                if t >= quiet + rule.window_s:
                    del firing[key]
                    rows.append(("cleared", rule.text, key[1], count(rule, key[1], t), t - T0,
                                 new_clock - T0))  # fmt: skip
        clock = new_clock
        seen.append((endpoint, ts))
        for index, rule in enumerate(rules):
            key = (index, endpoint)
            if not rule.matches(endpoint) or count(rule, endpoint, clock) <= rule.limit:
                continue
            if key in firing:
                firing[key] = None
            else:
                firing[key] = None
                rows.append(("exceeded", rule.text, endpoint, count(rule, endpoint, clock),
                             clock - T0, clock - T0))  # fmt: skip
    return rows


def random_case(seed: int) -> tuple[list[AlertRule], list[tuple[str, float]]]:
    """A few rules (some globs) and a stream of whole-second hits, some of them late."""
    rng = random.Random(seed)
    patterns = ["/a", "/b", "/api/*", "/*", "/api/x"]
    rules = [
        AlertRule(rng.choice(patterns), rng.randint(0, 5), float(rng.randint(1, 20)))
        for _ in range(rng.randint(1, 3))
    ]
    endpoints = ["/a", "/b", "/api/x", "/api/y", "/c"]
    clock, hits = 0, []
    for _ in range(rng.randint(20, 160)):
        if rng.random() < 0.1:
            ts = clock - rng.randint(0, 25)  # late
        else:
            clock += rng.choice([0, 0, 0, 1, 1, 2, 4, 15])
            ts = clock
        hits.append((rng.choice(endpoints), T0 + ts))
    return rules, hits


def counter_rows(counter: HitCounter) -> list[Row]:
    rows: list[Row] = []

    def keep(event: Event) -> None:
        assert set(event.payload) == set(EVENT_FIELDS[event.name])
        rows.append(_row(event.name, event.payload, event.clock))

    counter.subscribe(THRESHOLD_EXCEEDED, keep)
    counter.subscribe(THRESHOLD_CLEARED, keep)
    return rows


def test_the_oracle_itself_agrees_with_a_hand_computed_case() -> None:
    rules = [AlertRule.parse("/a>2/10s")]
    hits = [("/a", T0 + t) for t in (0, 1, 2, 13, 14, 15)] + [("/z", T0 + 40)]
    assert oracle(rules, hits) == [
        ("exceeded", "/a>2/10s", "/a", 3, 2.0, 2.0),
        ("cleared", "/a>2/10s", "/a", 0, 33.0, 40.0),
    ]


@pytest.mark.parametrize("seed", range(40))
def test_alerts_match_the_oracle_hit_by_hit_and_in_batches(seed: int) -> None:
    rules, hits = random_case(seed)
    expected = oracle(rules, hits)
    recorder = Recorder()
    alerts = Alerts(rules, recorder)
    for endpoint, ts in hits:
        alerts.observe(endpoint, ts)
    assert recorder.rows == expected

    rng = random.Random(seed)
    cuts = sorted({0, len(hits), *(rng.randrange(len(hits)) for _ in range(4))})
    batched = Recorder()
    alerts = Alerts(rules, batched)
    for start, end in itertools.pairwise(cuts):
        columns = columns_from_hits([Hit(ep, ts) for ep, ts in hits[start:end]])
        alerts.observe_columns(columns.names, columns.codes, columns.ts)
    assert batched.rows == expected


def test_the_random_cases_do_fire_and_clear() -> None:
    """The oracle comparison above is not vacuous: most cases alert, many clear."""
    outcomes = [oracle(*random_case(seed)) for seed in range(40)]
    assert sum(any(r[0] == "exceeded" for r in rows) for rows in outcomes) >= 30
    assert sum(any(r[0] == "cleared" for r in rows) for rows in outcomes) >= 20


@pytest.mark.parametrize("seed", range(8))
def test_counters_alert_exactly_whatever_the_strategy(strategy_name: str, seed: int) -> None:
    rules, hits = random_case(100 + seed)
    expected = oracle(rules, hits)
    params = ROOMY_PARAMS.get(strategy_name, {})
    one_by_one = HitCounter(strategy_name, **params)
    batches = HitCounter(strategy_name, **{**params, "max_lateness_s": 0.0})  # drops late hits
    grouped = HitCounter(strategy_name, **params)
    for counter in (one_by_one, batches, grouped):
        for rule in rules:
            counter.add_alert(rule)
    rows = [counter_rows(c) for c in (one_by_one, batches, grouped)]
    for endpoint, ts in hits:
        one_by_one.record(endpoint, ts)
    half = len(hits) // 2
    batches.record_many(hits[:half])
    batches.record_many(hits[half:])
    columns = columns_from_hits([Hit(ep, ts) for ep, ts in hits]).grouped()  # as from a worker
    grouped.record_columns(columns)
    assert rows == [expected, expected, expected]


def test_rules_added_later_start_from_the_counters_clock() -> None:
    counter = HitCounter("sliding", max_window_s=600)
    counter.record("/b", T0 + 100)
    counter.add_alert("/a>0/10s")
    rows = counter_rows(counter)
    counter.record("/a", T0 + 89)  # outside (90, 100]: never counts
    assert rows == []
    counter.record("/a", T0 + 95)
    assert rows == [("exceeded", "/a>0/10s", "/a", 1, 100.0, 100.0)]


def test_a_counter_without_rules_does_no_alert_work() -> None:
    counter = HitCounter("fixed")
    counter.record_many([("/a", T0), ("/a", T0 + 1)])
    assert counter.alerts is None

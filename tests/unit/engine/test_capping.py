"""`max_endpoints`: at most N endpoints by name, the rest counted under `(other endpoints)`.

The oracle is a brute-force reading of the rule: walking the hits in order, an endpoint gets
a name if it has one already or fewer than N have; every other hit counts under the
overflow endpoint. Nothing is lost: the counts of all endpoints add up to every hit.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import ConfigurationError, HitCounter, StateError, from_document
from hitcount.engine.capping import OVERFLOW_ENDPOINT
from hitcount.errors import MergeRefusedError
from hitcount.ops.merge import merge_counters
from hitcount.persist.document import to_document
from tests.conftest import ROOMY_PARAMS

T0 = 1_767_225_600.0
EXACT = ["sliding", "fixed", "tiered"]  # all-time totals are exact for these


def oracle(hits: list[tuple[str, float]], cap: int) -> Counter[str]:
    named: set[str] = set()
    counts: Counter[str] = Counter()
    for endpoint, _ in hits:
        if endpoint not in named and len(named) < cap:
            named.add(endpoint)
        counts[endpoint if endpoint in named else OVERFLOW_ENDPOINT] += 1
    return counts


def capped(name: str, cap: int) -> HitCounter:
    counter = HitCounter(name, **ROOMY_PARAMS[name])
    counter.max_endpoints = cap
    return counter


def counts(counter: HitCounter) -> Counter[str]:
    strategy = counter.strategy
    return Counter({ep: n for ep, n in strategy.totals().items() if n})


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(EXACT),
    cap=st.integers(1, 30),
    distinct=st.integers(1, 60),
    hits=st.integers(1, 300),
    batch=st.sampled_from([1, 7, 64, 10_000]),
    seed=st.integers(0, 2**32),
)
def test_counts_follow_the_rule_whatever_the_batches(
    name: str, cap: int, distinct: int, hits: int, batch: int, seed: int
) -> None:
    rng = random.Random(seed)
    stream = [(f"/e{rng.randrange(distinct)}", T0 + i) for i in range(hits)]
    counter = capped(name, cap)
    for start in range(0, hits, batch):
        if batch == 1:
            counter.record(*stream[start])
        else:
            counter.record_many(stream[start : start + batch])
    expected = oracle(stream, cap)
    assert counts(counter) == expected
    named = [ep for ep in counter.endpoints() if ep != OVERFLOW_ENDPOINT]
    assert len(named) <= cap
    assert counter.query("*", 10**7).answer.count == hits  # no hit lost
    if OVERFLOW_ENDPOINT in expected:
        assert counter.query(OVERFLOW_ENDPOINT, 10**7).answer.count == expected[OVERFLOW_ENDPOINT]


def test_late_hits_take_no_place() -> None:
    counter = HitCounter("sliding", max_window_s=60, max_lateness_s=0)
    counter.max_endpoints = 1
    counter.record_many([("/a", T0 + 1000), ("/late", T0), ("/b", T0 + 1001)])
    assert counts(counter) == {"/a": 1, OVERFLOW_ENDPOINT: 1}  # /late was refused, /b overflowed
    assert counter.metrics.late_hits == 1


def test_a_pruned_endpoint_frees_its_place() -> None:
    counter = HitCounter("sliding", max_window_s=60, max_lateness_s=0)
    counter.max_endpoints = 1
    counter.record("/old", T0)
    counter.record("/new", T0 + 1000)  # /old still holds the place; it is pruned after this hit
    assert counts(counter) == {OVERFLOW_ENDPOINT: 1}
    counter.record("/newer", T0 + 1001)  # the place is free again
    assert counts(counter) == {OVERFLOW_ENDPOINT: 1, "/newer": 1}
    counter.record("/after", T0 + 3000)  # /newer holds it until this hit prunes it
    counter.record("/again", T0 + 3001)
    assert counts(counter) == {OVERFLOW_ENDPOINT: 1, "/again": 1}


def test_the_cap_is_saved_restored_and_kept_by_swaps() -> None:
    counter = capped("sliding", 2)
    counter.record_many([("/a", T0), ("/b", T0 + 1), ("/c", T0 + 2)])
    restored = from_document(to_document(counter))
    assert restored.max_endpoints == 2
    restored.record("/d", T0 + 3)
    assert counts(restored) == {"/a": 1, "/b": 1, OVERFLOW_ENDPOINT: 2}
    restored.swap_strategy("fixed", window_s=60, retention_s=10**7)
    assert restored.max_endpoints == 2 and "max_endpoints" in to_document(restored)
    assert "max_endpoints" not in to_document(HitCounter())  # old readers see no new field


@pytest.mark.parametrize("value", [0, -1, 10**9 + 1, 2.5, "10", True])
def test_a_saved_cap_out_of_range_is_refused(value: object) -> None:
    document = to_document(capped("sliding", 2))
    document["max_endpoints"] = value
    with pytest.raises(StateError, match="max_endpoints"):
        from_document(document)


def test_shards_with_different_caps_cannot_merge() -> None:
    shards = [capped("fixed", 2), capped("fixed", 3)]
    with pytest.raises(MergeRefusedError, match="has --max-endpoints 3, but input 1 has"):
        merge_counters(shards)
    with pytest.raises(MergeRefusedError, match="has no endpoint cap"):
        merge_counters([capped("fixed", 2), HitCounter("fixed", **ROOMY_PARAMS["fixed"])])
    same = [capped("fixed", 2), capped("fixed", 2)]
    assert merge_counters(same).max_endpoints == 2


def test_a_bad_cap_is_a_configuration_error() -> None:
    from hitcount.engine.capping import checked_cap

    with pytest.raises(ConfigurationError):
        checked_cap(0)


def test_worker_decoded_batches_with_users_obey_the_cap_like_the_serial_path(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    from pathlib import Path

    from hitcount import replay
    from hitcount.ingest import parallel, workers

    rows = [
        {"endpoint": f"/e{i * 7 % 23}", "ts": T0 + i * 0.37, "user": f"u{i * 31 % 997}"}
        for i in range(30_000)
    ]
    path = Path(str(tmp_path)) / "hits.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.setattr(parallel, "RANGE_BYTES", 200_000)
    states = []
    for count, min_bytes in (("2", 0), ("0", 10**12)):
        monkeypatch.setenv("HITCOUNT_WORKERS", count)
        monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", min_bytes)
        counter = HitCounter("sliding", max_window_s=10**7, distinct_precision=10)
        counter.max_endpoints = 5
        assert replay(counter, [str(path)]).hits_kept == len(rows)
        expected = oracle([(row["endpoint"], row["ts"]) for row in rows], 5)
        assert counts(counter) == expected
        assert counter.distinct is not None
        users = {row["user"] for row in rows if expected.get(row["endpoint"]) is None}
        overflow = counter.query_distinct(OVERFLOW_ENDPOINT, 10**7).answer
        assert overflow.low <= len(users) <= overflow.high  # users follow their hits
        states.append((counter.strategy.to_state(), counter.distinct.to_state()))
    assert states[0] == states[1]

"""Distinct users: the HyperLogLog sketch, the per-bucket tracker, the engine and the CLI."""

from __future__ import annotations

import base64
import json
import math
import random
from pathlib import Path
from typing import Any
from unittest.mock import patch

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, from_document, replay, restore_snapshot, take_snapshot
from hitcount.errors import StateError
from hitcount.persist.document import encode
from hitcount.sketches import distinct, sketchlog
from hitcount.sketches.distinct import DistinctTracker
from hitcount.sketches.hll import HyperLogLog, standard_error
from tests.cli_helpers import assert_error, ok, run
from tests.conftest import SAMPLES

# -- the sketch ----------------------------------------------------------------------------


def _users(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [f"user-{rng.getrandbits(64):016x}" for _ in range(n)]


@pytest.mark.parametrize(
    ("precision", "cardinality", "trials"),
    [(12, 10, 60), (12, 1_000, 40), (12, 100_000, 6), (8, 10, 60), (8, 1_000, 40), (8, 100_000, 6)],
)
def test_relative_error_stays_within_three_standard_errors(
    precision: int, cardinality: int, trials: int
) -> None:
    bound = 3 * standard_error(precision)
    errors = []
    for seed in range(trials):
        sketch = HyperLogLog(precision)
        sketch.add_many(_users(seed * 7919 + cardinality, cardinality))
        errors.append(sketch.estimate() / cardinality - 1)
    assert max(map(abs, errors)) <= bound, errors
    # And on average about one standard error or less (not merely inside the 3-sigma band).
    if trials >= 20:
        rms = math.sqrt(sum(e * e for e in errors) / len(errors))
        assert rms <= 1.5 * standard_error(precision)


def test_sparse_to_dense_switch_is_transparent() -> None:
    sketch, dense = HyperLogLog(10), HyperLogLog(10)
    dense.merge(HyperLogLog.from_bytes(_dense_bytes(HyperLogLog(10))))  # force dense
    assert not dense.is_sparse
    switched_at = None
    for i, user in enumerate(_users(3, 400)):
        sketch.add(user)
        dense.add(user)
        assert sketch.registers() == dense.registers()
        if sketch.is_sparse:  # 2^25 sparse registers: exact but for a rare collision
            assert sketch.estimate() == pytest.approx(i + 1, rel=0.005)
        else:
            assert sketch.estimate() == dense.estimate()
        if switched_at is None and not sketch.is_sparse:
            switched_at = i
    assert switched_at == sketch.sparse_limit  # the (limit + 1)-th user
    assert sketch.memory_bytes() == len(sketch.to_bytes())


def _dense_bytes(sketch: HyperLogLog) -> bytes:
    return b"HLL1" + bytes([sketch.precision, 1]) + sketch.registers()


@pytest.mark.parametrize(("left_n", "right_n"), [(5, 7), (5, 3_000), (3_000, 5), (3_000, 4_000)])
def test_merge_equals_the_sketch_of_the_union_exactly(left_n: int, right_n: int) -> None:
    left_users, right_users = _users(1, left_n), _users(2, right_n)
    left, right, union = HyperLogLog(12), HyperLogLog(12), HyperLogLog(12)
    left.add_many(left_users)
    right.add_many(right_users)
    union.add_many(left_users + right_users)
    merged = left.copy()
    merged.merge(right)
    assert merged.registers() == union.registers()
    assert merged.estimate() == union.estimate()
    assert left.registers() != union.registers() or right_n == 0  # the copy was independent


def test_merge_refuses_other_precisions() -> None:
    with pytest.raises(ValueError, match="precision"):
        HyperLogLog(12).merge(HyperLogLog(10))


@pytest.mark.parametrize("n", [0, 3, 200, 5_000])
def test_bytes_round_trip(n: int) -> None:
    sketch = HyperLogLog(11)
    sketch.add_many(_users(n, n))
    copy = HyperLogLog.from_bytes(sketch.to_bytes())
    assert copy == sketch and copy.is_sparse == sketch.is_sparse
    assert HyperLogLog.from_base64(sketch.to_base64()).registers() == sketch.registers()
    low, high = sketch.bounds()
    assert low <= sketch.estimate() <= high


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"HLL",
        b"XXX1\x0c\x00\x00\x00\x00\x00",
        b"HLL1\x03\x01" + bytes(8),  # precision 3
        b"HLL1\x11\x01",  # precision 17
        b"HLL1\x04\x01" + bytes(15),  # dense, one register short
        b"HLL1\x04\x01" + bytes(15) + b"\x3e",  # register above 64 - p + 1 = 61
        b"HLL1\x04\x02" + bytes(16),  # unknown kind
        b"HLL1\x04\x00\x00\x00\x00\x02\x00\x01\x01",  # count 2, one entry
        b"HLL1\x04\x00\x00\x00\x00\x01\x00\x10\x01",  # index 16 >= m
        b"HLL1\x04\x00\x00\x00\x00\x01\x00\x01\x00",  # rank 0
        b"HLL1\x04\x00\x00\x00\x00\x02\x00\x02\x01\x00\x01\x01",  # out of order
    ],
)
def test_bad_bytes_are_rejected(data: bytes) -> None:
    with pytest.raises(ValueError):
        HyperLogLog.from_bytes(data)


def test_bad_base64_is_rejected() -> None:
    with pytest.raises(ValueError, match="base64"):
        HyperLogLog.from_base64("not base64!")


# -- the tracker ---------------------------------------------------------------------------


def test_tracker_bounds_hold_at_their_confidence_against_brute_force() -> None:
    trials, held = 200, 0
    for seed in range(trials):
        rng = random.Random(seed)
        pool = [f"u{rng.getrandbits(40)}" for _ in range(rng.choice([20, 300, 3_000]))]
        hits = [(rng.uniform(0, 3_600), rng.choice(pool)) for _ in range(2 * len(pool))]
        tracker = DistinctTracker(bucket_s=60, precision=10)
        for ts, user in hits:
            tracker.add("/a", ts, user)
        clock = max(ts for ts, _ in hits)
        last = rng.uniform(30, 3_600)
        truth = len({user for ts, user in hits if clock - last < ts <= clock})
        answer = tracker.query("/a", clock - last, clock, clock)
        assert answer.low <= answer.estimate <= answer.high
        held += answer.low <= truth <= answer.high
    assert held / trials >= 0.95 - 0.03


def test_tracker_whole_buckets_are_one_sketch_of_their_users() -> None:
    tracker = DistinctTracker(bucket_s=10, precision=12)
    tracker.add_many("/a", [1.0, 2.0, 11.0, 25.0], ["x", "y", "x", "z"])
    tracker.add_many("/b", [3.0], ["w"])
    answer = tracker.query(["/a", "/b"], -1.0, 30.0, clock=25.0)
    assert answer.buckets_partial == 0 and round(answer.estimate) == 4
    assert tracker.query("/a", 5.0, 30.0, clock=25.0).buckets_partial == 1
    assert tracker.prune(20.0) == 3  # /a's buckets 0 and 1, /b's bucket 0
    assert tracker.endpoints() == ["/a"]
    tracker.add("/a", 12.0, "late")  # its bucket is gone: ignored
    assert tracker.buckets() == 1
    assert not tracker.query("/a", 5.0, 30.0).complete


def test_tracker_state_round_trip_and_validation() -> None:
    tracker = DistinctTracker(bucket_s=30, precision=9)
    tracker.add_many("/a", [float(i) for i in range(500)], [f"u{i % 97}" for i in range(500)])
    tracker.prune(60.0)
    state = msgspec.json.decode(msgspec.json.encode(tracker.to_state()))
    copy = DistinctTracker.from_state(state)
    assert copy.to_state() == tracker.to_state()
    assert copy.query("/a", 100.0, 499.0) == tracker.query("/a", 100.0, 499.0)
    bad_states = [
        {**state, "precision": 20},
        {**state, "bucket_s": -1},
        {**state, "extra": 1},
        {**state, "endpoints": {"/a": {"x": state["endpoints"]["/a"]["2"]}}},
        {**state, "endpoints": {"/a": {"2": "%%%"}}},
        {**state, "endpoints": {"/a": {"0": state["endpoints"]["/a"]["2"]}}},  # before horizon
        {**state, "endpoints": {"/a": {"2": base64.b64encode(b"HLL1\x0c\x01").decode()}}},
    ]
    for bad in bad_states:
        with pytest.raises(ValueError):
            DistinctTracker.from_state(bad)


# -- the engine ----------------------------------------------------------------------------

USER_HITS = st.lists(
    st.tuples(
        st.sampled_from(["/a", "/b", "/api/c"]),
        st.floats(0, 5_000),
        st.none() | st.sampled_from([f"u{i}" for i in range(30)]),
    ),
    max_size=200,
)


@settings(max_examples=80, deadline=None)
@given(hits=USER_HITS, batch=st.integers(1, 50), name=st.sampled_from(["fixed", "sliding"]))
def test_per_hit_and_batch_paths_keep_the_same_distinct_state(
    hits: list[tuple[str, float, str | None]], batch: int, name: str
) -> None:
    params: dict[str, dict[str, float]] = {
        "fixed": {"window_s": 10, "retention_s": 100},
        "sliding": {"max_window_s": 100},
    }
    one_by_one = HitCounter(name, max_lateness_s=0, distinct_precision=6, **params[name])
    for endpoint, ts, user in hits:
        one_by_one.record(endpoint, ts, user)
    batched = HitCounter(name, max_lateness_s=0, distinct_precision=6, **params[name])
    for i in range(0, len(hits), batch):
        batched.record_many(hits[i : i + batch])
    assert one_by_one.distinct is not None and batched.distinct is not None
    assert batched.distinct.to_state() == one_by_one.distinct.to_state()
    assert batched.metrics == one_by_one.metrics


@settings(max_examples=60, deadline=None)
@given(
    hits=USER_HITS,
    batch=st.integers(1, 60),
    precision=st.integers(4, 8),
    prune_at=st.lists(st.floats(0, 5_000), max_size=3),
)
def test_bulk_register_log_equals_adding_hit_by_hit(
    hits: list[tuple[str, float, str | None]], batch: int, precision: int, prune_at: list[float]
) -> None:
    """Batches (kept as bulk register entries), single adds and prunes in any mix."""
    import numpy as np

    one = DistinctTracker(bucket_s=100, precision=precision)
    bulk = DistinctTracker(bucket_s=100, precision=precision)
    horizons = iter(sorted(prune_at))
    for i in range(0, len(hits), batch):
        part = hits[i : i + batch]
        for endpoint, ts, user in part:
            if user is not None:
                one.add(endpoint, ts, user)
        if i // batch % 3 == 2:  # now and then hit by hit on the bulk side too
            for endpoint, ts, user in part:
                if user is not None:
                    bulk.add(endpoint, ts, user)
        else:
            names = sorted({endpoint for endpoint, _, _ in part})
            codes = np.array([names.index(endpoint) for endpoint, _, _ in part], dtype=np.int32)
            stamps = np.array([ts for _, ts, _ in part], dtype=np.float64)
            bulk.add_columns(names, codes, stamps, [user for _, _, user in part])
        horizon = next(horizons, None)
        if horizon is not None:
            assert bulk.prune(horizon) == one.prune(horizon)
    assert bulk.memory_bytes() == one.memory_bytes()
    assert bulk.buckets() == one.buckets()
    with patch.object(sketchlog, "_PART_KEYS", 5):  # encoded a few keys at a time
        assert bulk.to_state() == one.to_state()
    assert bulk.query(["/a", "/b"], 500.0, 4_000.0) == one.query(["/a", "/b"], 500.0, 4_000.0)
    assert bulk.to_state() == one.to_state()
    with patch.object(distinct, "PACKED_MIN_SKETCHES", 0):
        packed = msgspec.json.decode(encode(bulk.to_state(compact=True)))
    unpacked = DistinctTracker.from_state(packed)  # the state store's form
    assert unpacked.to_state() == one.to_state()
    assert unpacked.query(["/a"], 0.0, 5_000.0) == one.query(["/a"], 0.0, 5_000.0)


def _packed_tracker() -> dict[str, Any]:
    import numpy as np

    tracker = DistinctTracker(bucket_s=30, precision=9)
    stamps = np.arange(500, dtype=np.float64)
    codes = (np.arange(500) % 2).astype(np.int32)
    tracker.add_columns(["/a", "/b"], codes, stamps, [f"u{i % 97}" for i in range(500)])
    tracker.prune(60.0)
    assert "packed" not in tracker.to_state(compact=True)  # too few sketches to pack
    with patch.object(distinct, "PACKED_MIN_SKETCHES", 10):
        packed = encode(tracker.to_state(compact=True))
    state: dict[str, Any] = msgspec.json.decode(packed)
    assert "packed" in state and "endpoints" not in state
    return state


def _with(state: dict[str, Any], **changes: object) -> dict[str, Any]:
    return {**state, "packed": {**state["packed"], **changes}}


def _b64(values: list[int], dtype: str) -> str:
    import numpy as np

    return base64.b64encode(np.array(values, dtype=dtype).tobytes()).decode()


def test_packed_state_round_trip_and_validation() -> None:
    state = _packed_tracker()
    plain = DistinctTracker.from_state(state).to_state()
    with patch.object(distinct, "PACKED_MIN_SKETCHES", 10):
        again = DistinctTracker.from_state(plain).to_state(compact=True)
        assert msgspec.json.decode(encode(again)) == state
    packed = state["packed"]
    sizes = base64.b64decode(packed["pair_sizes"])
    entries = base64.b64decode(packed["entries"])
    rankless = [e & ~63 for e in np.frombuffer(entries, dtype="<u4").tolist()]
    bad_states = [
        _with(state, endpoints=["/a", "/a"]),
        _with(state, endpoints=["/a"]),  # pairs name endpoint 1
        _with(state, endpoints=[""]),
        _with(state, pair_sizes="%%%"),
        _with(state, pair_sizes=packed["pair_sizes"][:-4]),  # a pair short
        _with(state, pair_sizes=base64.b64encode(sizes[:-1]).decode()),  # a partial item
        _with(state, entries=base64.b64encode(entries[4:] + entries[:4]).decode()),
        _with(state, entries=_b64(rankless, "<u4")),
        _with(state, entries=_b64([1 << 31 | 600 << 6 | 1] * len(rankless), "<u4")),  # p=9
        _with(state, pair_buckets=_b64([0] * len(sizes[::4]), "<i8")),  # repeated, too old
        {**state, "endpoints": {"/a": {}}},  # both forms
        _with(state, entries=7),
        _with(state, registers=packed["entries"]),  # both forms
        {**state, "packed": {k: v for k, v in state["packed"].items() if k != "endpoints"}},
        _with(state, extra="x"),
    ]
    for bad in bad_states:
        with pytest.raises(ValueError, match="distinct-users"):
            DistinctTracker.from_state(bad)


def test_damaged_packed_state_file_gives_a_clear_error(
    state_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distinct, "PACKED_MIN_SKETCHES", 0)
    lines = [f'{{"endpoint": "/a", "ts": {1795737600 + i}, "user": "u{i % 7}"}}' for i in range(50)]
    source = state_env.parent / "hits.ndjson"
    source.write_text("\n".join(lines) + "\n")
    ok(["replay", str(source)])
    document = msgspec.json.decode(state_env.read_bytes())
    assert "packed" in document["distinct"]  # the state store writes the compact form
    document["distinct"]["packed"]["ranks"] = "AAAA"
    state_env.write_bytes(msgspec.json.encode(document))
    result = run(["query", "/a", "--last", "1h", "--distinct"])
    assert_error(result, 4, "distinct-users")
    assert ok(["query", "/a", "--last", "1h"]).stdout.startswith("/a: 50 hits")


def test_late_hits_are_not_added_and_no_users_means_no_state() -> None:
    counter = HitCounter("sliding", max_window_s=60, max_lateness_s=0)
    counter.record("/a", 1_000.0)
    assert counter.distinct is not None and not counter.distinct.has_data()
    with pytest.raises(StateError, match="no user data"):
        counter.query_distinct("/a", 60)
    counter.record("/a", 2_000.0, "u1")
    assert not counter.record("/b", 10.0, "late")  # refused by the strategy
    assert counter.distinct.endpoints() == ["/a"]
    assert HitCounter(distinct=False).metrics_dict()["distinct_bytes"] == 0
    assert counter.metrics_dict()["distinct_bytes"] > 0


def test_snapshot_round_trip_keeps_distinct_answers_and_old_documents_load() -> None:
    counter = HitCounter("fixed", window_s=10)
    rng = random.Random(5)
    counter.record_many(
        ("/a" if i % 3 else "/b", 1_000 + i * 0.5, f"u{rng.randrange(700)}") for i in range(4_000)
    )
    document = msgspec.json.decode(msgspec.json.encode(take_snapshot(counter)))
    copy = from_document(document)
    for pattern in ("/a", "*"):
        for last in (10.0, 333.0, 5_000.0):
            assert copy.query_distinct(pattern, last) == counter.query_distinct(pattern, last)
    old = {k: v for k, v in document.items() if k != "distinct"}
    assert from_document(old).distinct is not None  # empty, enabled
    assert from_document({**document, "distinct": None}).distinct is None
    with pytest.raises(StateError):
        from_document({**document, "distinct": {"bucket_s": 60}})
    other = HitCounter(distinct=False)
    restore_snapshot(other, document)
    assert other.query_distinct("/a", 333.0) == counter.query_distinct("/a", 333.0)


def test_swaps_keep_the_tracker() -> None:
    counter = HitCounter("sliding", max_window_s=3_600)
    counter.record_many(("/a", 100.0 + i, f"u{i}") for i in range(50))
    before = counter.query_distinct("/a", 3_600)
    counter.swap_strategy("morris")
    assert counter.query_distinct("/a", 3_600) == before


# -- the command line ----------------------------------------------------------------------


def _brute_force_distinct(path: Path, endpoint: str, last: float) -> tuple[int, float]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    clock = max(float(row["ts"]) for row in rows)
    users = {
        row["user"]
        for row in rows
        if row["endpoint"] == endpoint and clock - last < float(row["ts"]) <= clock
    }
    return len(users), clock


@pytest.mark.parametrize(("endpoint", "last"), [("/api/login", 3_600), ("/", 86_400)])
def test_cli_query_distinct_against_brute_force(state_env: Path, endpoint: str, last: int) -> None:
    source = SAMPLES / "web.ndjson"
    truth, _ = _brute_force_distinct(source, endpoint, last)
    ok(["replay", str(source)])
    answer = json.loads(ok(["query", endpoint, "--last", str(last), "--distinct", "--json"]).stdout)
    assert answer["distinct_low"] <= truth <= answer["distinct_high"]
    assert abs(answer["distinct"] - truth) <= 3 * standard_error(12) * truth + 1
    assert answer["distinct_confidence"] == 0.95
    text = ok(["query", endpoint, "--last", str(last), "--distinct"]).stdout
    assert "distinct users" in text and "95% interval" in text
    plain = json.loads(ok(["query", endpoint, "--last", str(last), "--json"]).stdout)
    assert "distinct" not in plain


def test_cli_no_distinct_gives_a_clear_error(state_env: Path) -> None:
    ok(["replay", str(SAMPLES / "web.ndjson"), "--no-distinct"])
    result = run(["query", "/api/login", "--last", "1h", "--distinct"])
    assert result.exit_code != 0
    assert "--no-distinct" in result.stderr
    assert ok_metrics()["distinct_bytes"] == 0
    bad = run(["replay", str(SAMPLES / "web.ndjson"), "--distinct-precision", "20"])
    assert bad.exit_code != 0 and "precision" in bad.stderr


def ok_metrics() -> dict[str, object]:
    result: dict[str, object] = json.loads(ok(["metrics", "--json"]).stdout)
    return result


def _flattened(tracker: DistinctTracker) -> list[tuple[str, int, str]]:
    """The per-sketch form of `to_state` as rows: the oracle of `sketch_rows`."""
    state = tracker.to_state(compact=False)
    return sorted(
        (endpoint, int(bucket), text)
        for endpoint, buckets in state["endpoints"].items()
        for bucket, text in buckets.items()
    )


@settings(max_examples=30, deadline=None)
@given(
    bucket_s=st.sampled_from([1, 10, 60, 3600]),
    precision=st.integers(4, 14),
    hits=st.lists(
        st.tuples(st.sampled_from(["/a", "/b", "/c/d"]), st.floats(0, 5_000), st.text(max_size=4)),
        max_size=300,
    ),
    packed=st.booleans(),
)
def test_sketch_rows_are_the_per_sketch_state_as_rows(
    bucket_s: int, precision: int, hits: list[tuple[str, float, str]], packed: bool
) -> None:
    tracker = DistinctTracker(bucket_s=bucket_s, precision=precision)
    for endpoint, ts, user in hits:
        tracker.add(endpoint, ts, user)
    if packed:  # through the compact form, whose load keeps the sketches in the bulk log
        tracker = DistinctTracker.from_state(tracker.to_state(compact=True))
    assert sorted(tracker.sketch_rows()) == _flattened(tracker)


def test_sketch_rows_of_a_replayed_state_are_its_per_sketch_form() -> None:
    counter = HitCounter("fixed")
    replay(counter, [str(SAMPLES / "web.ndjson")])
    assert counter.distinct is not None
    rows = counter.distinct.sketch_rows()
    assert len(rows) > 1000 and sorted(rows) == _flattened(counter.distinct)


@settings(max_examples=40, deadline=None)
@given(precision=st.integers(4, 16), users=st.lists(st.text(max_size=6), max_size=400))
def test_sparse_bytes_are_the_header_then_each_entry_big_endian(
    precision: int, users: list[str]
) -> None:
    import struct

    sketch = HyperLogLog(precision)
    sketch.add_many(users)
    data = sketch.to_bytes()
    if not sketch.is_sparse:
        return
    sparse = sketch.sparse_registers()
    assert sparse is not None
    entries = sorted(sparse.items())  # the oracle: each entry packed on its own
    if sketch.sparse_precision > precision:  # precision 25: index and rank in 4 bytes
        body = b"".join(struct.pack(">I", index << 6 | rank) for index, rank in entries)
    else:
        body = b"".join(struct.pack(">HB", index, rank) for index, rank in entries)
    assert data.endswith(body) and len(data) > len(body)
    assert HyperLogLog.from_bytes(data) == sketch

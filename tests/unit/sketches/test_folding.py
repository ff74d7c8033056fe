"""Folding HyperLogLog sketches to a lower precision, and merges of two precisions.

The oracle is the sketch of the same users hashed at the lower precision directly: folding
must give exactly its registers (and, while both are sparse at precision 25 or both dense,
its estimate). Trackers, merged shards and `replay --append` with another precision must
equal counting every user at the lower precision from the start.
"""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter
from hitcount.ops.merge import merge_counters, merge_files, write_snapshot
from hitcount.persist.state import read_counter_file
from hitcount.sketches.distinct import DistinctTracker
from hitcount.sketches.hll import HyperLogLog, hash64, rank_of
from tests.cli_helpers import ok

START = 1_700_000_000.0


def _users(seed: int, n: int) -> list[str]:
    return [f"u{seed}-{i}" for i in range(n)]


@st.composite
def _fold_case(draw: st.DrawFn) -> tuple[int, int, list[str]]:
    high = draw(st.integers(5, 16))
    low = draw(st.integers(4, high - 1))
    # Both sparse at 25, the finer one sparse and the folded one dense, or both dense.
    low_switch, high_switch = (1 << low) // 4, (1 << high) // 4
    n = draw(
        st.one_of(
            st.integers(0, low_switch),
            st.integers(low_switch + 1, high_switch),
            st.integers(high_switch + 1, high_switch + 2000),
        )
    )
    return high, low, _users(draw(st.integers(0, 10**6)), n)


@settings(max_examples=60, deadline=None)
@given(_fold_case())
def test_a_folded_sketch_is_the_sketch_of_hashing_at_the_lower_precision(
    case: tuple[int, int, list[str]],
) -> None:
    high, low, users = case
    sketch, direct = HyperLogLog(high), HyperLogLog(low)
    sketch.add_many(users)
    direct.add_many(users)
    folded = sketch.folded(low)
    assert folded.precision == low
    assert folded.registers() == direct.registers()
    assert folded.is_sparse == direct.is_sparse
    assert folded.estimate() == direct.estimate()
    assert folded.bounds() == direct.bounds()
    assert folded == direct and folded.to_bytes() == direct.to_bytes()
    merged = HyperLogLog(low)
    merged.merge(sketch)  # a higher precision merged in is folded first
    assert merged.registers() == direct.registers()
    assert sketch.folded(high) is sketch
    with pytest.raises(ValueError, match="unfold"):
        folded.folded(high)


@settings(max_examples=30, deadline=None)
@given(st.integers(6, 14), st.integers(0, 400), st.data())
def test_an_old_sparse_sketch_at_its_precision_folds_to_the_same_registers(
    high: int, n: int, data: st.DataObject
) -> None:
    low = data.draw(st.integers(4, high - 1))
    users = _users(n, n)
    entries: dict[int, int] = {}
    for user in users:  # the old sparse form: registers at the sketch's own precision
        index, rank = rank_of(hash64(user), high)
        entries[index] = max(entries.get(index, 0), rank)
    body = b"".join(struct.pack(">HB", i, r) for i, r in sorted(entries.items()))
    old = HyperLogLog.from_bytes(
        b"HLL1" + bytes([high, 0]) + struct.pack(">I", len(entries)) + body
    )
    direct = HyperLogLog(low)
    direct.add_many(users)
    assert old.folded(low).registers() == direct.registers()


def _hits(seed: int, count: int) -> list[tuple[str, float, str]]:
    rng = random.Random(seed)
    return [
        (rng.choice(["/a", "/b"]), START + rng.uniform(0, 600), f"u{rng.randrange(count)}")
        for _ in range(count)
    ]


def _tracker(precision: int, hits: list[tuple[str, float, str]]) -> DistinctTracker:
    tracker = DistinctTracker(precision=precision)
    for endpoint, ts, user in hits:
        tracker.add(endpoint, ts, user)
    return tracker


def _registers(tracker: DistinctTracker) -> dict[tuple[str, int], bytes]:
    tracker.endpoints()  # settles what was added in bulk
    return {
        (endpoint, bucket): sketch.registers()
        for endpoint, buckets in tracker._sketches.items()
        for bucket, sketch in buckets.items()
    }


@settings(max_examples=25, deadline=None)
@given(
    st.integers(5, 14),
    st.integers(4, 13),
    st.integers(0, 10**6),
    st.sampled_from([1, 30, 300, 3000, 8000]),
)
def test_trackers_of_two_precisions_merge_as_counting_all_at_the_lower(
    first: int, second: int, seed: int, count: int
) -> None:
    hits = _hits(seed, count)
    left, right = _tracker(first, hits[::2]), _tracker(second, hits[1::2])
    left.merge(right)
    low = min(first, second)
    direct = _tracker(low, hits)
    assert left.precision == low
    assert _registers(left) == _registers(direct)
    for start in (START, START + 120, START + 300):
        assert left.query(["/a", "/b"], start, START + 600) == direct.query(
            ["/a", "/b"], start, START + 600
        )


def test_shards_of_two_precisions_merge_at_the_lower_with_a_note(tmp_path: Path) -> None:
    hits = _hits(7, 4000)
    shards = [HitCounter("sliding", distinct_precision=p) for p in (14, 11)]
    for i, hit in enumerate(hits):
        shards[i % 2].record(*hit)
    direct = HitCounter("sliding", distinct_precision=11)
    direct.record_many(hits)
    merged = merge_counters(shards, ["a.json", "b.json"])
    assert merged.distinct is not None and direct.distinct is not None
    assert merged.distinct.precision == 11
    assert _registers(merged.distinct) == _registers(direct.distinct)
    assert merged.query_distinct("*", 600) == direct.query_distinct("*", 600)
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for shard, path in zip(shards, paths, strict=True):
        write_snapshot(shard, path)
    result = merge_files(paths)
    assert result.warnings == ()
    note = (
        "note: distinct users merged at precision 11, the lowest; folded down to it (exactly"
        f" the registers of counting at 11): {paths[0]} (14)"
    )
    assert result.notes == (note,)
    shown = ok(["merge", *map(str, paths), "-o", str(tmp_path / "all.json")])
    assert note in " ".join(shown.stderr.split()) and "warning" not in shown.stderr
    summary = ok(["merge", *map(str, paths), "-o", str(tmp_path / "again.json"), "--json"])
    assert json.loads(summary.stdout)["notes"] == [note]
    again = read_counter_file(tmp_path / "again.json").distinct
    assert again is not None and _registers(again) == _registers(direct.distinct)


@pytest.mark.parametrize("suffix", [".json", ".db"])
@pytest.mark.parametrize("asked", [11, 16])
def test_an_append_at_another_precision_counts_at_the_lower(
    tmp_path: Path, suffix: str, asked: int
) -> None:
    halves = []
    for part, hits in enumerate((_hits(3, 3000), _hits(4, 3000))):
        path = tmp_path / f"part{part}.ndjson"
        path.write_text(
            "".join(
                f'{{"endpoint": "{e}", "ts": {ts + 600 * part}, "user": "{u}"}}\n'
                for e, ts, u in hits
            )
        )
        halves.append(str(path))
    state = str(tmp_path / f"state{suffix}")
    ok(["--state", state, "replay", "--distinct-precision", "13", halves[0]])
    appended = ok(
        ["--state", state, "replay", "--append", "--distinct-precision", str(asked), halves[1]]
    )
    low = min(asked, 13)
    if asked < 13:
        assert "folded down to 11" in appended.stderr
    else:
        assert "counted at 13 too" in appended.stderr
    whole = str(tmp_path / f"whole{suffix}")
    ok(["--state", whole, "replay", "--distinct-precision", str(low), *halves])
    for last in ("10m", "25m"):
        args = ["query", "*", "--distinct", "--last", last, "--json"]
        got = ok(["--state", state, *args]).stdout
        assert got == ok(["--state", whole, *args]).stdout
    tracker = read_counter_file(Path(state)).distinct
    assert tracker is not None and tracker.precision == low

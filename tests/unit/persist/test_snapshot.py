"""Snapshot documents: versioned, validated, and never trusted."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, StateError, from_bytes, from_document
from hitcount.persist.document import FORMAT, VERSION, encode, to_document

T0 = 1_767_225_600.0


def _document(strategy: str = "fixed", **params: object) -> dict[str, object]:
    counter = HitCounter(strategy, **params)
    counter.record_many(("/a" if i % 3 else "/b", T0 + i) for i in range(50))
    return msgspec.json.decode(encode(to_document(counter)))


def test_document_is_self_describing() -> None:
    document = _document("sliding", max_window_s=600)
    assert document["format"] == FORMAT
    assert document["version"] == VERSION
    assert document["strategy"] == {"name": "sliding", "params": {"max_window_s": 600.0}}
    assert document["clock"] == T0 + 49
    assert document["metrics"]["total_hits"] == 50
    assert set(document["state"]["timestamps"]) == {"/a", "/b"}


def _mutations() -> list[tuple[str, object]]:
    return [
        ("format", "something-else"),
        ("version", VERSION + 1),
        ("version", "1"),
        ("version", 0),
        ("clock", "yesterday"),
        ("clock", 1e300),
        ("max_lateness_s", -1),
        ("metrics", {"total_hits": -5}),
        ("metrics", {"total_hits": 1, "bogus": 2}),
        ("strategy", {"name": "lossy", "params": {}}),
        ("strategy", {"name": "fixed", "params": {"window_s": -1}}),
        ("strategy", {"name": "fixed", "params": {"bogus": 1}}),
        ("state", {"buckets": {"/a": {"1": "many"}}}),
        ("state", []),
        ("recent_events", "nope"),
        ("recent_events", [{"event": "strategy_swapped", "clock": "x", "old": "a", "new": "b"}]),
        ("recent_events", [{"event": "bogus", "clock": 1.0}]),
        ("recent_events", [{"event": "strategy_swapped", "clock": True}]),
        ("recent_events", [{"event": "threshold_exceeded", "clock": 1.0, "zzz": 1}]),
        ("recent_events", [{"event": "pruned", "clock": 1.0, "endpoint": ["/a"]}]),
        ("recent_events", [{"clock": 1.0}]),
        ("keys", {"fields": {"bogus": "x"}}),
        ("keys", {"fields": {"ts": ""}}),
    ]


def test_remembered_events_of_older_states_and_null_clocks_still_load() -> None:
    document = _document()
    document["recent_events"] = [
        {"event": "threshold_exceeded", "clock": T0, "endpoint": "/a", "count": 3,
         "limit": 2, "window": 60.0},  # before `ts` and `rule` were added
        {"event": "strategy_swapped", "clock": None, "old": "a", "new": "b"},
    ]  # fmt: skip
    assert list(from_document(document, "snap.json").recent_events) == document["recent_events"]


@pytest.mark.parametrize(("field", "value"), _mutations())
def test_damaged_documents_raise_state_error(field: str, value: object) -> None:
    document = _document()
    document[field] = value
    with pytest.raises(StateError):
        from_document(document, "snap.json")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a hitcount snapshot or JSON state"),
        (b"{", "not a hitcount snapshot or JSON state"),
        (b"[1, 2]", "not a hitcount snapshot or JSON state"),
        (b'{"a": 1}', "format is None"),
        (b"\x1f\x8b\x08\x00garbage", "not a hitcount snapshot or JSON state"),
        (b'{"format": "hitcount-snapshot", "version": 99}', "newer than this hitcount"),
        (b'{"format": "hitcount-snapshot", "version": 1}', "invalid snapshot"),
    ],
)
def test_foreign_truncated_and_newer_files_are_named_in_the_error(
    data: bytes, message: str
) -> None:
    with pytest.raises(StateError, match=message) as info:
        from_bytes(data, "backup.json")
    assert "backup.json" in info.value.message


def test_truncated_real_snapshot_is_refused_at_every_cut() -> None:
    data = encode(_document("morris", counters=2))
    for cut in range(0, len(data), max(1, len(data) // 40)):
        with pytest.raises(StateError):
            from_bytes(data[:cut], "cut.json")


def test_deeply_nested_json_is_refused_cleanly() -> None:
    with pytest.raises(StateError):
        from_bytes(b"[" * 100_000 + b"]" * 100_000, "deep.json")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_give_state_error_or_a_counter(data: bytes) -> None:
    try:
        counter = from_bytes(data, "fuzz.json")
    except StateError:
        return
    assert isinstance(counter, HitCounter)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    strategy=st.sampled_from(["fixed", "sliding", "morris"]),
    path=st.lists(
        st.sampled_from(
            [
                "state",
                "metrics",
                "strategy",
                "params",
                "clock",
                "horizon",
                "/a",
                "buckets",
                "timestamps",
                "counters",
                "rng_state",
                "name",
            ]
        ),
        min_size=1,
        max_size=3,
    ),
    value=JSON_VALUES,
)
def test_hand_edited_documents_load_or_fail_cleanly(
    strategy: str, path: list[str], value: object
) -> None:
    document = _document(strategy)
    target: object = document
    for key in path[:-1]:
        if not isinstance(target, dict) or key not in target:
            break
        target = target[key]
    if isinstance(target, dict):
        target[path[-1]] = value
    try:
        counter = from_document(document, "edited.json")
    except StateError:
        return
    counter.query("/a", 60)
    counter.metrics_dict()


@pytest.mark.parametrize("where", ["top", "state", "distinct"])
def test_a_document_nested_too_deeply_is_a_state_error_not_a_crash(where: str) -> None:
    deep = "[" * 5000 + "]" * 5000
    counter = HitCounter("fixed")
    counter.record("/a", 1_767_225_600.0)
    document = json.loads(encode(to_document(counter)))
    if where == "top":
        document["x"] = "DEEP"
    else:
        document[where] = {"x": "DEEP"}
    data = json.dumps(document).replace('"DEEP"', deep).encode()
    with pytest.raises(StateError):
        from_bytes(data, "deep.json")


def test_snapshot_restore_of_a_deeply_nested_file_exits_4_and_keeps_the_state(
    tmp_path: Path,
) -> None:
    from tests.cli_helpers import ok, run

    state = str(tmp_path / "state.json")
    sample = tmp_path / "one.ndjson"
    sample.write_text('{"endpoint": "/a", "ts": 1767225600}\n')
    ok(["--state", state, "replay", str(sample)])
    before = Path(state).read_bytes()
    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "hitcount-snapshot", "x": ' + "[" * 5000 + "]" * 5000 + "}")
    result = run(["--state", state, "snapshot", "restore", str(deep)])
    assert result.exit_code == 4
    assert Path(state).read_bytes() == before


@pytest.mark.parametrize("suffix", [".db", ".json"])
def test_a_users_sketch_after_the_clock_is_refused_and_the_state_kept(
    tmp_path: Path, suffix: str
) -> None:
    from tests.cli_helpers import assert_error, ok, run

    hits = tmp_path / "hits.ndjson"
    hits.write_text(
        '{"endpoint": "/a", "ts": 1700000000, "user": "u1"}\n'
        '{"endpoint": "/b", "ts": 1700000061, "user": "u2"}\n'
    )
    state = ["--state", str(tmp_path / f"state{suffix}")]
    ok([*state, "replay", str(hits)])
    snapshot = tmp_path / "snap.json"
    ok([*state, "snapshot", "save", str(snapshot)])
    document = json.loads(snapshot.read_text())
    sketches = document["distinct"]["endpoints"]["/a"]
    document["distinct"]["endpoints"]["/a"] = {"99999999": next(iter(sketches.values()))}
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    assert_error(run([*state, "snapshot", "restore", str(forged)]), 4, "after the clock")
    answer = json.loads(ok([*state, "query", "/a", "--last", "1d", "--distinct", "--json"]).stdout)
    assert answer["distinct"] == 1

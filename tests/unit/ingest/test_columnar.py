"""The columnar NDJSON fast path gives exactly what the per-line path gives."""

from __future__ import annotations

import io
import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, InputError, replay
from hitcount.ingest import reader
from hitcount.ingest import workers as sizing
from hitcount.ingest.columnar import decode_ndjson_block
from hitcount.ingest.formats.ndjson import NdjsonParser

TS_VALUES = st.one_of(
    st.floats(min_value=0, max_value=2e9),
    st.integers(min_value=0, max_value=2_000_000_000_000),
    st.sampled_from(["2026-11-28T00:00:00Z", "1700000000", "NaN", "-1", "soon", True, None]),
    st.floats(allow_nan=True, allow_infinity=True),
)
RECORDS = st.fixed_dictionaries(
    {"endpoint": st.sampled_from(["/a", "/b", "/api/c", "", 7]), "ts": TS_VALUES},
    optional={"user": st.one_of(st.text(max_size=5), st.integers(0, 99), st.just({"x": 1}))},
)
LINES = st.lists(
    st.one_of(
        RECORDS.map(lambda r: msgspec.json.encode(r)),
        st.sampled_from([b"", b"{bad", b"[1]", b'{"endpoint": "/a", "timestamp": 5}']),
    ),
    min_size=1,
    max_size=40,
)


def _per_line(lines: list[bytes]) -> list[tuple[str, float]] | None:
    parser, hits = NdjsonParser(), []
    for line in lines:
        try:
            hit = parser.parse(line)
        except Exception:
            return None
        if hit is None:
            return None  # blank lines send the block to the per-line path
        hits.append((hit.endpoint, hit.ts))
    return hits


@settings(max_examples=400, deadline=None)
@given(lines=LINES)
def test_block_decoding_agrees_with_the_line_parser_or_defers_to_it(lines: list[bytes]) -> None:
    columns = decode_ndjson_block(b"\n".join(lines) + b"\n")
    expected = _per_line(lines)
    if columns is None:
        return  # the per-line path will handle (and explain) this block
    assert expected is not None, "the fast path accepted a block with a bad line"
    got = [
        (columns.names[code], ts)
        for code, ts in zip(columns.codes.tolist(), columns.ts.tolist(), strict=True)
    ]
    assert got == expected


@settings(max_examples=60, deadline=None)
@given(lines=LINES, name=st.sampled_from(["fixed", "sliding"]), chunk=st.integers(5, 200))
def test_replay_state_is_the_same_through_either_path(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], name: str, chunk: int
) -> None:
    path = tmp_path_factory.mktemp("col") / "t.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    fast = HitCounter(name)
    slow = HitCounter(name)
    slow.subscribe("hit_recorded", lambda event: None)  # forces the per-hit path
    original = reader._CHUNK_BYTES
    try:
        fast_report = replay(fast, [str(path)])
        reader._CHUNK_BYTES = chunk  # many small blocks, split anywhere
        slow_report = replay(slow, [str(path)])
    except InputError as refusal:  # input without a single hit: both paths refuse it
        assert "no hits" in refusal.reason
        reader._CHUNK_BYTES = chunk
        with pytest.raises(InputError, match="no hits"):
            replay(HitCounter(name), [str(path)])
        return
    finally:
        reader._CHUNK_BYTES = original
    # Morris draws its randomness differently per hit and per batch (same distribution:
    # see test_morris.py), so only the deterministic strategies are compared state for state.
    assert fast.strategy.to_state() == slow.strategy.to_state()
    assert fast.metrics == slow.metrics
    assert (fast_report.hits_kept, fast_report.bad_lines) == (
        slow_report.hits_kept,
        slow_report.bad_lines,
    )
    assert fast_report.first_bad == slow_report.first_bad


def test_big_clean_file_takes_the_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "clean.ndjson"
    rows = [
        json.dumps({"endpoint": f"/e{i % 5}", "ts": 1_767_225_600 + i * 0.5}) for i in range(50_000)
    ]
    path.write_text("\n".join(rows) + "\n")
    blocks = list(reader.iter_blocks(io.BytesIO(path.read_bytes()), "x"))
    assert all(decode_ndjson_block(block) is not None for _, block in blocks if block)
    counter = HitCounter("sliding", max_window_s=10**6)
    assert replay(counter, [str(path)]).hits_kept == 50_000
    assert counter.query("/e1", 100).answer.count == 40


def test_parallel_decoding_gives_the_serial_state_and_bad_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitcount.ingest import parallel

    rows = [
        json.dumps({"endpoint": f"/e{i % 7}", "ts": 1_767_225_600 + i * 0.37, "user": f"u{i % 97}"})
        for i in range(30_000)
    ]
    rows[1234] = "{broken"
    rows[25_000] = json.dumps({"endpoint": "", "ts": 1})
    rows[29_999] = json.dumps({"endpoint": "/late", "ts": 1_767_225_600})  # far too late
    path = tmp_path / "big.ndjson"
    path.write_text("\ufeff" + "\n".join(rows))  # a BOM, and no final newline

    serial = HitCounter("sliding", max_window_s=600)
    monkeypatch.setenv("HITCOUNT_WORKERS", "0")
    serial_report = replay(serial, [str(path)])

    monkeypatch.setenv("HITCOUNT_WORKERS", "2")
    monkeypatch.setattr(sizing, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 50_000)
    assert parallel.worker_count(str(path)) == 2
    both = HitCounter("sliding", max_window_s=600)
    parallel_report = replay(both, [str(path)])

    assert [bad.line for bad in parallel_report.first_bad] == [1235, 25001]
    assert parallel_report.first_bad == serial_report.first_bad
    assert parallel_report.lines_read == serial_report.lines_read == 30_000
    assert both.metrics == serial.metrics
    assert both.metrics.late_hits == 1
    assert both.strategy.to_state() == serial.strategy.to_state()
    assert both.distinct is not None and serial.distinct is not None
    assert both.distinct.to_state() == serial.distinct.to_state()  # users crossed as registers


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("fixed", {"window_s": 10, "retention_s": 120}),  # a whole batch at once
        ("sliding", {"max_window_s": 120}),  # batches grouped by endpoint in the workers
        ("morris", {}),
    ],
)
def test_parallel_replay_with_late_hits_in_every_range_equals_recording_hit_by_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, params: dict[str, float]
) -> None:
    """Workers reduce users per endpoint and minute; ranges with late hits fall back per hit."""
    from hitcount.ingest import parallel

    start = 1_767_225_600
    rows = []
    for i in range(20_000):
        ts = start + i * 0.5
        if i % 499 == 0 or (i > 19_600 and i % 23 == 0):
            ts -= 125  # late for the strategy, yet (near the end) in a minute still kept
        rows.append({"endpoint": f"/e{i % 5}", "ts": ts, "user": f"u{i * 7919 % 301}"})
    path = tmp_path / "late.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.setenv("HITCOUNT_WORKERS", "2")
    monkeypatch.setattr(sizing, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 60_000)
    both = HitCounter(name, max_lateness_s=0, distinct_precision=8, **params)
    replay(both, [str(path)])
    oracle = HitCounter(name, max_lateness_s=0, distinct_precision=8, **params)
    for row in rows:
        oracle.record(row["endpoint"], row["ts"], row["user"])
    if name == "morris":  # keeps all time: nothing is late; its counters draw at random
        assert both.strategy.totals().keys() == oracle.strategy.totals().keys()
    else:
        assert both.metrics.late_hits == oracle.metrics.late_hits > 10
        assert both.strategy.to_state() == oracle.strategy.to_state()
    assert both.distinct is not None and oracle.distinct is not None
    assert both.distinct.to_state() == oracle.distinct.to_state()


DEEP = '{"endpoint": "/n", "ts": 1767225601, "user": ' + "[" * 5000 + "]" * 5000 + "}"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_value_nested_too_deeply_is_a_bad_line_with_its_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    from hitcount.ingest import parallel

    rows = [json.dumps({"endpoint": f"/e{i % 3}", "ts": 1_767_225_600 + i}) for i in range(3000)]
    rows[10] = rows[2500] = DEEP
    path = tmp_path / "deep.ndjson"
    path.write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("HITCOUNT_WORKERS", workers)
    monkeypatch.setattr(sizing, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 40_000)
    counter = HitCounter("sliding", max_window_s=10**6)
    report = replay(counter, [str(path)])
    assert report.hits_kept == 2998
    assert [(bad.line, bad.reason) for bad in report.first_bad] == [
        (11, "invalid JSON (values nested too deeply)"),
        (2501, "invalid JSON (values nested too deeply)"),
    ]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_blank_lines_between_and_in_floods_are_counted_and_keep_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    from hitcount.ingest import parallel

    rows: list[str] = []
    for i in range(4000):
        rows.append(json.dumps({"endpoint": f"/e{i % 5}", "ts": 1_767_225_600 + i}))
        rows.extend([""] * (i % 3) + [" \t"] * (i % 2))
    rows.extend([""] * 50_000)  # a flood of nothing
    rows.append("{broken")
    rows.append("   ")  # a blank last line without its newline
    path = tmp_path / "blanks.ndjson"
    path.write_text("\n".join(rows))
    monkeypatch.setenv("HITCOUNT_WORKERS", workers)
    monkeypatch.setattr(sizing, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 20_000)
    counter = HitCounter("sliding", max_window_s=10**6)
    report = replay(counter, [str(path)])
    assert report.lines_read == len(rows)
    assert report.hits_kept == 4000
    assert [bad.line for bad in report.first_bad] == [len(rows) - 1]
    assert counter.query("/e1", 10**6).answer.count == 800


def test_drop_blank_lines_counts_what_the_per_line_parsers_skip() -> None:
    block = b'{"a":1}\n\n \t\n{"b":2}\r\n  \x0b\n{"c":3}\n \t'
    dense, blank = reader.drop_blank_lines(block)
    assert dense == b'{"a":1}\n{"b":2}\r\n{"c":3}\n'
    assert blank == 4
    assert reader.line_count(block) == 7 == reader.line_count(dense) + blank

"""Stdin goes to the workers once it proves big, and answers as one process reading it would.

The oracle is the same bytes replayed from stdin with the per-line parsers alone (no C
scanner, no workers): the same state, distinct users, bad lines with numbers and reasons.
"""

from __future__ import annotations

import gzip
import io
import random
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, replay
from hitcount.ingest import lines, parallel, reader
from hitcount.ingest import replay as replay_module
from tests.conftest import REAL_LOGS
from tests.unit.ingest.test_parallel_formats import csv_text

if lines.native is None:
    pytest.skip("the C extensions are not built (no compiler at install)", allow_module_level=True)


def ndjson_text(seed: int, rows: int) -> bytes:
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        odd = rng.random()
        if odd < 0.02:
            out.append("{not json")
        elif odd < 0.04:
            out.append("")
        else:
            ts = 1_700_000_000 + i - rng.randrange(30)
            out.append(f'{{"endpoint": "/e{rng.randrange(40)}", "ts": {ts}, "user": "u{i % 97}"}}')
    return ("\n".join(out) + "\n").encode()


def from_stdin(data: bytes, workers: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    monkeypatch.setenv("HITCOUNT_WORKERS", workers)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    bad: list[tuple[int, str]] = []
    counter = HitCounter("sliding", max_window_s=86400, distinct_precision=8)
    report = replay(counter, ["-"], on_bad_line=lambda b: bad.append((b.line, b.reason)))
    assert counter.distinct is not None
    return counter.strategy.to_state(), counter.distinct.to_state(), bad, report.lines_read


def _spy_streams(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = parallel.decode_stream_in_parallel

    def spy(blocks: Any, workers: int, options: Any) -> Any:
        calls.append(workers)
        return real(blocks, workers, options)

    monkeypatch.setattr(parallel, "decode_stream_in_parallel", spy)
    return calls


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    rows=st.integers(200, 4000),
    ahead=st.integers(1, 60_000),
    chunk=st.integers(300, 20_000),
    shape=st.sampled_from(["ndjson", "csv", "gzip"]),
)
def test_stdin_through_the_workers_equals_the_per_line_replay(
    seed: int, rows: int, ahead: int, chunk: int, shape: str
) -> None:
    """Drawn: how much stdin is read before deciding, block size, format, gzip or not."""
    text = csv_text(seed, rows) if shape == "csv" else ndjson_text(seed, rows)
    data = gzip.compress(text) if shape == "gzip" else text
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(replay_module, "PARALLEL_MIN_BYTES", ahead)
        monkeypatch.setattr(reader, "_CHUNK_BYTES", chunk)
        calls = _spy_streams(monkeypatch)
        fast = from_stdin(data, "2", monkeypatch)
        assert calls == ([2] if len(text) > ahead else [])  # small: stays on this core
        monkeypatch.setattr(lines, "native", None)
        slow = from_stdin(data, "0", monkeypatch)
    assert fast == slow


def test_a_real_access_log_on_stdin_takes_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    data = gzip.decompress((REAL_LOGS / "elastic_apache_logs_2015-05.log.gz").read_bytes())
    monkeypatch.setattr(replay_module, "PARALLEL_MIN_BYTES", 256 * 1024)
    monkeypatch.setattr(reader, "_CHUNK_BYTES", 64 * 1024)
    calls = _spy_streams(monkeypatch)
    fast = from_stdin(data, "2", monkeypatch)
    assert calls == [2]
    assert fast[3] == data.count(b"\n")  # every line read
    monkeypatch.setattr(lines, "native", None)
    assert from_stdin(data, "0", monkeypatch) == fast

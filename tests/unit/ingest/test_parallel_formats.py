"""Workers decode CSV, access-log and gzip files in ranges exactly as one process would.

The oracle is the same replay with the per-line parsers alone (no C scanner, no workers):
the same state, the same distinct users, the same bad lines with their numbers and reasons.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, replay
from hitcount.ingest import lines, parallel, reader, workers
from hitcount.ingest.formats.csv import CsvParser

if lines.native is None:
    pytest.skip("the C extensions are not built (no compiler at install)", allow_module_level=True)


def csv_text(seed: int, rows: int) -> bytes:
    """A CSV file with a header, ISO and epoch times, and quoted fields, some spanning lines."""
    rng = random.Random(seed)
    out = ["user,ts,path"]
    for i in range(rows):
        ts = 1_700_000_000 + i
        stamp = str(ts) if rng.random() < 0.7 else f"2023-11-14T22:{i // 60 % 60:02d}:00Z"
        row = f"u{rng.randrange(50)},{stamp},/p{rng.randrange(20)}"
        odd = rng.random()
        if odd < 0.03:
            row = f'u1,{ts},"/quoted,{i}"'
        elif odd < 0.05:
            row = f'u1,{ts},"/open'  # a record spanning lines: bad up to the closing quote
        elif odd < 0.07:
            row = 'closing",x'
        elif odd < 0.08:
            row = ""
        out.append(row)
    return ("\n".join(out) + "\n").encode()


def replayed(
    path: Path, workers: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[object, object, list[tuple[int, str]], int]:
    monkeypatch.setenv("HITCOUNT_WORKERS", workers)
    bad: list[tuple[int, str]] = []
    counter = HitCounter("sliding", max_window_s=86400, distinct_precision=8)
    report = replay(counter, [str(path)], on_bad_line=lambda b: bad.append((b.line, b.reason)))
    assert counter.distinct is not None
    return counter.strategy.to_state(), counter.distinct.to_state(), bad, report.lines_read


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**6), rows=st.integers(50, 3000), step=st.integers(200, 5000),
       gzipped=st.booleans())  # fmt: skip
def test_csv_through_the_workers_equals_the_per_line_replay(
    seed: int, rows: int, step: int, gzipped: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Ranges start inside quoted fields that span lines: the parent reads those itself."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        path = tmp_path_factory.mktemp("csv") / "hits.csv"
        text = csv_text(seed, rows)
        path.write_bytes(gzip.compress(text) if gzipped else text)
        monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(parallel, "RANGE_BYTES", step)
        monkeypatch.setattr(reader, "_CHUNK_BYTES", step)  # gzip: blocks joined to ~step
        fast = replayed(path, "2", monkeypatch)
        monkeypatch.setattr(lines, "native", None)
        slow = replayed(path, "0", monkeypatch)
    assert fast == slow


def test_a_range_that_starts_inside_a_quoted_field_is_read_by_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = b"path,ts\n/a,1700000000\n"
    opened = b'/b,1700000001,"still open\n'  # the range ends inside the quote
    data = head + opened + b'/c,1700000002,closes here"\n/d,1700000003\n'
    path = tmp_path / "hits.csv"
    path.write_bytes(data)
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", len(head + opened) - 1)
    resumed: list[bool] = []
    real = CsvParser.after_header.__func__  # type: ignore[attr-defined]

    def spy(cls: type[CsvParser], columns: tuple[int, int, int | None], in_quotes: bool = False):
        resumed.append(in_quotes)
        return real(cls, columns, in_quotes)

    monkeypatch.setattr(CsvParser, "after_header", classmethod(spy))
    fast = replayed(path, "2", monkeypatch)
    assert True in resumed  # the parent re-read the second range in the quote's state
    assert fast[2] == [
        (3, "invalid CSV (a quoted field is not closed; records spanning lines are not supported)"),
        (4, "invalid CSV (inside a quoted field opened above; records spanning lines are not "
            "supported)"),
    ]  # fmt: skip
    monkeypatch.setattr(lines, "native", None)
    assert replayed(path, "0", monkeypatch) == fast

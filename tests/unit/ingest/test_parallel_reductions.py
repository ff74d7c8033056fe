"""Workers count their range for the strategy; the parent merges, lateness stays exact.

A range with no late hit arrives reduced (bucket counts, `tiered`'s fine ones too, sorted
runs, hit counts) and the parent only merges it; a range with a late hit, including one whose
very first line is late against the previous range's newest hit, is recorded from its
columns as before. The oracle
is the same hits recorded one by one with `HitCounter.record` (for `morris`, whose counters
draw at random: the same parallel replay with the reductions switched off).
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hitcount import HitCounter, replay
from hitcount.ingest import lines, parallel, workers
from hitcount.model.columns import Columns
from hitcount.strategies.base import Strategy

if lines.native is None:
    pytest.skip("the C extensions are not built (no compiler at install)", allow_module_level=True)

START = 1_767_225_600
RANGE = 40_000
LATE_S = 200


def _stamp(ts: float, fmt: str) -> str:
    """One line of the format at `ts` (whole seconds: access logs have no fractions)."""
    if fmt == "combined":
        when = datetime.fromtimestamp(ts, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
        return f'10.0.0.{int(ts) % 7} - - [{when}] "GET /e{int(ts) % 5} HTTP/1.1" 200 5 "-" "x"'
    return json.dumps({"endpoint": f"/e{int(ts) % 5}", "ts": ts, "user": _user(ts)})


def _user(ts: float) -> str:
    return f"u{int(ts) % 301:03d}"  # one width: a late line keeps its length


def _write(path: Path, stamps: list[float], fmt: str, gzipped: bool) -> None:
    text = "".join(_stamp(ts, fmt) + "\n" for ts in stamps).encode()
    path.write_bytes(gzip.compress(text) if gzipped else text)


def _late_file(tmp_path: Path, fmt: str, gzipped: bool) -> tuple[Path, list[float]]:
    """Hits a second apart, three of them `LATE_S` seconds late.

    The first line of the third range is one of them, and two near the end; each line keeps
    its length, so the ranges stay put.
    """
    stamps = [float(START + i) for i in range(12_000)]
    path = tmp_path / f"hits.{'log' if fmt == 'combined' else 'ndjson'}"
    _write(path, stamps, fmt, False)
    starts = [
        start for start, _ in parallel.plan_ranges(str(path), path.stat().st_size, RANGE) or []
    ]
    assert len(starts) > 6
    first_of_third = path.read_bytes()[: starts[2]].count(b"\n")
    for i in (first_of_third, 11_000, 11_500):
        stamps[i] -= LATE_S
    _write(path, stamps, fmt, gzipped)
    return path, stamps


def _spy(monkeypatch: pytest.MonkeyPatch, cls: type[Strategy]) -> list[bool]:
    """Record whether each call of `record_reduced` was taken (not None)."""
    calls: list[bool] = []
    original = cls.record_reduced

    def spied(self: Strategy, names: Any, reduced: object) -> int | None:
        kept = original(self, names, reduced)
        calls.append(kept is not None)
        return kept

    monkeypatch.setattr(cls, "record_reduced", spied)
    return calls


def _parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITCOUNT_WORKERS", "2")
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", RANGE)


@pytest.mark.parametrize("fmt", ["ndjson", "combined"])
@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("fixed", {"window_s": 10, "retention_s": 120}),
        ("sliding", {"max_window_s": 120}),
        (
            "tiered",
            {
                "fine_s": 2,
                "fine_retention_s": 30,
                "mid_s": 10,
                "mid_retention_s": 60,
                "coarse_s": 20,
                "coarse_retention_s": 120,
            },
        ),
    ],
)
def test_reduced_ranges_and_late_ranges_give_the_hit_by_hit_state(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    gzipped: bool,
    name: str,
    params: dict[str, float],
) -> None:
    path, stamps = _late_file(tmp_path, fmt, gzipped)
    _parallel(monkeypatch)
    if gzipped:  # the parent decompresses; workers decode blocks of about RANGE bytes
        monkeypatch.setattr("hitcount.ingest.reader._CHUNK_BYTES", RANGE)
    both = HitCounter(name, max_lateness_s=0, distinct_precision=8, **params)
    calls = _spy(monkeypatch, type(both.strategy))
    report = replay(both, [str(path)])
    oracle = HitCounter(name, max_lateness_s=0, distinct_precision=8, **params)
    for ts in stamps:
        line = _stamp(ts, fmt)
        user = line.split(" ", 1)[0] if fmt == "combined" else _user(ts)
        oracle.record(f"/e{int(ts) % 5}", ts, user)
    assert report.hits_read == len(stamps)
    assert both.metrics.late_hits == oracle.metrics.late_hits == 3
    assert both.strategy.to_state() == oracle.strategy.to_state()
    assert both.distinct is not None and oracle.distinct is not None
    assert both.distinct.to_state() == oracle.distinct.to_state()
    assert calls.count(True) >= 3  # most ranges were merged from their reduction ...
    batches = both.metrics.total_hits + both.metrics.late_hits
    assert batches == len(stamps)  # ... and the late ones were recorded from columns


@pytest.mark.parametrize("fmt", ["ndjson", "combined"])
@pytest.mark.parametrize("gzipped", [False, True])
def test_morris_levels_are_the_same_serial_or_through_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, gzipped: bool
) -> None:
    """One seed, one file: the same levels whoever counted the ranges and however cut."""
    path, _ = _late_file(tmp_path, fmt, gzipped)
    _parallel(monkeypatch)
    if gzipped:
        monkeypatch.setattr("hitcount.ingest.reader._CHUNK_BYTES", RANGE)
    reduced = HitCounter("morris", seed=7, counters=6, base=1.3)
    calls = _spy(monkeypatch, type(reduced.strategy))
    replay(reduced, [str(path)])
    assert calls and all(calls)
    monkeypatch.setenv("HITCOUNT_WORKERS", "0")
    serial = HitCounter("morris", seed=7, counters=6, base=1.3)
    replay(serial, [str(path)])
    assert reduced.strategy.to_state() == serial.strategy.to_state()
    assert reduced.metrics.total_hits == serial.metrics.total_hits == 12_000
    assert max(max(levels) for levels in serial.strategy.to_state()["counters"].values()) > 5


def test_an_endpoint_cap_takes_the_columns_not_the_reduction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Capping renames endpoints per hit: workers are not asked to reduce."""
    path, stamps = _late_file(tmp_path, "ndjson", False)
    _parallel(monkeypatch)
    capped = HitCounter("fixed", window_s=10, retention_s=120, max_lateness_s=0)
    capped.max_endpoints = 2
    seen: list[object] = []
    original = HitCounter.record_columns

    def spied(self: HitCounter, columns: Columns) -> int:
        seen.append(columns.reduced)
        return original(self, columns)

    monkeypatch.setattr(HitCounter, "record_columns", spied)
    replay(capped, [str(path)])
    oracle = HitCounter("fixed", window_s=10, retention_s=120, max_lateness_s=0)
    oracle.max_endpoints = 2
    for ts in stamps:
        oracle.record(f"/e{int(ts) % 5}", ts, _user(ts))
    assert len(seen) > 6 and seen.count(None) == len(seen)
    assert capped.strategy.to_state() == oracle.strategy.to_state()


@pytest.mark.parametrize("workers", ["2", "0"])
def test_resume_leaves_a_last_line_without_its_newline_in_ranges_or_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """Under `resume` the unfinished last line is not read, on every core or on one, and
    the position ends before it; the next resume reads it whole (QA P2)."""  # noqa: D205, D209
    path, stamps = _late_file(tmp_path, "ndjson", False)
    _parallel(monkeypatch)
    monkeypatch.setenv("HITCOUNT_WORKERS", workers)
    whole = path.read_bytes()
    path.write_bytes(whole[:-9])  # the writer is in the middle of the last line
    counter = HitCounter("sliding", max_window_s=10**6, max_lateness_s=10**6)
    report = replay(counter, [str(path)], resume=True)
    assert report.held == [(str(path), len(stamps))]
    assert counter.metrics.total_hits == report.lines_read == len(stamps) - 1
    position = counter.inputs[str(path)]
    assert (position.lines, position.offset) == (len(stamps) - 1, whole.rindex(b"\n", 0, -1) + 1)
    path.write_bytes(whole)
    replay(counter, [str(path)], resume=True, starts={str(path): position})
    assert counter.metrics.total_hits == len(stamps)

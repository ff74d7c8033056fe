"""Streams (gzip files, stdin) stay on one core unless $HITCOUNT_WORKERS asks for workers.

Oracle: the rule written out (ranges: one worker a core, at most 8; streams: none by default,
measured by scripts/bench_streams.py) against files of known size and kind.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from hitcount.ingest import workers


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 4096)
    monkeypatch.setattr(workers.os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    lines = b"".join(b'{"endpoint": "/a", "ts": %d}\n' % i for i in range(2000))
    plain, packed = tmp_path / "a.ndjson", tmp_path / "a.ndjson.gz"
    plain.write_bytes(lines)
    packed.write_bytes(gzip.compress(lines, compresslevel=0))
    return {"plain": plain, "gzip": packed}


@pytest.mark.parametrize(
    ("wanted", "plain", "packed", "stream"),
    [(None, 3, 0, 0), ("2", 2, 2, 2), ("4", 4, 4, 4), ("1", 0, 0, 0), ("0", 0, 0, 0)],
)  # fmt: skip
def test_ranges_take_a_worker_a_core_and_streams_only_when_asked(
    big: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    wanted: str | None,
    plain: int,
    packed: int,
    stream: int,
) -> None:
    if wanted is None:
        monkeypatch.delenv("HITCOUNT_WORKERS", raising=False)
    else:
        monkeypatch.setenv("HITCOUNT_WORKERS", wanted)
    assert workers.worker_count(str(big["plain"])) == plain
    assert workers.worker_count(str(big["gzip"])) == packed
    assert workers.stream_workers() == stream

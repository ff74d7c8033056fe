"""A gzip replay hands the workers blocks of about `STREAM_BYTES`: the parent, which holds a
few of them at once, stays small however large the ranges of a plain file are."""  # noqa: D205, D209

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hitcount import HitCounter, replay
from hitcount.ingest import parallel, workers

STREAM = 20_000
CHUNK = 5_000


def test_gzip_blocks_stay_near_stream_bytes_and_answers_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamps = [1_767_225_600 + i * 0.37 for i in range(6_000)]
    lines = [json.dumps({"endpoint": f"/e{i % 7}", "ts": ts}) for i, ts in enumerate(stamps)]
    path = tmp_path / "hits.ndjson.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    monkeypatch.setenv("HITCOUNT_WORKERS", "2")
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 1 << 24)  # a plain file's ranges: large
    monkeypatch.setattr(parallel, "STREAM_BYTES", STREAM)
    monkeypatch.setattr("hitcount.ingest.reader._CHUNK_BYTES", CHUNK)
    sizes: list[int] = []
    original = parallel.decode_stream_in_parallel

    def spied(blocks: Iterable[tuple[int, bytes | None]], *args: Any) -> Iterator[Any]:
        for (first, data), result in original(blocks, *args):
            sizes.append(len(data or b""))
            yield (first, data), result

    monkeypatch.setattr(parallel, "decode_stream_in_parallel", spied)
    counter = HitCounter("fixed", window_s=60, retention_s=86_400, max_lateness_s=0)
    replay(counter, [str(path)])
    oracle = HitCounter("fixed", window_s=60, retention_s=86_400, max_lateness_s=0)
    for i, ts in enumerate(stamps):
        oracle.record(f"/e{i % 7}", ts)
    assert counter.strategy.to_state() == oracle.strategy.to_state()
    longest_line = max(map(len, lines)) + 1
    assert sum(sizes) == sum(len(line) + 1 for line in lines)
    assert len(sizes) >= sum(sizes) // (STREAM + CHUNK + longest_line)
    assert max(sizes) <= STREAM + CHUNK + longest_line

"""Input positions recorded by a replay: exact lines and byte offsets, on every read path."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter
from hitcount.ingest.replay import replay
from hitcount.model.positions import InputPosition


def _offsets(data: bytes) -> list[int]:
    """Byte offset after each line (the oracle): `[0, end of line 1, end of line 2, ...]`."""
    ends, at = [0], 0
    for line in data.splitlines(keepends=True):
        at += len(line)
        ends.append(at)
    return ends


def _lines(count: int, seed: int, blank_every: int) -> bytes:
    out = []
    for i in range(count):
        if blank_every and i % blank_every == 0:
            out.append(b"\n")
            continue
        hit = {"endpoint": f"/e{(i * 7 + seed) % 13}", "ts": 1000 + i * 0.5, "pad": "x" * (i % 90)}
        out.append(json.dumps(hit).encode() + b"\n")
    return b"".join(out)


@settings(max_examples=12, deadline=None)
@given(
    count=st.integers(5_000, 30_000),
    seed=st.integers(0, 99),
    blank_every=st.sampled_from([0, 7, 101]),
    bom=st.booleans(),
    final_newline=st.booleans(),
)
def test_each_checkpoint_and_the_end_record_the_exact_offset_of_their_line(
    tmp_path_factory: pytest.TempPathFactory,
    count: int,
    seed: int,
    blank_every: int,
    bom: bool,
    final_newline: bool,
) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + _lines(count, seed, blank_every)
    if not final_newline:
        data = data[:-1]
    path = tmp_path_factory.mktemp("pos") / "hits.ndjson"
    path.write_bytes(data)
    ends = _offsets(data)
    counter = HitCounter("fixed")
    seen: list[InputPosition] = []

    def checkpoint(source: str, lines: int, final: bool) -> None:
        position = counter.inputs[os.path.realpath(source)]
        assert position.lines == lines
        seen.append(position)

    replay(counter, [str(path)], on_checkpoint=checkpoint)
    assert seen
    for position in seen:
        assert position.offset == ends[position.lines]
    end = counter.inputs[os.path.realpath(path)]
    assert (end.lines, end.offset) == (len(ends) - 1, len(data))
    assert end.read_whole(os.open(path, os.O_RDONLY))


def test_a_gzip_file_is_known_by_lines_inside_and_by_its_size_at_the_end(tmp_path: Path) -> None:
    data = _lines(40_000, 3, 0)
    path = tmp_path / "hits.ndjson.gz"
    path.write_bytes(gzip.compress(data))
    counter = HitCounter("fixed")
    offsets: list[int] = []
    replay(counter, [str(path)], on_checkpoint=lambda s, n, f: offsets.append(
        counter.inputs[os.path.realpath(s)].offset))  # fmt: skip
    end = counter.inputs[os.path.realpath(path)]
    assert end.lines == data.count(b"\n") and end.offset == path.stat().st_size
    assert set(offsets[:-1]) <= {0, path.stat().st_size}


def test_a_stop_records_the_lines_counted_so_far(tmp_path: Path) -> None:
    data = _lines(60_000, 5, 0)  # several blocks: the stop comes after the first ones
    path = tmp_path / "hits.ndjson"
    path.write_bytes(data)
    counter = HitCounter("fixed")
    batches = [0]

    def stop() -> bool:
        batches[0] += 1
        return batches[0] == 2

    report = replay(counter, [str(path)], stop=stop)
    assert report.stopped
    position = counter.inputs[os.path.realpath(path)]
    assert position.lines == report.lines_read == counter.metrics.total_hits < 60_000
    assert position.offset == _offsets(data)[position.lines]


def test_the_last_checkpoint_of_a_stopped_replay_names_the_file_it_stopped_in(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(_lines(60_000, 1, 0))
    second.write_bytes(_lines(100, 2, 0))
    counter = HitCounter("fixed")
    calls: list[tuple[str, int, bool]] = []
    batches = [0]

    def stop() -> bool:
        batches[0] += 1
        return batches[0] == 2

    replay(counter, [str(first), str(second)], stop=stop,
           on_checkpoint=lambda s, n, f: calls.append((s, n, f)))  # fmt: skip
    source, lines, final = calls[-1]
    assert final and source == str(first)
    assert lines == counter.inputs[os.path.realpath(first)].lines == counter.metrics.total_hits

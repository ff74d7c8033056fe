"""How far a replay has got: lines, and bytes of the inputs' size (gzip by compressed bytes).

The sizes come from the file system (`os.path.getsize`), the line counts from the text the
test wrote; the progress text is checked against hand-computed cases.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitcount import HitCounter
from hitcount.cli.render.text import progress_text
from hitcount.ingest import parallel, workers
from hitcount.ingest.progress import ReplayProgress
from hitcount.ingest.replay import replay

T0 = 1_767_225_600.0


def _lines(count: int, seed: int) -> str:
    rng = random.Random(seed)  # random paths and users: gzip cannot shrink them much
    return "".join(
        json.dumps({"endpoint": f"/p/{rng.getrandbits(64):x}", "ts": T0 + i, "user": str(i)}) + "\n"
        for i in range(count)
    )


def _progress(sources: list[str], **kwargs: object) -> list[ReplayProgress]:
    seen: list[ReplayProgress] = []
    replay(HitCounter("fixed"), sources, on_progress=seen.append, **kwargs)  # type: ignore[arg-type]
    return seen


def _check_steady(seen: list[ReplayProgress], total: int | None, lines: int) -> None:
    assert seen and all(p.total_bytes == total for p in seen)
    assert [p.done_bytes for p in seen] == sorted(p.done_bytes for p in seen)
    assert [p.lines for p in seen] == sorted(p.lines for p in seen)
    assert seen[-1].lines == lines


def test_a_gzip_file_counts_in_compressed_bytes(tmp_path: Path) -> None:
    text = _lines(40_000, 1)  # about 3 MiB of text: several 1 MiB blocks
    path = tmp_path / "access.ndjson.gz"
    path.write_bytes(gzip.compress(text.encode()))
    size = os.path.getsize(path)
    seen = _progress([str(path)])
    _check_steady(seen, size, 40_000)
    assert len(seen) >= 3 and seen[-1].done_bytes == size and seen[-1].fraction == 1.0
    for p in seen[:-1]:  # the share of bytes read follows the share of lines read
        assert p.fraction is not None and abs(p.fraction - p.lines / 40_000) < 0.1


def test_two_files_add_up_and_the_first_counts_whole_once_read(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.ndjson.gz"
    first.write_text("".join(f"/a,{T0 + i}\n" for i in range(100)))
    second.write_bytes(gzip.compress(_lines(30_000, 2).encode()))
    sizes = os.path.getsize(first), os.path.getsize(second)
    seen = _progress([str(first), str(second)])
    _check_steady(seen, sum(sizes), 30_100)
    assert seen[0].lines == 100 and seen[0].done_bytes == sizes[0]
    assert seen[-1].done_bytes == sum(sizes)


def test_a_big_file_read_by_workers_reports_each_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITCOUNT_WORKERS", "2")
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 200_000)
    path = tmp_path / "big.ndjson"
    path.write_text(_lines(20_000, 3))
    size = os.path.getsize(path)
    seen = _progress([str(path)])
    _check_steady(seen, size, 20_000)
    assert len(seen) >= size // 200_000 and seen[-1].done_bytes == size


def test_stdin_has_no_size(monkeypatch: pytest.MonkeyPatch) -> None:
    data = "".join(f"/a,{T0 + i}\n" for i in range(10)).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    seen = _progress(["-"], fmt="csv")
    assert seen[-1].lines == 10 and all(p.fraction is None for p in seen)


@pytest.mark.parametrize(
    ("progress", "elapsed", "expected"),
    [
        (
            ReplayProgress(1200, 25, 100),
            5.0,
            "replaying: 25% · 1,200 lines · 0:05 elapsed, about 0:15 left · 240 lines/s",
        ),
        (
            ReplayProgress(5, 999, 1000, "sliding, 2 of 7"),
            61.5,
            "replaying (sliding, 2 of 7): 99% · 5 lines · 1:01 elapsed, about 0:01 left"
            " · 0 lines/s",
        ),
        (ReplayProgress(7, 40, None), 2.0, "replaying: 7 lines · 0:02 elapsed · 4 lines/s"),
        (
            ReplayProgress(9, 10, 10),
            3661.0,
            "replaying: 100% · 9 lines · 1:01:01 elapsed · 0 lines/s",
        ),
        (ReplayProgress(0, 0, 10), 0.0, "replaying: 0% · 0 lines · 0:00 elapsed"),
    ],
)
def test_progress_text(progress: ReplayProgress, elapsed: float, expected: str) -> None:
    assert progress_text("replaying", progress, elapsed) == expected


@given(
    done=st.integers(min_value=0, max_value=10**12),
    extra=st.integers(min_value=0, max_value=10**12),
    elapsed=st.floats(min_value=0.001, max_value=10**6),
)
def test_the_time_left_is_the_pace_so_far_applied_to_the_rest(
    done: int, extra: int, elapsed: float
) -> None:
    total = done + extra
    text = progress_text("replaying", ReplayProgress(1, done, total), elapsed)
    share = done / total if total else 1.0
    assert f"{int(share * 100) if share < 1 else 100}%" in text.split(" · ")[0]
    if 0 < share < 1:
        left = text.split("about ")[1].split(" left")[0]
        seconds = sum(int(part) * 60**i for i, part in enumerate(reversed(left.split(":"))))
        exact = elapsed * extra / done  # rounded up to a whole second
        slack = exact * 1e-9 + 1e-6  # float rounding of the share
        assert exact - slack <= seconds < exact + 1 + slack
    else:
        assert "left" not in text

"""A resumed CSV file keeps its header's column order; a resumed plain file is not reread.

Oracle: the hits written, counted per endpoint by hand from the rows; `blocks_after` against
the bytes of the file after the recorded lines and a count of the bytes read.
"""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import pytest

from hitcount.ingest.reader import blocks_after, iter_blocks, skip_lines
from tests.cli_helpers import ok, ok_json

COLUMN_ORDERS = (("user", "timestamp", "endpoint"), ("timestamp", "endpoint"))


def _rows(seed: int, count: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [
        {"user": f"u{rng.randrange(9)}", "timestamp": str(5000 + i), "endpoint": f"/e{i % 4}"}
        for i in range(count)
    ]


def _csv(rows: list[dict[str, str]], columns: tuple[str, ...], header: bool) -> str:
    head = [",".join(columns)] if header else []
    return "".join(line + "\n" for line in head + [",".join(r[c] for c in columns) for r in rows])


def _counts(state: list[str]) -> dict[str, int]:
    rows = ok_json([*state, "top", "--last", "1d", "--now", "6000", "--json"])
    return {row["endpoint"]: row["count"] for row in rows}


@pytest.mark.parametrize("store", ["state.db", "state.json"])
@pytest.mark.parametrize("columns", COLUMN_ORDERS)
@pytest.mark.parametrize("name", ["hits.csv", "hits.txt"])
def test_a_resumed_csv_reads_its_columns_from_the_header(
    tmp_path: Path, store: str, columns: tuple[str, ...], name: str
) -> None:
    rows = _rows(len(columns), 40)
    log = tmp_path / name
    log.write_text(_csv(rows[:25], columns, header=True))
    state = ["--state", str(tmp_path / store)]
    fmt = [] if name.endswith(".csv") else ["--format", "csv"]
    ok([*state, "replay", str(log), "-s", "fixed", "--retention", "1e6", *fmt])
    with log.open("a") as handle:
        handle.write(_csv(rows[25:], columns, header=False))
    resumed = ok([*state, "replay", "--append", "--resume", str(log), *fmt])
    assert "resuming after line 26" in resumed.stderr
    assert "0 bad lines" in resumed.stdout
    expected: dict[str, int] = {}
    for row in rows:
        expected[row["endpoint"]] = expected.get(row["endpoint"], 0) + 1
    assert _counts(state) == expected


class _Counted(io.RawIOBase):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at, self.read_bytes = data, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._at = offset if whence == 0 else len(self._data) + offset
        return self._at

    def tell(self) -> int:
        return self._at

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data[self._at : self._at + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._at += len(chunk)
        self.read_bytes += len(chunk)
        return len(chunk)


def _lines(count: int) -> bytes:
    return b"".join(b'{"endpoint": "/a", "ts": %d}\n' % i for i in range(count))


def test_a_plain_file_seeks_past_the_lines_counted() -> None:
    data = _lines(200_000)  # about 6 MiB
    skip = 190_000
    offset = len(_lines(skip))
    raw = _Counted(data)
    blocks = list(blocks_after(io.BufferedReader(raw), "x", skip, offset))
    assert blocks[0][0] == skip + 1
    assert b"".join(block or b"" for _, block in blocks) == data[offset:]
    assert raw.read_bytes < len(data) - offset + 2 * 1024 * 1024  # the skipped part unread


@pytest.mark.parametrize("moved", [-3, 5])
def test_an_offset_inside_a_line_reads_past_the_lines_instead(moved: int) -> None:
    data = _lines(5_000)
    skip = 1_234
    offset = len(_lines(skip)) + moved  # not a line start: the file changed under it
    blocks = list(blocks_after(io.BufferedReader(_Counted(data)), "x", skip, offset))
    expected = list(skip_lines(iter_blocks(io.BytesIO(data), "x"), skip))
    assert blocks == expected


def test_gzip_content_is_read_past_the_lines() -> None:
    data = _lines(3_000)
    packed = gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(data)), mode="rb")
    blocks = list(blocks_after(packed, "x", 1_000, 999))  # a compressed offset: never sought
    assert blocks[0][0] == 1_001
    assert b"".join(block or b"" for _, block in blocks) == data[len(_lines(1_000)) :]

"""Inputs in time order: by the timestamp of each one's first hit, stdin as given."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

from hitcount.ingest.ordering import first_timestamp, in_time_order


def test_first_timestamp_skips_blank_and_bad_lines_and_sniffs_the_format(tmp_path: Path) -> None:
    log = tmp_path / "access"
    log.write_bytes(
        b"\n  \n"
        b'1.2.3.4 - - [10/Oct/2000:13:55:30 -0700] "-" 408 1\n'  # no request: a bad line
        b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1\n'
    )
    assert first_timestamp(str(log)) == 971211336.0  # 2000-10-10T20:55:36Z
    unknown = tmp_path / "unknown"
    unknown.write_text("not a line of any format\n")
    assert first_timestamp(str(unknown)) == math.inf  # the replay itself says why
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n\n")
    assert first_timestamp(str(empty)) == math.inf


def test_in_time_order_is_stable_and_leaves_stdin_alone(tmp_path: Path) -> None:
    def write(name: str, ts: int, zipped: bool = False) -> str:
        data = f'{{"endpoint": "/a", "ts": {ts}}}\n'.encode()
        path = tmp_path / name
        path.write_bytes(gzip.compress(data) if zipped else data)
        return str(path)

    new, old, none = write("a.ndjson", 300), write("b.ndjson.gz", 100, True), str(tmp_path / "n")
    Path(none).write_text("")
    same = write("c.ndjson", 300)
    assert in_time_order([new, none, old, same]) == [old, new, same, none]
    assert in_time_order(["-", new, old]) == ["-", new, old]
    assert in_time_order([new]) == [new]

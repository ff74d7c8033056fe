"""`--append --resume` on a log being written: a last line without its newline yet.

A writer may be in the middle of a line when a cron job resumes. A last line that does not
parse (yet) is left out of the recorded position and read again whole next time; one that
counted is not counted again, and a warning says when it went on growing after it counted.

Oracle: the complete lines written, counted with the json module / a regex, never with
hitcount's parsers.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.cli_helpers import assert_error, ok, ok_json, run
from tests.conftest import REAL_LOGS

_PATH = re.compile(rb'"[A-Z]+ (\S+)')


def _counts(state: list[str], now: str) -> dict[str, int]:
    rows = ok_json([*state, "top", "--last", "30d", "--now", now, "--limit", "100000", "--json"])
    return {row["endpoint"]: row["count"] for row in rows}


def _ndjson(seed: int, count: int) -> bytes:
    rng = random.Random(seed)
    rows = [{"endpoint": f"/e{rng.randrange(6)}", "ts": 1_000_000 + i} for i in range(count)]
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def _access_log(count: int) -> bytes:
    import gzip

    whole = gzip.decompress((REAL_LOGS / "nasa_http_jul95_first4k.log.gz").read_bytes())
    return b"".join(line + b"\n" for line in whole.splitlines()[:count])


def _csv(seed: int, count: int) -> bytes:
    rng = random.Random(seed)
    rows = [f"/e{rng.randrange(6)},{1_000_000 + i},u{rng.randrange(100)}" for i in range(count)]
    return "".join(row + "\n" for row in ["endpoint,ts,user", *rows]).encode()


def _complete_counts(data: bytes, kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in data.splitlines()[1 if kind == "csv" else 0 :]:
        if kind == "csv":
            endpoint = line.decode().split(",")[0]
        elif kind == "ndjson":
            endpoint = json.loads(line)["endpoint"]
        else:
            found = _PATH.search(line)
            if found is None:
                continue
            endpoint = found.group(1).decode().split("?")[0]
        counts[endpoint] = counts.get(endpoint, 0) + 1
    return counts


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["ndjson", "access", "csv"]),
    seed=st.integers(0, 10**6),
    cuts=st.lists(st.integers(1, 5_000), min_size=1, max_size=6),
    store=st.sampled_from(["s.json", "s.db"]),
)
# a line counted without its newline, then "\n" and one byte of the next line: resuming
# skips the counted line's end, and the unfinished next line must be read again whole
@example(kind="access", seed=0, cuts=[97, 2], store="s.json")
def test_a_log_written_in_any_pieces_is_counted_once_whole(
    tmp_path_factory: pytest.TempPathFactory, kind: str, seed: int, cuts: list[int], store: str
) -> None:
    """The file grows by pieces cut anywhere, mid-line too; a resume follows each piece,
    `--strict`: a line the writer has not finished is no bad line, counts nothing (a CSV
    line cut in its time would parse, as another time) and is read whole next time (QA P2).
    """  # noqa: D205
    work = tmp_path_factory.mktemp("grow")
    data = {"ndjson": _ndjson, "csv": _csv}.get(kind, lambda _, n: _access_log(n))(seed, 120)
    log = work / {"ndjson": "hits.ndjson", "csv": "hits.csv"}.get(kind, "access.log")
    state = ["--state", str(work / store)]
    start = data.index(b"\n") + 1  # the first replay needs a whole line (no hits: refused)
    start = data.index(b"\n", start) + 1 if kind == "csv" else start  # past the header
    ends = sorted({min(start + sum(cuts[: i + 1]), len(data)) for i in range(len(cuts))})
    ends = [start, *ends, len(data)]
    written = 0
    for end in ends:
        with log.open("ab") as handle:
            handle.write(data[written:end])
        written = end
        first = ["-s", "sliding", "--max-window", "400d"] if not (work / store).exists() else []
        append = ["--append", "--resume", "--strict"] if (work / store).exists() else []
        ok([*state, "replay", *append, str(log), *first])
    now = "1995-07-02T00:00:00Z" if kind == "access" else "1000200"
    assert _counts(state, now) == _complete_counts(data, kind)
    metrics = ok_json([*state, "metrics", "--json"])
    assert (metrics["bad_lines"], metrics["late_hits"]) == (0, 0)
    assert metrics["lines_read"] == data.count(b"\n")


def test_a_counted_last_line_that_grows_is_not_counted_again_and_says_so(tmp_path: Path) -> None:
    log, state = tmp_path / "r.csv", ["--state", str(tmp_path / "s.db")]
    log.write_text("ts,user,endpoint\n1000,u1,/a\n1001,u2,/b\n1002,u5,/d")  # /d: no newline yet
    ok([*state, "replay", str(log)])
    log.write_text(log.read_text() + "x\n1003,u6,/e\n")  # the writer was in the middle of /dx
    resumed = ok([*state, "replay", "--append", "--resume", str(log)])
    assert "r.csv:4: this line was counted before its newline was written" in resumed.stderr
    assert _counts(state, "1010") == {"/a": 1, "/b": 1, "/d": 1, "/e": 1}


def test_a_file_ending_without_a_newline_counts_its_last_line_once(tmp_path: Path) -> None:
    log, state = tmp_path / "h.ndjson", ["--state", str(tmp_path / "s.json")]
    log.write_text('{"endpoint": "/a", "ts": 5}\n{"endpoint": "/b", "ts": 6}')
    ok([*state, "replay", str(log)])
    again = ok([*state, "replay", "--append", "--resume", str(log)])
    assert "already read whole (2 lines); nothing new to count" in again.stderr
    log.write_text(log.read_text() + '\n{"endpoint": "/c", "ts": 7}\n')
    ok([*state, "replay", "--append", "--resume", str(log)])
    assert _counts(state, "10") == {"/a": 1, "/b": 1, "/c": 1}


def test_a_bad_line_of_one_file_does_not_uncount_the_next_files_last_line(tmp_path: Path) -> None:
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_text('{"endpoint": "/a", "ts": 5}\n{bad\n')  # its line 2 is bad
    second.write_text('{"endpoint": "/b", "ts": 6}\n{"endpoint": "/c", "ts": 7}')  # 2 lines
    state = ["--state", str(tmp_path / "s.json")]
    ok([*state, "replay", str(first), str(second)])
    again = ok([*state, "replay", "--append", "--resume", str(second)])
    assert "already read whole (2 lines)" in again.stderr
    assert _counts(state, "10") == {"/a": 1, "/b": 1, "/c": 1}


def test_a_new_log_holding_only_an_unfinished_line_waits_for_it(tmp_path: Path) -> None:
    """After a rotation the new log may hold only the line its writer is in the middle of:
    `--append --resume` failed with "no hits: the input is empty" (QA S4)."""  # noqa: D205, D209
    state = ["--state", str(tmp_path / "s.db")]
    first = tmp_path / "old.ndjson"
    first.write_text('{"endpoint": "/a", "ts": 5}\n')
    ok([*state, "replay", str(first)])
    log = tmp_path / "access.ndjson"
    log.write_text('{"endpoint": "/b", "ts"')
    shown = ok([*state, "replay", "--append", "--resume", str(log)])
    assert "access.ndjson:1: the last line has no newline yet" in shown.stderr
    log.write_text('{"endpoint": "/b", "ts": 6}\n')
    ok([*state, "replay", "--append", "--resume", str(log)])
    assert _counts(state, "10") == {"/a": 1, "/b": 1}


def test_a_last_line_without_a_newline_counts_once_the_file_is_left_alone(
    tmp_path: Path,
) -> None:
    """A file that simply ends without a newline: its last line is held while the file was
    changed in the last minute (a writer may be at it), then counted (QA S7: it was held
    for good); a plain --append of a file read in part is refused, not counted twice."""  # noqa: D205, D209
    import os
    import time

    log, state = tmp_path / "h.ndjson", ["--state", str(tmp_path / "s.db")]
    log.write_text('{"endpoint": "/a", "ts": 5}\n{"endpoint": "/b", "ts": 6}')
    held = ok([*state, "replay", "--append", "--resume", str(log)])
    assert "h.ndjson:2: the last line has no newline yet" in held.stderr
    twice = run([*state, "replay", "--append", str(log)])
    assert_error(twice, 3, "already read up to line 1 by an earlier replay")
    past = time.time() - 120
    os.utime(log, (past, past))  # nobody wrote it for two minutes: it is whole
    ok([*state, "replay", "--append", "--resume", str(log)])
    assert _counts(state, "10") == {"/a": 1, "/b": 1}
    again = ok([*state, "replay", "--append", "--resume", str(log)])
    assert "already read whole (2 lines)" in again.stderr

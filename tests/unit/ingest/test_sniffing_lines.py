"""The format of an input cut mid-line: sniffed from its first non-blank lines.

A piece of an access log (`tail -c`, `split -b`, a rotation mid-line) starts with the end of
a line, often a user agent with a comma. The format comes from the first line that shows
one; the piece before is a bad line of that format, numbered and explained alike on every
path (per line, in blocks, in worker ranges, `--trace`). The oracle: the same lines without
the piece, replayed with `--format` given.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, replay
from hitcount.errors import InputError
from hitcount.ingest import lines, parallel, workers
from hitcount.ingest import replay as replaying
from hitcount.ingest.formats import SNIFF_LINES, sniff_lines
from tests.cli_helpers import assert_error, ok, run

AGENT = '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"'


def _combined(i: int, rng: random.Random) -> str:
    stamp = f"{10 + i // 3600 % 10:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
    return (
        f"10.0.0.{rng.randrange(9)} - - [12/May/2024:{stamp} +0000] "
        f'"GET /p{rng.randrange(7)}?q={i} HTTP/1.1" 200 {i} "-" {AGENT}'
    )


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ([AGENT.encode()], "combined"),  # a piece with a comma: not CSV while a log line follows
        ([b"", b"  ", b' "curl/7.54.0"'], "combined"),
        ([b'0", "ts": 1}'], "ndjson"),
        ([b"x"] * (SNIFF_LINES - 1), "combined"),
    ],
)
def test_the_first_line_that_shows_a_format_decides(head: list[bytes], expected: str) -> None:
    line = b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "ua"'
    if expected == "ndjson":
        line = b'{"endpoint": "/a", "ts": 1}'
    numbered = list(enumerate([*head, line], start=1))
    assert sniff_lines(numbered, "x") == expected


def test_csv_is_still_its_first_line_and_nothing_found_is_refused_at_that_line() -> None:
    assert sniff_lines([(1, b"endpoint,ts"), (2, b"/a,1")], "x") == "csv"
    with pytest.raises(InputError, match="cannot tell the input format") as info:
        sniff_lines([(1, b""), (2, b"hello"), *((n, b"x") for n in range(3, 80))], "x")
    assert info.value.line == 2
    cut = [(n, b"x") for n in range(1, SNIFF_LINES + 1)]
    with pytest.raises(InputError):  # the log line comes after the lines sniffed
        sniff_lines([*cut, (SNIFF_LINES + 1, b'{"endpoint": "/a", "ts": 1}')], "x")


def _piece(tmp: Path, seed: int, rows: int, fragments: int) -> tuple[Path, Path, int]:
    """A combined log starting with `fragments` line ends, and the same log without them."""
    rng = random.Random(seed)
    body = [_combined(i, rng) for i in range(rows)]
    for _ in range(rows // 50):  # broken lines inside too, as the real erddap log has
        body.insert(rng.randrange(len(body)), ' "curl/7.54.0"')
    piece = [AGENT[rng.randrange(len(AGENT)) :] or "x" for _ in range(fragments)]
    whole, clean = tmp / "piece.log", tmp / "clean.log"
    whole.write_text("\n".join(piece + body) + "\n")
    clean.write_text("\n".join(body) + "\n")
    return whole, clean, fragments


def _replayed(path: Path, monkeypatch: pytest.MonkeyPatch, workers_env: str, **kw: object) -> tuple:
    monkeypatch.setenv("HITCOUNT_WORKERS", workers_env)
    bad: list[tuple[int, str]] = []
    counter = HitCounter("sliding", max_window_s=1e9, distinct_precision=8)
    report = replay(
        counter, [str(path)], on_bad_line=lambda b: bad.append((b.line, b.reason)), **kw
    )
    return counter.strategy.to_state(), bad, report.lines_read, report.hits_kept


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6), rows=st.integers(1, 3000), fragments=st.integers(1, 5),
       step=st.integers(300, 6000), gzipped=st.booleans())  # fmt: skip
def test_a_piece_cut_mid_line_replays_alike_on_every_path(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    rows: int,
    fragments: int,
    step: int,
    gzipped: bool,
) -> None:
    tmp = tmp_path_factory.mktemp("piece")
    whole, clean, cut = _piece(tmp, seed, rows, fragments)
    if gzipped:
        whole.write_bytes(gzip.compress(whole.read_bytes()))
    with pytest.MonkeyPatch.context() as monkeypatch:
        expected_state, clean_bad, _, clean_kept = _replayed(
            clean, monkeypatch, "0", fmt="combined"
        )
        monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(parallel, "RANGE_BYTES", step)
        runs = [_replayed(whole, monkeypatch, "2"), _replayed(whole, monkeypatch, "0")]
        if not gzipped:  # a small file read line by line (numpy not loaded)
            monkeypatch.setattr(replaying, "small_without_numpy", lambda *_: True)
            runs.append(_replayed(whole, monkeypatch, "0"))
            monkeypatch.undo()
            monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
        if lines.native is not None:
            monkeypatch.setattr(lines, "native", None)
            runs.append(_replayed(whole, monkeypatch, "0"))
    for state, bad, _, kept in runs:
        assert state == expected_state and kept == clean_kept
        assert [n for n, _ in bad[:cut]] == list(range(1, cut + 1))
        assert [(n - cut, r) for n, r in bad[cut:]] == clean_bad
    assert len({json.dumps(run[1]) for run in runs}) == 1


def test_the_cli_replays_a_piece_and_trace_reads_it_alike(tmp_path: Path) -> None:
    whole, clean, _ = _piece(tmp_path, 7, 400, 2)
    asked = ["top", "--json", "--last", "1d", "-n", "50"]
    answers = []
    for extra in ([], ["--trace"]):
        state = tmp_path / f"s{len(answers)}.db"
        result = ok(["--state", str(state), "replay", str(whole), *extra])
        assert "piece.log:1: not an access log line" in result.stderr
        answers.append(ok(["--state", str(state), *asked]).stdout)
    state = tmp_path / "stdin.db"  # a fresh process: small stdin is read line by line
    piped = subprocess.run(
        [sys.executable, "-m", "hitcount", "--state", str(state), "replay", "-"],
        input=whole.read_bytes(), capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert b"<stdin>:1: not an access log line" in piped.stderr
    answers.append(ok(["--state", str(state), *asked]).stdout)
    reference = tmp_path / "ref.db"
    ok(["--state", str(reference), "replay", str(clean), "--format", "combined"])
    assert answers[0] == answers[1] == answers[2] == ok(["--state", str(reference), *asked]).stdout
    junk = tmp_path / "junk.txt"
    junk.write_text("\n\nhello world\nsome words\n")
    assert_error(run(["--state", str(tmp_path / "j.db"), "replay", str(junk)]), 3,
                 "junk.txt:3: cannot tell the input format from its first lines")  # fmt: skip

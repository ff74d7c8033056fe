"""Inputs that can be read only once: a FIFO, a pipe named by path (`<(zcat log.gz)` is
`/dev/fd/63`), `/dev/stdin`. Each is opened once and read front to back like `-` (QA G5:
every open of a pipe ate bytes, so 4,049 of 20,000 lines were counted with exit 0, and an
`--append` was an internal error). The oracle is the count of each endpoint in the lines
written into the pipe."""  # noqa: D205, D209

from __future__ import annotations

import gzip
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli_helpers import assert_error, ok, ok_json, run

T0 = 1_700_000_000.0
LINES = 40_000  # about 2.4 MB: several 1 MiB blocks, where whole blocks went missing


def _lines(count: int, shift: int = 0) -> tuple[bytes, Counter[str]]:
    rows = [(f"/p{i % 7}", T0 + shift + i * 0.01) for i in range(count)]
    text = "".join(
        f'{{"endpoint":"{e}","ts":{ts:.2f},"user":"u{i % 5}"}}\n' for i, (e, ts) in enumerate(rows)
    )
    return text.encode(), Counter(endpoint for endpoint, _ in rows)


@contextmanager
def _fifo(tmp_path: Path, data: bytes) -> Iterator[str]:
    """A FIFO a thread writes `data` into once a reader opens it."""
    path = tmp_path / "traffic.fifo"
    os.mkfifo(path)

    def write() -> None:
        with path.open("wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    yield str(path)
    writer.join(timeout=30)
    assert not writer.is_alive()


@contextmanager
def _fd_path(data: bytes) -> Iterator[str]:
    """An anonymous pipe named by path, as a shell's `<(...)` gives it (`/dev/fd/N`)."""
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield f"/dev/fd/{read_end}"
    finally:
        writer.join(timeout=30)
        os.close(read_end)


def _counts(state: str) -> dict[str, int]:
    rows = ok_json(["--state", state, "top", "--last", "1d", "--limit", "100", "--json"])
    return {row["endpoint"]: row["count"] for row in rows}


@pytest.mark.parametrize("kind", ["fifo", "fd", "fifo gzip"])
def test_a_pipe_named_by_path_is_read_whole_once(tmp_path: Path, kind: str) -> None:
    data, expected = _lines(LINES)
    state = str(tmp_path / "s.db")
    if kind == "fd":
        opened = _fd_path(data)
    else:
        opened = _fifo(tmp_path, gzip.compress(data) if kind == "fifo gzip" else data)
    with opened as source:
        result = ok(["--state", state, "replay", source, "-s", "sliding"])
    assert f"replayed {LINES} lines" in result.stdout and "0 bad lines" in result.stdout
    assert _counts(state) == dict(expected)


def test_appending_a_pipe_counts_every_line_and_resume_says_it_cannot_skip(
    tmp_path: Path,
) -> None:
    first, expected = _lines(3_000)
    more, added = _lines(3_000, shift=100)
    state = str(tmp_path / "s.db")
    with _fd_path(first) as source:
        ok(["--state", state, "replay", source, "-s", "sliding"])
    with _fd_path(more) as source:
        result = ok(["--state", state, "replay", "--append", "--resume", source])
    assert "--resume does not apply to /dev/fd/" in result.stderr
    assert "read once, as a stream" in result.stderr
    assert _counts(state) == dict(expected + added)


def test_a_pipe_beside_a_file_keeps_the_order_given_and_says_so(tmp_path: Path) -> None:
    late, expected = _lines(500, shift=1000)
    early, more = _lines(500)
    (tmp_path / "early.ndjson").write_bytes(early)
    state = str(tmp_path / "s.json")
    with _fd_path(late) as source:
        command = ["--state", state, "replay", source, str(tmp_path / "early.ndjson")]
        result = ok([*command, "-s", "sliding", "--max-lateness", "2000"])
    assert "is read once, as a stream, and cannot be put in time order" in result.stderr
    assert _counts(state) == dict(expected + more)


@pytest.mark.redis
def test_a_pipe_appended_to_redis_counts_every_line(redis_url: str) -> None:
    from tests.conftest import fresh_namespace

    url = f"{redis_url}?namespace={fresh_namespace()}"
    data, expected = _lines(5_000)
    for _ in range(2):
        with _fd_path(data) as source:
            ok(["--store", url, "replay", "--append", "--again", source, "-s", "sliding"])
    rows = ok_json(["--store", url, "top", "--last", "1d", "--limit", "100", "--json"])
    assert {row["endpoint"]: row["count"] for row in rows} == {
        e: 2 * n for e, n in expected.items()
    }


def test_compare_refuses_an_input_it_could_read_only_once(tmp_path: Path) -> None:
    """Each strategy reads the input again: a pipe would give the first one everything and
    the rest nothing, so stdin and pipes are refused before anything is read."""  # noqa: D205, D209
    data, _ = _lines(100)
    with _fd_path(data) as source:
        result = run(["compare", source, "--strategies", "fixed,sliding"])
        assert_error(result, 2, "can be read only once (stdin or a pipe)")
    assert_error(run(["compare", "-"], input=data), 2, "<stdin> can be read only once")


def test_following_a_fifo_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    """Opening a FIFO waits for a writer: it blocked for ever, holding the state lock, when
    the writer had gone (QA H3). It is refused by its status first (exit 3)."""  # noqa: D205, D209
    fifo = tmp_path / "traffic.fifo"
    os.mkfifo(fifo)  # no writer at all: any open() for reading would block
    result = run(["--state", str(tmp_path / "s.db"), "replay", str(fifo), "--follow"])
    assert_error(result, 3, "traffic.fifo: is not a regular file")
    assert "follow - instead" in result.stderr and not (tmp_path / "s.db").exists()


@pytest.mark.parametrize(
    ("sources", "said"),
    [(["-", "-"], "<stdin>: is named twice: a stream can be read only once"),
     (["-", "/dev/stdin"], "/dev/stdin: is <stdin> again: a stream can be read only once"),
     (["/dev/stdin", "/dev/fd/0", "--again"], "/dev/fd/0: is /dev/stdin again")],
)  # fmt: skip
def test_stdin_named_twice_is_refused_even_with_again(
    tmp_path: Path, sources: list[str], said: str
) -> None:
    """`- -` passed silently and `/dev/stdin /dev/fd/0` said "add --again" (QA H9)."""
    data, _ = _lines(10)
    result = run(["--state", str(tmp_path / "s.db"), "replay", *sources], input=data)
    assert_error(result, 3, said)
    assert not (tmp_path / "s.db").exists()

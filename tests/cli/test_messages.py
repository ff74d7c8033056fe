"""Messages that say what happened: a CSV header alone, stdin among inputs, a snapshot
piped in that is not one, a gzip file with bytes after its data."""  # noqa: D205, D209

from __future__ import annotations

import gzip
from pathlib import Path

from tests.cli_helpers import assert_error, ok, run

T0 = 1_767_225_600


def test_a_csv_header_alone_is_not_called_empty(tmp_path: Path) -> None:
    header = tmp_path / "h.csv"
    header.write_text("endpoint,ts\n")
    error = run(["--state", str(tmp_path / "s.db"), "replay", str(header)])
    assert_error(error, 3, "1 line read, none with a hit (blank lines, or a CSV header alone?)")


def test_stdin_among_inputs_says_the_order_is_as_given(tmp_path: Path) -> None:
    later, earlier = tmp_path / "later.ndjson", f'{{"endpoint": "/a", "ts": {T0}}}\n'
    later.write_text(f'{{"endpoint": "/b", "ts": {T0 + 100}}}\n')
    result = ok(["--state", str(tmp_path / "s.db"), "replay", str(later), "-"], input=earlier)
    assert "<stdin> is read once, as a stream, and cannot be put in time order" in result.stderr


def test_a_sqlite_state_or_nothing_piped_to_restore_says_so(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    log = tmp_path / "h.ndjson"
    log.write_text(f'{{"endpoint": "/a", "ts": {T0}}}\n')
    ok(["--state", str(state), "replay", str(log)])
    target = ["--state", str(tmp_path / "t.db"), "snapshot", "restore", "-"]
    assert_error(
        run(target, input=state.read_bytes()), 4, "a SQLite state cannot be read from stdin"
    )
    assert_error(run(target, input=b""), 4, "no snapshot: the input is empty")
    assert not (tmp_path / "t.db").exists()


def test_bytes_after_the_gzip_data_are_named_in_the_hint(tmp_path: Path) -> None:
    packed = tmp_path / "h.ndjson.gz"
    packed.write_bytes(gzip.compress(f'{{"endpoint": "/a", "ts": {T0}}}\n'.encode()) + b"JUNKJUNK")
    error = run(["--state", str(tmp_path / "s.db"), "replay", str(packed)])
    assert error.exit_code == 3
    assert "bytes after its gzip data" in error.stderr


def test_utf16_text_is_named_not_read_as_bad_lines(tmp_path: Path) -> None:
    wide = tmp_path / "u16.ndjson"
    wide.write_bytes(f'{{"endpoint": "/a", "ts": {T0}}}\n'.encode("utf-16"))
    error = run(["--state", str(tmp_path / "s.db"), "replay", str(wide)])
    assert_error(error, 3, "the input is UTF-16 or UTF-32 text")
    assert "iconv" in error.stderr


def test_a_replay_of_many_files_names_a_few_and_counts_the_rest(tmp_path: Path) -> None:
    files = []
    for i in range(25):
        files.append(tmp_path / f"f{i:02d}.ndjson")
        files[-1].write_text(f'{{"endpoint": "/e", "ts": {T0 + i}}}\n')
    summary = ok(["--state", str(tmp_path / "s.db"), "replay", *map(str, files)]).stdout
    first = summary.splitlines()[0]
    assert "f08.ndjson (ndjson), 16 more files in" in first and "f09.ndjson" not in first


def test_field_names_a_column_the_csv_header_lacks(tmp_path: Path) -> None:
    """The header line's reason names the column, how to map it, and the columns there (a
    header-less file shows its first line taken as the header)."""  # noqa: D205, D209
    headed, bare = tmp_path / "h.csv", tmp_path / "b.csv"
    headed.write_text(f"when,what,who\n{T0},/a,u1\n")
    bare.write_text(f"/a,{T0},u1\n/b,{T0 + 1},u2\n")
    state = ["--state", str(tmp_path / "s.db")]
    for fields, fragment in (
        (["ts=when"], "has no column 'endpoint' (endpoint, path, url, uri or request; map one"
                      " with --field endpoint=COLUMN); its columns: when, what, who"),
        (["ts=nosuch", "endpoint=what"], "has no column 'nosuch' (--field ts=nosuch)"),
    ):  # fmt: skip
        options = [part for field in fields for part in ("--field", field)]
        error = run([*state, "replay", str(headed), *options])
        assert error.exit_code == 3
        assert fragment in _error_line(error.stderr)
    error = run([*state, "replay", str(bare), "--field", "ts=when"])
    assert f"its columns: /a, {T0}, u1" in _error_line(error.stderr)
    ok([*state, "replay", str(headed), "--field", "ts=when", "--field", "endpoint=what"])


def _error_line(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("hitcount: error: "))


def test_gzipped_utf16_and_a_user_column_the_header_lacks_are_named(tmp_path: Path) -> None:
    packed = tmp_path / "u16.ndjson.gz"
    packed.write_bytes(gzip.compress(f'{{"endpoint": "/a", "ts": {T0}}}\n'.encode("utf-16")))
    error = run(["--state", str(tmp_path / "s.db"), "replay", str(packed)])
    assert_error(error, 3, "the input is UTF-16 or UTF-32 text")
    headed = tmp_path / "h.csv"
    headed.write_text(f"path,time,who\n/a,{T0},u\n")
    mapped = ["--field", "endpoint=path", "--field", "ts=time", "--field", "user=nosuch"]
    result = ok(["--state", str(tmp_path / "f.db"), "replay", str(headed), *mapped])
    assert "has no column 'nosuch' (--field user=nosuch); its columns: path, time, who" in (
        result.stderr
    )

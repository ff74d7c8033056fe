"""Follow mode in-process: input positions, whole-line tails, resuming, the live view, errors.

Expected counts come from the lines the tests write (counted with `json`), never from
hitcount's readers.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from hitcount import HitCounter, InputError, MemoryStore, StateError, from_bytes
from hitcount.cli.live import FollowDisplay, status_view
from hitcount.cli.render import Renderer
from hitcount.cli.render.rich_parts import PipeConsole
from hitcount.ingest.reader import MAX_LINE_BYTES
from hitcount.ingest.replay import BadLineInfo
from hitcount.live.follow import FollowStatus, FollowView, follow, top_rows
from hitcount.live.tail import CHUNK_BYTES, FileTail
from hitcount.model.events import THRESHOLD_EXCEEDED, Event
from hitcount.model.positions import HEAD_BYTES, InputPosition, head_checksum
from hitcount.persist.document import encode, to_document
from hitcount.persist.state import save_counter
from hitcount.views.json_forms import follow_status_json as status_json
from tests.cli_helpers import run

T0 = 1_767_225_600.0


def _line(endpoint: str, ts: float) -> str:
    return json.dumps({"endpoint": endpoint, "ts": ts}) + "\n"


def _write(path: Path, lines: list[str], mode: str = "a") -> None:
    with path.open(mode) as out:
        out.write("".join(lines))


def _counts(counter: HitCounter) -> Counter[str]:
    return Counter({ep: int(counter.query(ep, 1e7).answer.count) for ep in counter.endpoints()})


def _expected(*batches: list[str]) -> Counter[str]:
    return Counter(json.loads(line)["endpoint"] for batch in batches for line in batch)


def _follow_to_end(counter: HitCounter, path: Path, store: MemoryStore) -> list[str]:
    """Follow `path` until everything in it is read; the notes it printed."""
    notes: list[str] = []
    key = os.path.abspath(path)

    def read_all() -> bool:
        position = counter.inputs.get(key)
        return position is not None and position.offset == path.stat().st_size

    follow(
        counter,
        [str(path)],
        store,
        commit_every_s=0.05,
        view=FollowView(on_note=notes.append),
        should_stop=read_all,
    )
    return notes


# -- input positions --------------------------------------------------------------------------


def test_position_round_trips_and_checks_its_fields() -> None:
    position = InputPosition("/var/log/a.log", 2049, 131, 10, "ab" * 32, 52, 3)
    assert InputPosition.from_dict(position.to_dict()) == position
    for broken, reason in [
        ({"inode": -1}, "out of range"),
        ({"offset": True}, "must be int"),
        ({"path": 3}, "must be str"),
        ({"head_bytes": 60}, "exceeds its offset"),
        ({"colour": "red"}, "unknown field"),
    ]:
        with pytest.raises(ValueError, match=reason):
            InputPosition.from_dict({**position.to_dict(), **broken})
    with pytest.raises(ValueError, match="must be an object"):
        InputPosition.from_dict([1, 2])


def test_states_without_inputs_still_load_and_inputs_round_trip() -> None:
    counter = HitCounter("sliding", max_window_s=100)
    counter.record("/a", T0)
    document = to_document(counter)
    assert "inputs" not in document  # documents of runs that followed nothing are unchanged
    assert from_bytes(encode(document), "old").inputs == {}
    position = InputPosition("/logs/x", 1, 2, 0, head_checksum_of(b""), 0)
    counter.inputs[position.path] = position
    assert from_bytes(encode(to_document(counter)), "new").inputs == {"/logs/x": position}
    damaged = {**to_document(counter), "inputs": [{"path": "/logs/x"}]}
    with pytest.raises(StateError, match="invalid snapshot: input position field 'device'"):
        from_bytes(encode(damaged), "damaged")


def head_checksum_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_head_checksum_covers_the_first_bytes_only(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * (HEAD_BYTES + 50))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert head_checksum(fd, HEAD_BYTES) == head_checksum_of(b"x" * HEAD_BYTES)
        assert head_checksum(fd, 5) == head_checksum_of(b"xxxxx")
    finally:
        os.close(fd)


# -- tails ---------------------------------------------------------------------------------------


def test_a_half_written_line_is_not_read_until_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"one\ntw")
    tail = FileTail(str(path))
    try:
        assert tail.read() == (1, b"one\n")
        assert tail.position is not None and tail.position.offset == 4
        assert tail.read() is None
        _write(path, ["o\nthree"])
        assert tail.read() == (2, b"two\n")
        assert tail.position.offset == 8 and tail.position.lines == 2
    finally:
        tail.close()


def test_a_line_longer_than_a_read_is_skipped_once_complete(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"a\n" + b"z" * (CHUNK_BYTES + 10))
    tail = FileTail(str(path))
    try:
        assert tail.read() == (1, b"a\n")
        assert tail.read() is None  # still being written
        _write(path, ["zz\nb\n"])
        assert tail.read() == (2, None)
        assert tail.read() == (3, b"b\n")
    finally:
        tail.close()


def test_a_file_rewritten_in_place_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"old 1\nold 2\n")
    notes: list[str] = []
    tail = FileTail(str(path), on_note=notes.append)
    try:
        assert tail.read() == (1, b"old 1\nold 2\n")
        with path.open("r+b") as rewrite:  # truncated, then longer than before at once
            rewrite.truncate(0)
            rewrite.write(b"new 1\nnew 2\nnew 3\n")
        assert tail.read() == (1, b"new 1\nnew 2\nnew 3\n")
    finally:
        tail.close()
    assert notes == [f"{path}: truncated; reading it again from the start"]


def test_over_long_lines_are_bad_lines_and_the_rest_counts(tmp_path: Path) -> None:
    path, store = tmp_path / "access.ndjson", MemoryStore()
    long_line = json.dumps({"endpoint": "/" + "z" * MAX_LINE_BYTES, "ts": T0}) + "\n"
    good = [_line("/a", T0), _line("/b", T0 + 1)]
    _write(path, [good[0], long_line, good[1]])
    counter = HitCounter("sliding", max_window_s=1e7)
    _follow_to_end(counter, path, store)
    assert _counts(counter) == _expected(good) and counter.metrics.bad_lines == 1


# -- resuming ------------------------------------------------------------------------------------


def test_resume_counts_each_line_once_and_restarts_a_rotated_file(tmp_path: Path) -> None:
    path, store = tmp_path / "access.ndjson", MemoryStore()
    first = [_line(f"/e{i % 3}", T0 + i) for i in range(50)]
    _write(path, first)
    counter = HitCounter("sliding", max_window_s=1e7)
    _follow_to_end(counter, path, store)
    second = [_line(f"/e{i % 4}", T0 + 100 + i) for i in range(30)]
    _write(path, second)
    resumed = from_bytes(store.load() or b"", "store")
    assert _follow_to_end(resumed, path, store) == []
    assert _counts(from_bytes(store.load() or b"", "store")) == _expected(first, second)

    os.rename(path, tmp_path / "access.ndjson.1")  # rotated while nothing followed it
    third = [_line("/new", T0 + 200 + i) for i in range(7)]
    _write(path, third)
    again = from_bytes(store.load() or b"", "store")
    notes = _follow_to_end(again, path, store)
    assert notes == [
        f"{path}: not the file the saved state read up to byte"
        f" {sum(map(len, first + second))} (rotated or rewritten since); reading it from the start"
    ]
    assert _counts(from_bytes(store.load() or b"", "store")) == _expected(first, second, third)


def _after_polls(count: int) -> Callable[[], bool]:
    """A `should_stop` true from its `count`+1-th call: `count` reads, then stop."""
    polls = iter(range(count))
    return lambda: next(polls, None) is None


def test_resume_again_and_again_and_through_a_link_counts_each_line_once(
    tmp_path: Path,
) -> None:
    path, store = tmp_path / "access.ndjson", MemoryStore()
    lines = [_line(f"/e{i % 3}", T0 + i) for i in range(40)]
    _write(path, lines)
    link = tmp_path / "current.ndjson"
    link.symlink_to(path)  # the same file under another name
    _follow_to_end(HitCounter("sliding", max_window_s=1e7), path, store)
    for name in (path, path, link, link, path):
        resumed, notes = from_bytes(store.load() or b"", "store"), []
        view = FollowView(on_note=notes.append)
        follow(resumed, [str(name)], store, commit_every_s=0.05, view=view,
               should_stop=_after_polls(3))  # fmt: skip
        assert notes == []
        saved = from_bytes(store.load() or b"", "store")
        assert _counts(saved) == _expected(lines)
        assert [p.lines for p in saved.inputs.values()] == [40]


def test_following_two_files_keeps_a_position_for_each(tmp_path: Path) -> None:
    store, paths = MemoryStore(), [tmp_path / "a.ndjson", tmp_path / "b.ndjson"]
    batches = [[_line("/a", T0 + i) for i in range(20)], [_line("/b", T0 + i) for i in range(9)]]
    for path, batch in zip(paths, batches, strict=True):
        _write(path, batch)
    counter = HitCounter("sliding", max_window_s=1e7)
    size = sum(path.stat().st_size for path in paths)
    follow(
        counter,
        [str(p) for p in paths],
        store,
        commit_every_s=0.05,
        should_stop=lambda: sum(p.offset for p in counter.inputs.values()) == size,
    )
    saved = from_bytes(store.load() or b"", "store")
    assert _counts(saved) == _expected(*batches)
    assert {os.path.basename(k): v.lines for k, v in saved.inputs.items()} == {
        "a.ndjson": 20,
        "b.ndjson": 9,
    }


def test_a_file_the_state_has_no_position_in_is_read_whole_and_said_so(tmp_path: Path) -> None:
    path, store = tmp_path / "access.ndjson", MemoryStore()
    lines = [_line("/a", T0 + i) for i in range(5)]
    _write(path, lines)
    counter = HitCounter("sliding", max_window_s=1e7)
    counter.record("/before", T0)  # a state made some other way, e.g. a plain replay
    notes = _follow_to_end(counter, path, store)
    assert notes == [
        f"{path}: the saved state has no position in it; reading it from the start"
        " (its hits are added to those of the state)"
    ]
    assert _counts(counter) == _expected(lines) + Counter({"/before": 1})


# -- the live view -----------------------------------------------------------------------------


def _status(counter: HitCounter, bad_lines: int = 0) -> FollowStatus:
    return FollowStatus(
        elapsed_s=3.0,
        lines_read=6 + bad_lines,
        hits_kept=6,
        late_hits=0,
        bad_lines=bad_lines,
        hits_per_s=2.0,
        window_s=60.0,
        top=top_rows(counter, 60.0, 10),
        strategy=counter.strategy.describe(),
        memory_entries=counter.strategy.memory_entries(),
        memory_bytes=2048,
        clock=counter.clock,
        commits=4,
        inputs=(InputPosition("/logs/access.log", 1, 2, 100, "00", 100, 6),),
    )


def _hits_for_view() -> HitCounter:
    counter = HitCounter("sliding", max_window_s=3600)
    # steps of 3 s end at the clock (1000): (940, 943], ..., (997, 1000]
    for ts in (998.0, 999.5, 1000.0, 970.0):
        counter.record("/api", ts)
    counter.record("[red]x[/red]\x1b[2J", 999.0)
    counter.record("/old", 900.0)  # outside the window: not shown
    return counter


def test_live_view_shows_counts_sparklines_and_figures() -> None:
    console = Console(width=100, file=StringIO(), force_terminal=True, color_system=None)
    console.print(status_view(_status(_hits_for_view(), bad_lines=2)))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "2 hits/s · 8 lines · 6 kept · 0 late · 2 bad lines · 4 commits" in text
    assert "sliding(max_window_s=3600) · memory 6 entries, 2.0 KiB" in text  # one per hit
    assert "clock 1970-01-01T00:16:40Z" in text and "last 1m · Ctrl-C stops" in text
    assert "busiest endpoints, last 1m" in text and "hits per 3s" in text
    api_row = next(line for line in text.splitlines() if "/api" in line)
    # 1 hit in step 9 (967, 970], 3 in the last: scaled to the busiest step
    assert "4" in api_row.split() and "▁" * 9 + "▃" + "▁" * 9 + "█" in api_row
    assert "[red]x[/red]\\x1b[2J" in text  # endpoint text: no markup, control shown escaped
    assert "/old" not in text
    assert "/logs/access.log: read to byte 100 (line 6)" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_summary_json_has_the_window_counts_and_steps() -> None:
    summary = status_json(_status(_hits_for_view()))
    top = {row["endpoint"]: row for row in summary["top"]}
    assert top["/api"]["count"] == 4 and top["/api"]["exact"] is True
    assert top["/api"]["steps"] == [0] * 9 + [1] + [0] * 9 + [3]
    assert summary["inputs"][0]["offset"] == 100 and summary["final"] is False
    json.dumps(summary, allow_nan=False)


def test_a_strategy_without_time_has_no_sparkline() -> None:
    counter = HitCounter("morris", base=1.5, counters=4, seed=1)
    counter.record("/a", T0)
    rows = top_rows(counter, 60.0, 10)
    assert [row.result.endpoint for row in rows] == ["/a"] and rows[0].steps == ()
    assert not any(math.isnan(v) for row in rows for v in row.steps)


# -- the command ---------------------------------------------------------------------------------


def test_follow_stdin_reads_to_the_end_and_prints_ndjson_summaries(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    lines = [_line(f"/e{i % 2}", T0 + i) for i in range(5)]
    data = "".join(lines).rstrip("\n")  # the last line has no newline: still counted
    result = run(["--state", str(state), "replay", "-", "--follow", "-s", "sliding"], input=data)
    assert result.exit_code == 0, result.stderr
    summaries = [json.loads(line) for line in result.stdout.splitlines()]
    assert summaries[-1]["final"] is True and summaries[-1]["hits_kept"] == 5
    assert summaries[-1]["inputs"] == []  # a pipe has no position to resume from
    assert summaries[-1]["commits"] >= 1 and summaries[-1]["last_commit_s"] > 0  # timed
    top = run(["--state", str(state), "top", "--last", "1h", "--json"])
    assert {row["endpoint"]: row["count"] for row in json.loads(top.stdout)} == _expected(lines)


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["gz", "--follow"], None, 2, "is gzip-compressed; cannot follow a compressed file"),
        (["-", "--follow"], b"\x1f\x8b\x08rest", 2, "<stdin>: is gzip-compressed"),
        (["-", "plain", "--follow"], None, 2, "--follow reads stdin (-) alone, not with files"),
        (["plain", "--follow", "--commit-every", "0"], None, 2, "--commit-every must be greater"),
        (["plain", "--follow", "--last", "x"], None, 2, "--last must be a duration"),
        (["plain", "--commit-every", "1"], None, 2, "--commit-every only applies with --follow"),
        (["dir", "--follow"], None, 3, "is a directory, not a file"),
        (["-", "--follow", "--strict"], b'{"endpoint": "/a", "ts": 1}\nnot json\n', 3, ":2:"),
    ],
)
def test_bad_follow_input_fails_cleanly_and_keeps_the_state(
    tmp_path: Path, args: list[str], stdin: bytes | None, code: int, message: str
) -> None:
    state = tmp_path / "state.json"
    (tmp_path / "plain").write_text(_line("/p", T0))
    (tmp_path / "gz").write_bytes(gzip.compress(_line("/p", T0).encode()))
    (tmp_path / "dir").mkdir()
    assert run(["--state", str(state), "replay", str(tmp_path / "plain")]).exit_code == 0
    before = state.read_bytes()
    paths = [str(tmp_path / a) if a in ("plain", "gz", "dir") else a for a in args]
    result = run(["--state", str(state), "replay", *paths, "--append"], input=stdin)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr and result.stderr.startswith("hitcount: error:")
    assert "Traceback" not in result.stderr
    assert state.read_bytes() == before


@pytest.mark.parametrize(
    ("stdin", "args", "message"),
    [
        ("", [], "no hits: the input is empty"),
        (_line("/a", T0) * 3, ["--format", "csv"], "no hits: all 3 lines are bad"),
    ],
)
def test_a_follow_that_reads_no_hit_refuses_and_keeps_the_state(
    tmp_path: Path, stdin: str, args: list[str], message: str
) -> None:
    state = tmp_path / "state.json"
    (tmp_path / "plain").write_text(_line("/p", T0))
    assert run(["--state", str(state), "replay", str(tmp_path / "plain")]).exit_code == 0
    before = state.read_bytes()
    result = run(["--state", str(state), "replay", "-", "--follow", *args], input=stdin)
    assert result.exit_code == 3, result.stderr
    assert message in result.stderr
    assert state.read_bytes() == before


def test_following_a_file_that_never_appears_commits_nothing_over_the_state(
    tmp_path: Path,
) -> None:
    store = MemoryStore()
    saved = HitCounter("fixed")
    saved.record("/kept", T0)

    save_counter(store, saved)
    before = store.load()
    polls = iter(range(30))
    with pytest.raises(InputError, match="no hits"):
        follow(
            HitCounter("fixed"), [str(tmp_path / "mistyped.log")], store,
            commit_every_s=0.001, replacing=True,
            should_stop=lambda: next(polls, None) is None,
        )  # fmt: skip
    assert store.load() == before


# -- what the live view is given -----------------------------------------------------------------


@pytest.mark.parametrize("with_bad_line", [False, True])
def test_the_view_is_given_every_line_read_once_the_input_is_drained(
    tmp_path: Path, with_bad_line: bool
) -> None:
    """No stale figures: with commits and scheduled ticks far away (30 s), the view still
    gets a status holding every hit written, each time the file is read to its end."""  # noqa: D205, D209
    path = tmp_path / "access.csv"  # CSV: hits gathered line by line, not a whole block
    rows = [(f"/e{i % 3}", T0 + i) for i in range(50)]
    text = "".join(f"{ep},{ts}\n" for ep, ts in rows) + ("oops\n" * with_bad_line)
    cut = len(text) // 2 + 1
    path.write_text(text[:cut])  # a half-written last line waits for its newline
    statuses: list[FollowStatus] = []

    def show(status: FollowStatus) -> None:
        statuses.append(status)
        _write(path, [text[cut:]])  # the rest arrives once the first status is shown

    deadline = time.monotonic() + 5.0
    view = FollowView(window_s=3600.0, tick_every_s=30.0, on_tick=show)
    follow(
        HitCounter("sliding", max_window_s=3600), [str(path)], MemoryStore(),
        commit_every_s=30.0, view=view,
        should_stop=lambda: time.monotonic() > deadline or len(statuses) >= 2,
    )  # fmt: skip
    assert len(statuses) >= 2, "the view was not given the drained input in time"
    first, last = statuses[:2]
    assert (first.lines_read, first.hits_kept) == (text[:cut].count("\n"),) * 2
    assert last.lines_read == len(rows) + with_bad_line and last.commits == 0
    assert (last.hits_kept, last.bad_lines) == (len(rows), int(with_bad_line))
    shown = {row.result.endpoint: row.result.answer.count for row in last.top}
    assert shown == Counter(ep for ep, _ in rows)


def test_bad_lines_go_to_the_views_own_handler_when_it_has_one(tmp_path: Path) -> None:
    path = tmp_path / "access.ndjson"
    _write(path, [_line("/a", T0), "not json\n", _line("/a", T0 + 1), "{}\n"])
    to_view: list[int] = []
    to_caller: list[int] = []
    view = FollowView(on_bad_line=lambda info: to_view.append(info.line))
    counter = HitCounter("sliding", max_window_s=3600)
    key = os.path.abspath(path)
    follow(
        counter, [str(path)], MemoryStore(), commit_every_s=0.05, view=view,
        on_bad_line=lambda info: to_caller.append(info.line),
        should_stop=lambda: key in counter.inputs,
    )  # fmt: skip
    assert (to_view, to_caller) == ([2, 4], [])


def _terminal_renderer(stderr_is_terminal: bool) -> Renderer:
    render = Renderer()
    render.out = PipeConsole(file=StringIO(), force_terminal=True, width=100, color_system=None)
    render.err = PipeConsole(
        file=StringIO(), force_terminal=stderr_is_terminal, width=100, color_system=None
    )
    return render


def _printed(console: Console) -> str:
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("stderr_is_terminal", [True, False])
def test_warnings_go_to_the_views_foot_and_to_stderr_outside_the_view(
    stderr_is_terminal: bool,
) -> None:
    render = _terminal_renderer(stderr_is_terminal)
    err = render.err
    bad = [BadLineInfo("x.log", line, "invalid JSON") for line in range(1, 6)]
    with FollowDisplay(render, 60.0, 10) as display:
        view = display.follow_view()
        assert view.on_note is not None and view.on_bad_line is not None and view.on_tick
        view.on_note("x.log: rotated; reading the new file from the start")
        for info in bad:
            view.on_bad_line(info)
        view.on_tick(_status(_hits_for_view(), bad_lines=len(bad)))
        during = _printed(err)
        drawn = _printed(render.out).split("following ·")[-1]  # the last drawing
    header, foot = drawn.split("\n", 1)[0], drawn.split("messages", 1)[-1]
    assert "warning" not in header and "x.log" not in header
    assert "the latest 3 of 6" in foot
    shown = [n for n in range(1, 6) if f"warning: x.log:{n}: invalid JSON (skipped)" in foot]
    assert shown == [3, 4, 5]
    expected = ["hitcount: warning: x.log: rotated; reading the new file from the start"] + [
        f"hitcount: warning: x.log:{n}: invalid JSON (skipped)" for n in range(1, 6)
    ]
    assert during == ("" if stderr_is_terminal else "\n".join(expected) + "\n")
    assert _printed(err).splitlines() == expected


def test_other_stderr_output_is_printed_above_the_view_while_it_runs() -> None:
    render = _terminal_renderer(stderr_is_terminal=True)
    err = render.err
    with FollowDisplay(render, 60.0, 10) as display:
        display.follow_view().on_tick(_status(_hits_for_view()))  # type: ignore[misc]
        render.alert(
            Event(
                THRESHOLD_EXCEEDED,
                {"endpoint": "/api", "count": 6, "limit": 5, "window": 60.0, "ts": 1000.0,
                 "rule": "/api>5/60s"},
            )
        )  # fmt: skip
    assert render.err is err and _printed(err) == ""
    drawn = _printed(render.out)
    alert = drawn.index("hitcount: alert: /api: 6 hits in 1m > 5")
    assert drawn.rindex("following ·") > alert  # the view is drawn again below it


def test_the_last_status_the_view_gets_counts_the_last_commit(tmp_path: Path) -> None:
    path = tmp_path / "access.ndjson"
    _write(path, [_line("/a", T0 + i) for i in range(3)])
    statuses: list[FollowStatus] = []
    counter = HitCounter("sliding", max_window_s=3600)
    key = os.path.abspath(path)
    result = follow(
        counter, [str(path)], MemoryStore(), commit_every_s=60.0,
        view=FollowView(on_tick=statuses.append), should_stop=lambda: key in counter.inputs,
    )  # fmt: skip
    assert result.commits == 1 and statuses[-1].commits == 1


def _csv(rows: list[tuple[str, float]]) -> str:
    return "".join(f"{endpoint},{ts},u{i}\n" for i, (endpoint, ts) in enumerate(rows))


def test_a_csv_log_rotated_or_truncated_starts_again_with_its_header(tmp_path: Path) -> None:
    """Each new file of a CSV log begins with its header (renamed and created, or copied and
    truncated): read as a header every time, never as a bad line."""  # noqa: D205, D209
    path, store, header = tmp_path / "access.csv", MemoryStore(), "path,ts,client\n"
    batches = [
        [(f"/x/{i % 3}", T0 + i) for i in range(20)],
        [(f"/y/{i % 2}", T0 + 100 + i) for i in range(9)],
        [("/z", T0 + 200 + i) for i in range(4)],
    ]
    path.write_text(header + _csv(batches[0]))

    def rotate() -> None:
        os.rename(path, tmp_path / "access.csv.1")
        path.write_text(header + _csv(batches[1]))

    def copy_and_truncate() -> None:
        (tmp_path / "access.csv.2").write_text(path.read_text())
        with path.open("r+") as handle:
            handle.truncate(0)
        path.write_text(header + _csv(batches[2]))

    polls = iter(range(60))

    def should_stop() -> bool:
        poll = next(polls, None)
        if poll == 10:
            rotate()
        elif poll == 30:
            copy_and_truncate()
        return poll is None

    notes: list[str] = []
    counter = HitCounter("sliding", max_window_s=1e7)
    follow(counter, [str(path)], store, commit_every_s=0.05,
           view=FollowView(on_note=notes.append), should_stop=should_stop)  # fmt: skip
    saved = from_bytes(store.load() or b"", "store")
    expected = Counter(endpoint for batch in batches for endpoint, _ in batch)
    assert _counts(saved) == expected
    assert saved.metrics.bad_lines == 0
    assert any("rotated" in note for note in notes) and any("truncated" in n for n in notes)


def test_strict_follow_stops_at_a_bad_line_keeping_its_commits(tmp_path: Path) -> None:
    path, store = tmp_path / "access.ndjson", MemoryStore()
    lines = [_line("/a", T0 + i) for i in range(5)]
    _write(path, lines)
    polls = iter(range(40))

    def should_stop() -> bool:
        if next(polls, None) == 10:
            _write(path, ["not json\n"])
        return False

    with pytest.raises(InputError) as raised:
        follow(HitCounter("sliding", max_window_s=1e7), [str(path)], store, strict=True,
               commit_every_s=0.02, should_stop=should_stop)  # fmt: skip
    assert raised.value.line == 6
    assert raised.value.hint is not None and "keeps the last commit" in raised.value.hint
    assert _counts(from_bytes(store.load() or b"", "store")) == _expected(lines)


def test_hits_a_shared_store_refused_are_not_shown_as_kept(tmp_path: Path) -> None:
    """A Redis state further on than the follower refuses some of its hits as late: every
    status (and the result) says what the state took, as `metrics` does (QA H2)."""  # noqa: D205, D209
    path = tmp_path / "a.ndjson"
    _write(path, [_line("/a", 1_000.0 + i) for i in range(20)])
    counter, store = HitCounter("sliding", max_window_s=1e6), MemoryStore()
    refused, shown = [0], []

    def commit_to(_: HitCounter) -> None:
        refused[0] = 7  # the store took 13 of the 20

    key = os.path.abspath(path)
    result = follow(
        counter, [str(path)], store, commit_every_s=0.05, commit_to=commit_to,
        refused_hits=lambda: refused[0], view=FollowView(on_commit=shown.append),
        should_stop=lambda: key in counter.inputs and counter.inputs[key].lines == 20,
    )  # fmt: skip
    assert (result.report.hits_kept, result.report.late_hits) == (13, 7)
    assert (shown[-1].hits_kept, shown[-1].late_hits, shown[-1].final) == (13, 7, True)


def test_a_commit_that_ships_the_counter_away_still_shows_what_it_held(tmp_path: Path) -> None:
    """A shared store's commit empties the counter it sends (Redis): its status line showed
    `"top": []` at every commit (QA H10); it shows the committed interval's endpoints."""  # noqa: D205, D209
    from hitcount.strategies.sliding import SlidingWindow

    path = tmp_path / "a.ndjson"
    _write(path, [_line(f"/e{i % 3}", 1_000.0 + i) for i in range(30)])
    counter, shown = HitCounter("sliding", max_window_s=1e6), []

    def ship(sent: HitCounter) -> None:  # as RedisAppend does after a batch
        sent.continue_with(SlidingWindow(max_window_s=1e6))

    key = os.path.abspath(path)
    follow(
        counter, [str(path)], MemoryStore(), commit_every_s=0.05, commit_to=ship,
        view=FollowView(on_commit=shown.append, window_s=1e6),
        should_stop=lambda: key in counter.inputs and counter.inputs[key].lines == 30,
    )  # fmt: skip
    top = {row.result.endpoint: row.result.answer.count for row in shown[-1].top}
    assert shown[-1].final and top == {"/e0": 10, "/e1": 10, "/e2": 10}

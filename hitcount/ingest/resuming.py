"""Input positions for `replay`: where each file starts, and how far each has been read.

Every replay records an `InputPosition` per input file in `counter.inputs` (the store saves
it with the state): after each block when something commits as it goes (Redis), at the end
of the file, and where `--exit-on-alert` stopped it. `--append --resume` then skips the lines
already in the state. `plan_starts` refuses what would count lines twice: a file already
read whole (unless `again`), and one file named twice in one replay.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import msgspec

from hitcount.errors import InputError
from hitcount.ingest.reader import BOM, GZIP_MAGIC, MAX_LINE_BYTES
from hitcount.ingest.rotation import copy_of, inflated_head, keep_position
from hitcount.model.digests import sha256
from hitcount.model.positions import (
    HEAD_BYTES,
    STDIN,
    InputPosition,
    display_name,
    find,
    is_stream,
    offset_after_lines,
    position_at,
)

AGAIN_HINT = "add --again to count it a second time"


class Place:
    """Where a replay is in one open input file; it records positions in `inputs`.

    Attributes:
        done: bytes of the whole lines read (None: not known, a gzip file's inside).
    """

    def __init__(
        self, source: str, inputs: dict[str, InputPosition], start: InputPosition | None
    ) -> None:
        self.source = source
        self.inputs = inputs
        self.fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        head = os.pread(self.fd, len(BOM), 0)
        self.gzip = head[:2] == GZIP_MAGIC
        self.done: int | None = len(BOM) if head == BOM else 0
        if start is not None and start.lines:  # a resumed plain file starts at its offset
            self.done = _next_line_start(self.fd, start.offset) if start.offset else None
        if self.gzip:
            self.done = None
        self._block = b""
        self._block_start = 0
        self._block_lines_before = 0

    def block(self, lines_before: int, block: bytes | None) -> None:
        """A block is about to be recorded; `lines_before` of the file came before it."""
        if self.done is None:
            return
        if block is None:  # an over-long line: its length was not kept
            self.done = None
            return
        self._block, self._block_start = block, self.done
        self._block_lines_before = lines_before
        self.done += len(block)

    def reached(self, offset: int) -> None:
        """Whole lines up to `offset` are read (a worker's range ended there)."""
        if not self.gzip:
            self.done, self._block = offset, b""

    def record(self, lines: int, offset: int | None = None) -> InputPosition:
        """Record that the file's first `lines` lines are counted (ending at `offset`)."""
        if offset is None:
            offset = self._offset_of(lines)
        position = position_at(self.source, self.fd, offset, lines)
        for path, other in list(self.inputs.items()):  # one file, one position: a hard link
            # `matches`: the same inode and head (a deleted file's inode is soon another's)
            if path != position.path and other.lines <= lines and other.matches(self.fd):
                del self.inputs[path]  # or a rename read under its new name
        keep_position(self.inputs, position)
        return position

    def unfinished(self) -> bytes | None:
        """The last line read, when it has no newline yet (None: the read ends a line)."""
        done = self.done
        if self.gzip or not done or os.pread(self.fd, 1, done - 1) == b"\n":
            return None
        start = max(0, done - MAX_LINE_BYTES - 1)
        before = os.pread(self.fd, done - start, start)
        return before[before.rfind(b"\n") + 1 :]

    def finish(self, lines: int, end: int) -> InputPosition:
        """The file is read to its end, `end` bytes (gzip: compressed bytes) in."""
        return self.record(lines, end)

    def close(self) -> None:
        """Close the file."""
        os.close(self.fd)

    def _offset_of(self, lines: int) -> int:
        """The byte offset after line `lines` (0 inside a gzip file: not a file offset)."""
        if self.gzip:
            return 0
        if self.done is not None:
            within, block = lines - self._block_lines_before, self._block
            if not block:
                return self.done
            if within <= 0:
                return self._block_start
            newlines = block.count(b"\n")
            if within > newlines or (within == newlines and block.endswith(b"\n")):
                return self.done
            cut = 0
            for _ in range(within):
                found = self._block.find(b"\n", cut)
                if found < 0:
                    return self._block_start + len(self._block)
                cut = found + 1
            return self._block_start + cut
        return offset_after_lines(self.fd, lines)


def plan_starts(
    saved: Mapping[str, InputPosition],
    sources: Sequence[str],
    *,
    resume: bool,
    again: bool,
    note: Callable[[str], None],
) -> dict[str, InputPosition]:
    """Where each of `sources` starts: after its saved position when resuming.

    A file is found by its path, else by identity: renamed or linked (the same inode and
    head), or compressed since it was read (a gzip file whose inflated head is a recorded
    plain file's). A file the state already holds whole is refused unless `again` (under
    `resume` it is skipped with a note: nothing of it is left to count).

    Raises:
        InputError: one file named twice, or a file already read whole (without `again`).
    """
    refuse_repeats(sources, again)
    starts: dict[str, InputPosition] = {}
    for source in sources:
        if is_stream(source):
            if resume:
                note(
                    f"--resume does not apply to {display_name(source)} (read once, as a"
                    " stream): every line it gives is counted"
                )
            continue
        try:
            fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue  # the replay says what is wrong with it
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue  # a directory, a device: the replay says what is wrong with it
            start = _start_in(saved, source, fd, _Choice(resume, again, note))
        finally:
            os.close(fd)
        if start is not None:
            starts[source] = start
    return starts


class _Choice(NamedTuple):
    resume: bool
    again: bool
    note: Callable[[str], None]


def _start_in(
    saved: Mapping[str, InputPosition], source: str, fd: int, choice: _Choice
) -> InputPosition | None:
    """Where the open file `fd` at `source` starts (None: from line 1)."""
    name, position = display_name(source), find(saved, source)
    if position is not None and position.matches(fd):
        return _start(name, fd, position, os.fstat(fd).st_size == position.offset, choice)
    moved = next((p for p in saved.values() if p is not position and p.matches(fd)), None)
    if moved is not None:  # a log rotated by renaming (access.log to access.log.1)
        seen = f"{name}: read before as {moved.path} (the same file, renamed or linked)"
        return _start(name, fd, moved, os.fstat(fd).st_size == moved.offset, choice, seen)
    packed = compressed_copy(saved, fd)
    if packed is not None:  # ... and compressed since (access.log.1 to access.log.1.gz)
        plain, whole = packed
        seen = f"{name}: read before as {plain.path} (the same lines, compressed since)"
        return _start(name, fd, _inside_gzip(fd, source, plain.lines), whole, choice, seen)
    copied = plain_copy(saved, fd)
    if copied is not None:  # ... or copied, then emptied in place (copytruncate)
        as_name = "" if copied.path == os.path.realpath(source) else f" as {copied.path}"
        seen = f"{name}: read before{as_name} (the same lines, copied since)"
        return _start(name, fd, copied, os.fstat(fd).st_size == copied.offset, choice, seen)
    if choice.resume:
        if position is None:
            choice.note(f"{name}: no position recorded for it; from line 1")
        else:
            choice.note(
                f"{name}: not the file replayed before (rotated or rewritten?); from line 1"
            )
    return None


def _start(
    name: str,
    fd: int,
    position: InputPosition,
    whole: bool,
    choice: _Choice,
    seen: str = "",
) -> InputPosition | None:
    """Where the file named `name` starts given its saved `position` (None: from line 1);
    `seen` notes where it was read before, when under another name."""  # noqa: D205, D209
    if choice.again:  # asked for: counted from line 1 again
        return None
    if whole and not choice.resume:
        raise InputError(
            name,
            f"already read whole by an earlier replay ({_lines(position.lines)} in the"
            " state); appending it again would count them twice",
            hint=f"leave it out, use --resume to count only what it gains, or {AGAIN_HINT}",
        )
    if not choice.resume:
        raise InputError(
            name,
            f"already read up to line {position.lines} by an earlier replay; appending it"
            " again would count those lines twice",
            hint=f"use --resume to count only the lines after them, or {AGAIN_HINT}",
        )
    if seen:
        choice.note(seen)
    if whole:
        choice.note(f"{name}: already read whole ({_lines(position.lines)}); nothing new to count")
    else:
        choice.note(f"{name}: resuming after line {position.lines}")
    if not whole and _grew_after_counting(fd, position.offset):
        choice.note(
            f"{name}:{position.lines}: this line was counted before its newline was written;"
            " what was added to it since is not counted"
        )
    return position


def plain_copy(saved: Mapping[str, InputPosition], fd: int) -> InputPosition | None:
    """The recorded position of another file whose lines the plain file `fd` starts with
    (its head, and at least its length: a copy), the one read furthest."""  # noqa: D205, D209
    if os.pread(fd, 2, 0) == GZIP_MAGIC:
        return None
    found = [p for p in saved.values() if p.head_bytes > 0 and p.lines and copy_of(p, fd)]
    return max(found, key=lambda p: p.offset, default=None)


def compressed_copy(
    saved: Mapping[str, InputPosition], fd: int
) -> tuple[InputPosition, bool] | None:
    """The recorded position of a plain file whose bytes the gzip file `fd` holds.

    Also whether it holds no more than was read (its inflated size is the offset). Of
    several candidates (one head, several files) the one read as far as the gzip file's
    size says is preferred, else the one read furthest.
    """
    if os.pread(fd, 2, 0) != GZIP_MAGIC:
        return None
    plain = [p for p in saved.values() if p.head_bytes > 0 and p.offset and p.lines]
    head = inflated_head(fd, HEAD_BYTES) if plain else b""
    found = [
        p for p in plain
        if len(head) >= p.head_bytes and sha256(head[: p.head_bytes]).hexdigest() == p.head_sha256
    ]  # fmt: skip
    if not found:
        return None
    size = int.from_bytes(os.pread(fd, 4, max(0, os.fstat(fd).st_size - 4)), "little")
    whole = [p for p in found if p.offset % 2**32 == size]
    best = whole[0] if whole else max(found, key=lambda p: p.offset)
    return best, bool(whole)


def _inside_gzip(fd: int, source: str, lines: int) -> InputPosition:
    """A position `lines` lines into the gzip file `fd` (no file offset, no head)."""
    return msgspec.structs.replace(position_at(source, fd, 0, 0), lines=lines)


def _next_line_start(fd: int, offset: int) -> int:
    """Where the lines after a position start: `offset`, or past the newline of the line it
    ends inside (a last line counted without its newline; reading skips the rest of it),
    `offset` again while that line has no newline yet: nothing after it is read."""  # noqa: D205, D209
    if os.pread(fd, 1, offset - 1) == b"\n":
        return offset
    end = os.pread(fd, MAX_LINE_BYTES + 1, offset).find(b"\n")
    return offset if end < 0 else offset + end + 1


def _grew_after_counting(fd: int, offset: int) -> bool:
    """Whether the line a position ends inside (a last line counted without its newline)
    went on being written since: the bytes around `offset` are not a line's end."""  # noqa: D205, D209
    around = os.pread(fd, 2, offset - 1) if offset else b""
    return len(around) == 2 and b"\n" not in around


def _lines(count: int) -> str:
    return f"{count:,} line" if count == 1 else f"{count:,} lines"


def refuse_repeats(sources: Sequence[str], again: bool) -> None:
    """One file named twice in one replay (by any path) would be counted twice; one stream
    (stdin, a pipe) named twice cannot be read twice at all.

    Raises:
        InputError: a stream named twice; a file named twice, unless `again`.
    """  # noqa: D205
    seen: dict[tuple[int, int], str] = {}
    for number, source in enumerate(sources):
        try:
            status = os.fstat(0) if source == STDIN else os.stat(source)
        except OSError:
            continue  # the replay says what is wrong with it
        first = seen.setdefault((status.st_dev, status.st_ino), source)
        twice = first != source or source in sources[:number]
        if twice and is_stream(source) and is_stream(first):
            what = "is named twice" if first == source else f"is {display_name(first)} again"
            raise InputError(
                display_name(source), f"{what}: a stream can be read only once", hint="name it once"
            )
        if twice and not again:
            also = "" if first == source else f" (it is {display_name(first)})"
            raise InputError(
                display_name(source),
                f"named twice in one replay{also}: its lines would count twice",
                hint=f"name each file once, or {AGAIN_HINT}",
            )


def opened_place(
    source: str, inputs: dict[str, InputPosition], start: InputPosition | None
) -> Place | None:
    """The place of `source` (None: stdin, or a file that cannot be opened: the reader says
    why), starting after `start`."""  # noqa: D205, D209
    if is_stream(source):
        return None
    try:
        return Place(source, inputs, start)
    except OSError:
        return None

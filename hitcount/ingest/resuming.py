"""Input positions for `replay`: where each file starts, and how far each has been read.

Every replay records an `InputPosition` per input file in `counter.inputs` (the store saves
it with the state): after each block when something commits as it goes (Redis), at the end
of the file, and where `--exit-on-alert` stopped it. `--append --resume` then skips the lines
already in the state. `plan_starts` refuses what would count lines twice: a file already
read whole (unless `again`), and one file named twice in one replay.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from hitcount.errors import InputError
from hitcount.ingest.reader import BOM, GZIP_MAGIC, MAX_LINE_BYTES
from hitcount.model.positions import (
    STDIN,
    InputPosition,
    display_name,
    find,
    kept,
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
            self.done = start.offset or None
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
        recorded = kept(self.inputs.get(position.path), position)
        for path, other in list(self.inputs.items()):  # one file, one position: a hard link
            if path != position.path and _same_inode(other, position) and other.lines <= lines:
                del self.inputs[path]  # or a rename read under its new name
        self.inputs[position.path] = recorded
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

    A file the state already holds whole is refused unless `again` (under `resume` it is
    skipped with a note: nothing of it is left to count).

    Raises:
        InputError: one file named twice, or a file already read whole (without `again`).
    """
    refuse_repeats(sources, again)
    starts: dict[str, InputPosition] = {}
    for source in sources:
        if source == STDIN:
            continue
        position = _renamed(saved, source, find(saved, source), note)
        if position is None:
            if resume:
                note(f"{display_name(source)}: no position recorded for it; from line 1")
        elif start := _start(source, position, resume, again, note):
            starts[source] = start
    return starts


def _same_inode(one: InputPosition, other: InputPosition) -> bool:
    return (one.device, one.inode) == (other.device, other.inode)


def _renamed(
    saved: Mapping[str, InputPosition],
    source: str,
    position: InputPosition | None,
    note: Callable[[str], None],
) -> InputPosition | None:
    """`position`, unless the file at `source` was recorded under another path: a log
    rotated by renaming (`access.log` to `access.log.1`) is the same file, read as far."""  # noqa: D205, D209
    try:
        fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return position  # the replay says what is wrong with it
    try:
        if position is not None and position.matches(fd):
            return position
        moved = next((p for p in saved.values() if p is not position and p.matches(fd)), None)
    finally:
        os.close(fd)
    if moved is None:
        return position
    note(f"{display_name(source)}: read before as {moved.path} (the same file, renamed or linked)")
    return moved


def _start(
    source: str, position: InputPosition, resume: bool, again: bool, note: Callable[[str], None]
) -> InputPosition | None:
    """Where `source` starts given its saved `position` (None: from line 1)."""
    name = display_name(source)
    try:
        fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # the replay says what is wrong with it
    try:
        same = position.matches(fd)
        whole = same and position.read_whole(fd)
        grown = same and not whole and _grew_after_counting(fd, position.offset)
    finally:
        os.close(fd)
    if not same:
        if resume:
            note(f"{name}: not the file replayed before (rotated or rewritten?); from line 1")
        return None
    if again:  # asked for: counted from line 1 again
        return None
    if whole and not resume:
        raise InputError(
            name,
            f"already read whole by an earlier replay ({_lines(position.lines)} in the"
            " state); appending it again would count them twice",
            hint=f"leave it out, use --resume to count only what it gains, or {AGAIN_HINT}",
        )
    if not resume:
        return None
    if whole:
        note(f"{name}: already read whole ({_lines(position.lines)}); nothing new to count")
    else:
        note(f"{name}: resuming after line {position.lines}")
    if grown:
        note(
            f"{name}:{position.lines}: this line was counted before its newline was written;"
            " what was added to it since is not counted"
        )
    return position


def _grew_after_counting(fd: int, offset: int) -> bool:
    """Whether the line a position ends inside (a last line counted without its newline)
    went on being written since: the bytes around `offset` are not a line's end."""  # noqa: D205, D209
    around = os.pread(fd, 2, offset - 1) if offset else b""
    return len(around) == 2 and b"\n" not in around


def _lines(count: int) -> str:
    return f"{count:,} line" if count == 1 else f"{count:,} lines"


def refuse_repeats(sources: Sequence[str], again: bool) -> None:
    """One file named twice in one replay (by any path) would be counted twice.

    Raises:
        InputError: unless `again`.
    """
    if again:
        return
    seen: dict[tuple[int, int], str] = {}
    for source in sources:
        if source == STDIN:
            continue
        try:
            status = os.stat(source)
        except OSError:
            continue  # the replay says what is wrong with it
        first = seen.setdefault((status.st_dev, status.st_ino), source)
        if first != source or sources.count(source) > 1:
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
    if source == STDIN:
        return None
    try:
        return Place(source, inputs, start)
    except OSError:
        return None

"""How far into an input file the saved state has read, and which file that was.

A position names the file by path and by identity: its device and inode, and a checksum of
its first bytes (up to `HEAD_BYTES` of what was read). A later run compares that identity
with the file now at the path: the same file resumes at `offset`; a file rotated away
(another inode) or truncated and rewritten (another head, or shorter than `offset`) starts
again from 0. Offsets only ever cover whole lines.

It is the one position type of every input and every store: `replay --follow` resumes at
`offset`, `replay --append --resume` skips `lines` (which also works for gzip files, whose
positions part way through have offset 0 and no head: they are known by device and inode
only). A file is read whole when its position's `offset` is the file's size. For one input
identity a position never moves back (`kept`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from typing import Any

import msgspec

#: The checksum covers at most this many bytes from the start of the file.
HEAD_BYTES = 1024
#: The source name that reads standard input.
STDIN = "-"
_SCAN_BYTES = 1024 * 1024
_FIELDS = {"path": str, "device": int, "inode": int, "head_bytes": int, "head_sha256": str}


def is_stream(source: str) -> bool:
    """Whether `source` can be read only once, front to back: stdin (`-`), or a path that is
    not a regular file (a pipe such as `<(zcat log.gz)`, a FIFO, `/dev/stdin`). Such an input
    is opened once and has no position: it is never sniffed ahead, resumed or reordered."""  # noqa: D205, D209
    if source == STDIN:
        return True
    try:
        mode = os.stat(source).st_mode
    except OSError:
        return False  # the reader says what is wrong with it
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def display_name(source: str) -> str:
    """How a source is named in messages: the path, or `<stdin>`."""
    return "<stdin>" if source == STDIN else source


class InputPosition(msgspec.Struct, frozen=True):
    """A file's identity and how far into it the state has read.

    Attributes:
        path: the absolute path the file was read under.
        device: `st_dev` of the file.
        inode: `st_ino` of the file.
        head_bytes: how many leading bytes `head_sha256` covers (min(offset, HEAD_BYTES)).
        head_sha256: hex SHA-256 of those bytes.
        offset: bytes read and counted, always at the end of a line.
        lines: lines read and counted (the next line is `lines + 1`).
    """

    path: str
    device: int
    inode: int
    head_bytes: int
    head_sha256: str
    offset: int
    lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The position as a JSON-ready dict."""
        return msgspec.structs.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> InputPosition:
        """A position from `to_dict`'s output.

        Raises:
            ValueError: not a dict, a missing field, or a value of the wrong type or range.
        """
        if not isinstance(data, dict):
            raise ValueError(f"input position must be an object, got {type(data).__name__}")
        for name, kind in {**_FIELDS, "offset": int, "lines": int}.items():
            value = data.get(name, 0 if name == "lines" else None)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"input position field {name!r} must be {kind.__name__}")
            if isinstance(value, int) and not 0 <= value < 2**63:
                raise ValueError(f"input position field {name!r} out of range: {value}")
        unknown = set(data) - set(_FIELDS) - {"offset", "lines"}
        if unknown:
            raise ValueError(f"input position has unknown field {sorted(unknown)[0]!r}")
        position = cls(**data)
        if position.head_bytes > min(position.offset, HEAD_BYTES):
            raise ValueError("input position head_bytes exceeds its offset")
        return position

    def advanced(self, fd: int, offset: int, lines: int) -> InputPosition:
        """This position moved to `offset` (and `lines`); `fd` is the open file."""
        head = min(offset, HEAD_BYTES)
        if head == self.head_bytes:
            return InputPosition(
                self.path, self.device, self.inode, head, self.head_sha256, offset, lines
            )
        return InputPosition(
            self.path, self.device, self.inode, head, head_checksum(fd, head), offset, lines
        )

    def same_file(self, other: InputPosition) -> bool:
        """Whether `other` names the same file: same device, inode and head (a file rewritten
        in place has another head; so does a position still inside the first `HEAD_BYTES`)."""  # noqa: D205, D209
        return (self.device, self.inode, self.head_bytes, self.head_sha256) == (
            other.device, other.inode, other.head_bytes, other.head_sha256
        )  # fmt: skip

    def read_whole(self, fd: int) -> bool:
        """Whether the open file `fd` is this position's file, read to its current end."""
        return self.offset == os.fstat(fd).st_size and self.matches(fd)

    def matches(self, fd: int) -> bool:
        """Whether the open file `fd` is this position's file, still holding its head."""
        status = os.fstat(fd)
        return (
            (status.st_dev, status.st_ino) == (self.device, self.inode)
            and status.st_size >= self.offset
            and head_checksum(fd, self.head_bytes) == self.head_sha256
        )


def start_of(path: str, fd: int) -> InputPosition:
    """The position at the start (offset 0) of the open file `fd` found at `path`."""
    status = os.fstat(fd)
    return InputPosition(
        os.path.realpath(path), status.st_dev, status.st_ino, 0, head_checksum(fd, 0), 0
    )


def position_at(path: str, fd: int, offset: int, lines: int) -> InputPosition:
    """The position `offset` bytes (`lines` lines) into the open file `fd` found at `path`."""
    status = os.fstat(fd)
    head = min(offset, HEAD_BYTES)
    return InputPosition(
        os.path.realpath(path), status.st_dev, status.st_ino, head, head_checksum(fd, head),
        offset, lines,
    )  # fmt: skip


def kept(old: InputPosition | None, new: InputPosition) -> InputPosition:
    """The position to keep when `new` arrives for `old`'s path: never back for one file."""
    if old is not None and old.same_file(new) and old.lines > new.lines:
        return old
    return new


def find(inputs: Mapping[str, InputPosition], source: str) -> InputPosition | None:
    """The saved position of `source`: by its path, else by the file it names (a link)."""
    found = inputs.get(os.path.abspath(source))
    if found is None:
        real = os.path.realpath(source)
        found = next((p for p in inputs.values() if os.path.realpath(p.path) == real), None)
    return found


def offset_after_lines(fd: int, lines: int) -> int:
    """The byte offset just after the first `lines` lines of the open file `fd`."""
    offset = 0
    while lines > 0:
        chunk = os.pread(fd, _SCAN_BYTES, offset)
        if not chunk:
            return offset
        count = chunk.count(b"\n")
        if count < lines:
            lines -= count
            offset += len(chunk)
            continue
        cut = 0
        for _ in range(lines):
            cut = chunk.index(b"\n", cut) + 1
        return offset + cut
    return offset


def head_checksum(fd: int, size: int) -> str:
    """Hex SHA-256 of the first `size` bytes of the open file `fd` (fewer if it is shorter)."""
    from hitcount.model.digests import sha256  # here: a query reads positions, never hashes

    return sha256(os.pread(fd, size, 0) if size else b"").hexdigest()


def position_after_lines(source: str, lines: int) -> InputPosition | None:
    """The position after the first `lines` lines of the file `source` (None: unreadable)."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        gzip = os.pread(fd, 2, 0) == b"\x1f\x8b"  # inside a gzip file: no file offset
        return position_at(source, fd, 0 if gzip else offset_after_lines(fd, lines), lines)
    finally:
        os.close(fd)

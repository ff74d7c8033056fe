"""How far into an input file the saved state has read, and which file that was.

A position names the file by path and by identity: its device and inode, and a checksum of
its first bytes (up to `HEAD_BYTES` of what was read). A later run compares that identity
with the file now at the path: the same file resumes at `offset`; a file rotated away
(another inode) or truncated and rewritten (another head, or shorter than `offset`) starts
again from 0. Offsets only ever cover whole lines.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from typing import Any

#: The checksum covers at most this many bytes from the start of the file.
HEAD_BYTES = 1024
#: The source name that reads standard input.
STDIN = "-"
_FIELDS = {"path": str, "device": int, "inode": int, "head_bytes": int, "head_sha256": str}


def display_name(source: str) -> str:
    """How a source is named in messages: the path, or `<stdin>`."""
    return "<stdin>" if source == STDIN else source


@dataclass(frozen=True, slots=True)
class InputPosition:
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
        return asdict(self)

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
        os.path.abspath(path), status.st_dev, status.st_ino, 0, head_checksum(fd, 0), 0
    )


def head_checksum(fd: int, size: int) -> str:
    """Hex SHA-256 of the first `size` bytes of the open file `fd` (fewer if it is shorter)."""
    return hashlib.sha256(os.pread(fd, size, 0) if size else b"").hexdigest()

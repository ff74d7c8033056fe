"""Reading a state or snapshot file: regular files only, and never more than the cap.

A FIFO named as the state would block every command, and `/dev/zero` would be read without
end; both are refused after a non-blocking open, before a byte is read. A file is read up to
`MAX_DOCUMENT_BYTES` plus one byte, so a huge one is refused without being held whole.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from hitcount.errors import StateError

#: The largest state or snapshot document hitcount reads, in bytes.
MAX_DOCUMENT_BYTES = 4 * 1024**3
#: The first bytes of every SQLite database file.
SQLITE_MAGIC = b"SQLite format 3\x00"
_READ_BYTES = 1 << 24


def read_document_file(path: Path, what: str = "state") -> bytes:
    """The bytes of the regular file at `path`, at most `MAX_DOCUMENT_BYTES`.

    Raises:
        FileNotFoundError, IsADirectoryError, OSError: as `open` would.
        StateError: not a regular file (a FIFO, a device, a socket), or too large.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise StateError(
                f"{path}: not a regular file (a pipe, device or socket), so not a {what} file",
                hint=f"name a {what} file",
            )
        return _read_capped(fd, path, what)
    finally:
        os.close(fd)


def _read_capped(fd: int, path: Path, what: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(_READ_BYTES, MAX_DOCUMENT_BYTES + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_DOCUMENT_BYTES:
            raise StateError(
                f"{path}: larger than any hitcount {what} ({MAX_DOCUMENT_BYTES} bytes)"
            )


def read_head(path: Path, size: int, what: str = "state") -> bytes:
    """The first `size` bytes of the regular file at `path` (a FIFO is never waited on).

    Raises:
        FileNotFoundError, OSError: as `open` would.
        StateError: not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StateError(
                f"{path}: not a regular file (a pipe, device or socket), so not a {what} file",
                hint=f"name a {what} file",
            )
        return os.read(fd, size)
    finally:
        os.close(fd)


def holds_sqlite(path: Path, what: str = "state") -> bool:
    """Whether the file at `path` begins as a SQLite database does (False when it cannot be
    read: the caller's own read of it says why)."""  # noqa: D205, D209
    try:
        return read_head(path, len(SQLITE_MAGIC), what) == SQLITE_MAGIC
    except (OSError, StateError):
        return False

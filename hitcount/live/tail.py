"""Reading inputs that grow, like `tail -F`: whole lines only, across rotation and truncation.

A tail hands out blocks of whole lines as they are completed; a half-written last line
stays unread until its newline arrives. `FileTail` follows a path: when the file is renamed
away and a new one created, it finishes the old file and starts the new one from its start;
when the file is truncated in place (copytruncate), it starts again from 0; when the path
is missing, it waits for it. `StreamTail` reads a pipe (stdin) until its end.
"""

from __future__ import annotations

import io
import os
import select
import stat
from collections.abc import Callable
from typing import BinaryIO

from hitcount.errors import ConfigurationError, InputError
from hitcount.ingest.reader import BOM, GZIP_MAGIC, MAX_LINE_BYTES
from hitcount.model.positions import InputPosition, display_name, start_of

#: Most bytes read at once.
CHUNK_BYTES = 4 * 1024 * 1024
#: What to do with a pipe or FIFO named by path: it cannot be followed as a file.
FOLLOW_STDIN_HINT = "pipe it in and follow - instead"
#: How long a stream read waits for data before giving the caller a turn (seconds).
WAIT_S = 0.1

#: `(number of the first line, block)` as `iter_blocks` yields them; None is an over-long line.
Block = tuple[int, bytes | None]
NoteHandler = Callable[[str], None]


def compressed_refusal(name: str) -> ConfigurationError:
    """The error for following gzip input, which cannot be read as it grows."""
    return ConfigurationError(
        f"{name}: is gzip-compressed; cannot follow a compressed file",
        hint="follow the uncompressed log, or replay this file without --follow",
    )


class FileTail:
    """Whole lines appended to the file at `path`, surviving rotation and truncation."""

    def __init__(
        self, path: str, resume: InputPosition | None = None, on_note: NoteHandler | None = None
    ) -> None:
        """Follow `path`, from `resume` when it still names the same file, else from 0."""
        self.path = path
        self.name = display_name(path)
        self.position: InputPosition | None = None
        self._resume = resume
        self._note = on_note or (lambda message: None)
        self._fd: int | None = None
        self._waiting_noted = False
        #: Said once, when the file is first opened (e.g. why it is read from the start).
        self.first_note: str | None = None

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def read(self) -> Block | None:
        """The next block of whole lines, or None when no whole line is ready yet.

        Raises:
            InputError: the path is a directory or unreadable, or holds gzip data.
        """
        if self._fd is None and not self._open():
            return None
        assert self._fd is not None and self.position is not None
        if not self.position.matches(self._fd):
            self._note(f"{self.name}: truncated; reading it again from the start")
            self.position = self._start(self._fd)
        block = self._read_lines()
        if block is None:
            block = self._follow_rename()
        return block

    def _open(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            if not self._waiting_noted:
                self._note(f"{self.name}: no such file yet; waiting for it to appear")
                self._waiting_noted = True
            return False
        except OSError as err:
            raise InputError(self.name, f"cannot open: {err.strerror}") from err
        self._fd, self._waiting_noted = fd, False
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(self.name, "is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise InputError(self.name, "is not a regular file", hint=FOLLOW_STDIN_HINT)
        if os.pread(fd, 2, 0) == GZIP_MAGIC:
            raise compressed_refusal(self.name)
        if self.first_note is not None:
            self._note(self.first_note)
            self.first_note = None
        resume, self._resume = self._resume, None
        if resume is not None and resume.matches(fd):
            self.position = resume
        else:
            if resume is not None and resume.offset:
                self._note(
                    f"{self.name}: not the file the saved state read up to byte"
                    f" {resume.offset} (rotated or rewritten since); reading it from the start"
                )
            self.position = self._start(fd)
        return True

    def _start(self, fd: int) -> InputPosition:
        return start_of(self.path, fd)

    def _read_lines(self) -> Block | None:
        assert self._fd is not None and self.position is not None
        offset = self.position.offset
        data = os.pread(self._fd, CHUNK_BYTES, offset)
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            return self._long_line(offset) if len(data) > MAX_LINE_BYTES else None
        return self._consume(data[:cut])

    def _consume(self, block: bytes | None, size: int | None = None) -> Block:
        """Advance past `block` (or `size` bytes of an over-long line) and hand it out."""
        assert self._fd is not None and self.position is not None
        position = self.position
        size = len(block) if block is not None else size or 0
        lines = block.count(b"\n") if block is not None else 1
        self.position = position.advanced(self._fd, position.offset + size, position.lines + lines)
        if block is not None and position.offset == 0:
            block = block.removeprefix(BOM)
        return position.lines + 1, block

    def _long_line(self, offset: int) -> Block | None:
        """Skip a line longer than MAX_LINE_BYTES once its newline has arrived."""
        assert self._fd is not None
        scan = offset
        while data := os.pread(self._fd, CHUNK_BYTES, scan):
            newline = data.find(b"\n")
            if newline >= 0:
                return self._consume(None, scan + newline + 1 - offset)
            scan += len(data)
        return None

    def _follow_rename(self) -> Block | None:
        """At the end of the file: if the path now names another file, switch to it.

        A last line without its newline in the old file is handed out as it is: nothing
        will be added to a file rotated away.
        """
        assert self._fd is not None and self.position is not None
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None  # moved away, not yet recreated: keep the old one until it is
        except OSError as err:
            raise InputError(self.name, f"cannot read: {err.strerror}") from err
        current = os.fstat(self._fd)
        if (status.st_dev, status.st_ino) == (current.st_dev, current.st_ino):
            return None
        rest = os.pread(self._fd, CHUNK_BYTES, self.position.offset)
        if rest and len(rest) <= MAX_LINE_BYTES:
            return self._consume(rest)
        self.close()
        self._note(f"{self.name}: rotated; reading the new file from the start")
        self._open()
        return None


class StreamTail:
    """Whole lines from a pipe or stdin, until its end."""

    def __init__(self, stream: BinaryIO, name: str = "<stdin>") -> None:
        self.name = name
        self.position: InputPosition | None = None  # a pipe cannot be resumed
        self.ended = False
        self._stream = stream
        self._pending = b""
        self._lines = 0
        try:
            self._fd: int | None = stream.fileno()
        except (OSError, io.UnsupportedOperation):  # an in-memory stream (tests)
            self._fd = None

    def close(self) -> None:
        """Nothing to close: the stream belongs to the caller."""

    def read(self) -> Block | None:
        """The next block of whole lines; waits up to WAIT_S for data; None when none.

        At the end of the stream, a last line without a newline is handed out as it is.

        Raises:
            ConfigurationError: the stream holds gzip data.
        """
        if self.ended:
            return None
        data = self._read_some()
        if data is None:
            return None
        if not data:
            self.ended = True
            pending, self._pending = self._pending, b""
            return (self._lines + 1, pending) if pending else None
        if not self._lines and not self._pending and data.startswith(GZIP_MAGIC):
            raise compressed_refusal(self.name)
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        block, self._pending = data[:cut], data[cut:]
        if len(self._pending) > MAX_LINE_BYTES:
            block, self._pending = data, b""  # the reader reports it as an over-long line
        if not block:
            return None
        first = self._lines + 1
        self._lines += block.count(b"\n")
        return first, block.removeprefix(BOM) if first == 1 else block

    def _read_some(self) -> bytes | None:
        """Some bytes, b"" at the end, or None when nothing came within WAIT_S."""
        if self._fd is None:
            reader = getattr(self._stream, "read1", self._stream.read)
            return bytes(reader(CHUNK_BYTES))
        ready, _, _ = select.select([self._fd], [], [], WAIT_S)
        if not ready:
            return None
        return os.read(self._fd, CHUNK_BYTES)

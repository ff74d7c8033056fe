"""Reading input: files or stdin, gzip detected by content, lines numbered from 1."""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from hitcount.errors import InputError

#: Lines longer than this (bytes) are bad lines; the reader never buffers more.
MAX_LINE_BYTES = 1024 * 1024
_CHUNK_BYTES = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"


def display_name(source: str) -> str:
    """How a source is named in messages: the path, or `<stdin>`."""
    return "<stdin>" if source == STDIN else source


@contextmanager
def open_input(source: str) -> Iterator[BinaryIO]:
    """Open a path (or `-` for stdin) for binary reading, unzipping gzip content.

    Raises:
        InputError: the file is missing, unreadable or a directory.
    """
    name = display_name(source)
    if source == STDIN:
        raw: BinaryIO = sys.stdin.buffer
        owned = False
    else:
        try:
            raw = open(Path(source), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise InputError(name, "no such file", hint="check the path") from None
        except IsADirectoryError:
            raise InputError(name, "is a directory, not a file") from None
        except OSError as err:
            raise InputError(name, f"cannot open: {err.strerror}") from None
        owned = True
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
    try:
        if buffered.peek(2)[:2] == _GZIP_MAGIC:
            yield gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[misc]
        else:
            yield buffered
    finally:
        if owned:
            raw.close()


def iter_lines(stream: BinaryIO, name: str) -> Iterator[tuple[int, bytes | None]]:
    """Yield `(line_number, line)` without the newline (and a CR before it).

    A line longer than MAX_LINE_BYTES is yielded as `(n, None)` and skipped.

    Raises:
        InputError: the stream cannot be read (corrupt gzip, I/O error).
    """
    number = 0
    pending = b""
    oversized = False
    for chunk in _chunks(stream, name):
        parts = chunk.split(b"\n")
        parts[0] = pending + parts[0]
        pending = parts.pop()
        for part in parts:
            number += 1
            if oversized or len(part) > MAX_LINE_BYTES:
                oversized = False
                yield number, None
            else:
                yield number, part[:-1] if part.endswith(b"\r") else part
        if len(pending) > MAX_LINE_BYTES:
            oversized, pending = True, b""
    if oversized or pending:
        number += 1
        yield number, None if oversized else pending.removesuffix(b"\r")


def _chunks(stream: BinaryIO, name: str) -> Iterator[bytes]:
    while True:
        try:
            chunk = stream.read(_CHUNK_BYTES)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(
                name,
                f"cannot read: {err}",
                hint="the file is damaged or truncated; nothing was saved",
            ) from None
        if not chunk:
            return
        yield chunk

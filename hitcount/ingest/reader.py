"""Reading input: files or stdin, gzip detected by content, lines numbered from 1."""

from __future__ import annotations

import gzip
import io
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from hitcount.errors import InputError
from hitcount.model.positions import STDIN, display_name

#: Lines longer than this (bytes) are bad lines; the reader never buffers more.
MAX_LINE_BYTES = 1024 * 1024
_CHUNK_BYTES = 1024 * 1024
_CAP_BYTES = 64 * 1024
#: The first bytes of gzip content (inputs are recognised by content, not by name).
GZIP_MAGIC = b"\x1f\x8b"
#: A line of nothing but ASCII whitespace, with its newline.
_BLANK_LINE = re.compile(rb"^[ \t\r\x0b\x0c]*\n", re.MULTILINE)
#: A UTF-8 byte order mark, dropped from the start of an input.
BOM = b"\xef\xbb\xbf"


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
        except FileNotFoundError as err:
            raise InputError(name, "no such file", hint="check the path") from err
        except IsADirectoryError as err:
            raise InputError(name, "is a directory, not a file") from err
        except OSError as err:
            raise InputError(name, f"cannot open: {err.strerror}") from err
        owned = True
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
    try:
        head = buffered.peek(4)[:4]
        if head[:2] == GZIP_MAGIC:
            unzipped = gzip_reader(buffered)
            peek = getattr(unzipped, "peek", None)
            if peek is not None:  # the text inside: UTF-16 there is refused too
                refuse_wide_text(name, _first_bytes(peek, name))
            yield unzipped
        else:
            refuse_wide_text(name, head)
            yield buffered
    finally:
        if owned:
            raw.close()


def _first_bytes(peek: Any, name: str) -> bytes:
    """The first bytes a gzip reader gives (none when they cannot be read: the read that
    follows reports that, as it would have)."""  # noqa: D205, D209
    try:
        return bytes(peek(4)[:4])
    except _read_errors():
        return b""


def refuse_wide_text(name: str, head: bytes) -> None:
    """Refuse UTF-16 or UTF-32 text (a byte order mark): every line would be bad.

    Raises:
        InputError: it is.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise InputError(
            name,
            "the input is UTF-16 or UTF-32 text (it starts with a byte order mark); hitcount"
            " reads UTF-8",
            hint="convert it first, e.g. iconv -f utf-16 -t utf-8 FILE > FILE.utf8",
        )


def gzip_reader(fileobj: BinaryIO) -> BinaryIO:
    """A reader of the gzip content of `fileobj`: ISA-L's (python-isal, about 3.4 times
    zlib's speed here) when it is installed, else the standard library's."""  # noqa: D205, D209
    try:
        from isal.igzip import IGzipFile
    except ImportError:
        return gzip.GzipFile(fileobj=fileobj, mode="rb")  # type: ignore[return-value]
    capped = _Capped(fileobj)
    return cast(BinaryIO, IGzipFile(fileobj=capped, mode="rb"))  # type: ignore[no-untyped-call]


class _Capped(io.RawIOBase):
    """A file read at most 64 KiB a call: ISA-L's reader asks for 512 KiB at a time, and the
    compressed offset (the progress of a replay) would run that far ahead of the lines."""  # noqa: D205, D209

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(_CAP_BYTES if size < 0 else min(size, _CAP_BYTES))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._inner.tell()


def _read_errors() -> tuple[type[Exception], ...]:
    """What reading a damaged input raises: OSError, EOFError, zlib's error and ISA-L's
    (once `gzip_reader` has loaded it: a plain input never imports it)."""  # noqa: D205, D209
    isal = sys.modules.get("isal.igzip_lib")
    if isal is None:
        return (OSError, EOFError, zlib.error)
    return (OSError, EOFError, zlib.error, cast("type[Exception]", isal.IsalError))


def read_offset(stream: BinaryIO) -> int:
    """How far into the file behind `stream` reading has got: for gzip, in compressed
    bytes (what the file's size is counted in); 0 for a stream that cannot tell (a pipe)."""  # noqa: D205, D209
    inner = getattr(stream, "fileobj", None)  # a GzipFile reads from this one
    try:
        return int((inner if inner is not None else stream).tell())
    except (OSError, ValueError):
        return 0


def iter_blocks(
    stream: BinaryIO, name: str, first_line: int = 1
) -> Iterator[tuple[int, bytes | None]]:
    """Yield `(number of the first line, block)`: blocks of whole lines, about 1 MiB each.

    `first_line` numbers a stream that starts later in its file (one seeked to a line start).

    Every line of a block ends in a newline, except perhaps the last line of the input. A
    line longer than MAX_LINE_BYTES that does not fit in memory bounds is yielded as
    `(n, None)` and skipped without being buffered.

    Raises:
        InputError: the stream cannot be read (corrupt gzip, I/O error).
    """
    number = first_line
    pending = b""
    skipping = False  # inside a line too long to keep
    for index, chunk in enumerate(_chunks(stream, name)):
        if index == 0 and first_line == 1:
            chunk = chunk.removeprefix(BOM)
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            yield number, None
            number += 1
            chunk, skipping = chunk[cut + 1 :], False
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n") + 1
        block, pending = data[:cut], data[cut:]
        if block:
            yield number, block
            number += block.count(b"\n")
        if len(pending) > MAX_LINE_BYTES:
            pending, skipping = b"", True
    if skipping:
        yield number, None
    elif pending:
        yield number, pending


def blocks_after(
    stream: BinaryIO, name: str, skip: int, offset: int | None
) -> Iterator[tuple[int, bytes | None]]:
    """The blocks of `stream` after its first `skip` lines, which end at byte `offset`.

    A plain file seeks there when the byte before `offset` ends a line; gzip content, a
    pipe or a file whose bytes moved are read past those lines instead.
    """
    if skip and offset and isinstance(stream, io.BufferedReader) and stream.seekable():
        stream.seek(offset - 1)
        if stream.read(1) == b"\n":
            return iter_blocks(stream, name, skip + 1)
        stream.seek(0)
    return skip_lines(iter_blocks(stream, name), skip)


def skip_lines(
    blocks: Iterable[tuple[int, bytes | None]], count: int
) -> Iterator[tuple[int, bytes | None]]:
    """The blocks of `iter_blocks` without their first `count` lines (numbers unchanged)."""
    for first, block in blocks:
        if count < first:
            yield first, block
            continue
        if block is None:
            continue
        lines_in_block = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        if first + lines_in_block - 1 <= count:
            continue
        cut = 0
        for _ in range(count - first + 1):
            cut = block.index(b"\n", cut) + 1
        yield count + 1, block[cut:]


def lines_end(path: str, size: int) -> int:
    """Where the whole lines of the file's first `size` bytes end: after its last newline."""
    with open(path, "rb") as handle:
        end = size
        while end > 0:
            start = max(0, end - _CHUNK_BYTES)
            handle.seek(start)
            found = handle.read(end - start).rfind(b"\n")
            if found >= 0:
                return start + found + 1
            end = start
    return 0


def line_count(block: bytes) -> int:
    """How many lines `split_block` finds in a block (the last may lack its newline)."""
    return block.count(b"\n") + (0 if not block or block.endswith(b"\n") else 1)


def drop_blank_lines(block: bytes) -> tuple[bytes, int]:
    """The block without its blank (whitespace-only) lines, and how many there were.

    The per-line parsers skip such lines; dropping them first lets a block of data with
    blank lines between (or a flood of nothing else) take the fast path.
    """
    dense, blank = _BLANK_LINE.subn(b"", block)
    tail = dense.rfind(b"\n") + 1
    if tail < len(dense) and dense[tail:].isspace():  # a blank last line without newline
        dense, blank = dense[:tail], blank + 1
    return dense, blank


def split_block(first: int, block: bytes | None) -> Iterator[tuple[int, bytes | None]]:
    """The numbered lines of a block, without newline or CR; over-long lines as None."""
    if block is None:
        yield first, None
        return
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    for offset, line in enumerate(lines):
        if len(line) > MAX_LINE_BYTES:
            yield first + offset, None
        else:
            yield first + offset, line[:-1] if line.endswith(b"\r") else line


def iter_lines(stream: BinaryIO, name: str) -> Iterator[tuple[int, bytes | None]]:
    """Yield `(line_number, line)` from 1, without the newline (and a CR before it).

    A line longer than MAX_LINE_BYTES is yielded as `(n, None)` and skipped.

    Raises:
        InputError: the stream cannot be read (corrupt gzip, I/O error).
    """
    for first, block in iter_blocks(stream, name):
        yield from split_block(first, block)


def _chunks(stream: BinaryIO, name: str) -> Iterator[bytes]:
    errors = _read_errors()
    while True:
        try:
            chunk = stream.read(_CHUNK_BYTES)
        except errors as err:
            raise InputError(
                name,
                f"cannot read: {err}",
                hint="the file is damaged, truncated, or holds bytes after its gzip data"
                " (`gzip -t` tells); nothing was saved",
            ) from err
        if not chunk:
            return
        yield chunk

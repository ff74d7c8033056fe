"""Positions of rotated logs: a new file at a path does not lose the old file's position.

When a file is read at a path whose recorded position belongs to another file (logrotate
renamed `access.log` to `access.log.1` and started a new `access.log`), the old position
moves to the name its file has now in the same directory: found by its inode (and its
head: a deleted file's inode is soon another's), or as a copy of its lines: a file that
starts with its head and is as long (`copytruncate`: `access.log` copied to
`access.log.1`, then emptied in place), or a gzip file inflating to its head
(`delaycompress`: `access.log.1` to `access.log.2.gz`). A later `--append --resume` of
that name then resumes where the file was, instead of counting it again. A position whose
file cannot be found, or whose file has a position of its own there, is forgotten.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from functools import partial

import msgspec

from hitcount.ingest.reader import GZIP_MAGIC
from hitcount.model.digests import sha256
from hitcount.model.positions import HEAD_BYTES, InputPosition, kept


def keep_position(inputs: dict[str, InputPosition], position: InputPosition) -> None:
    """Record `position` under its path (never back for one file, `kept`), moving a
    position there of another file to that file's present name first (and one there
    before it to its own: a chain of rotations)."""  # noqa: D205, D209
    _make_room(inputs, position.path, len(inputs), position)
    inputs[position.path] = kept(inputs.get(position.path), position)


def _make_room(
    inputs: dict[str, InputPosition],
    path: str,
    moves: int,
    current: InputPosition | None = None,
) -> None:
    """Move the position under `path`, unless it is the position of the file now there
    (`current`: that file's position, when known), to its file's present name (forgotten
    when that is gone, or has a position of its own)."""  # noqa: D205, D209
    old = inputs.get(path)
    if old is None or moves < 0 or _describes(old, path, current):
        return
    moved_to = _present_name(old)
    if moved_to is None or moved_to == path:
        return
    if moved_to in inputs and _opened(moved_to, inputs[moved_to].matches):
        return
    _make_room(inputs, moved_to, moves - 1)
    inputs[moved_to] = msgspec.structs.replace(old, path=moved_to)


def _describes(old: InputPosition, path: str, current: InputPosition | None) -> bool:
    """Whether `old` is a position of the file now at `path` (`old.matches` it), told from
    that file's `current` position without opening it again when it can be: another
    inode is another file; the same inode and head, `old` no further, the same file."""  # noqa: D205, D209
    if current is not None:
        if (old.device, old.inode) != (current.device, current.inode):
            return False
        if old.same_file(current) and old.offset <= current.offset:
            return True
    return _opened(path, old.matches)


def _present_name(position: InputPosition) -> str | None:
    """Where the file of `position` is now, in the directory it was read in: the same
    inode and head, else a copy of its lines, plain (`copytruncate`) or gzip (None: none
    is there)."""  # noqa: D205, D209
    try:
        with os.scandir(os.path.dirname(position.path) or ".") as listing:
            entries = [
                e for e in listing if e.path != position.path and e.is_file(follow_symlinks=False)
            ]  # a link is not where a file went (it may even name this one)
        for entry in entries:
            status = entry.stat(follow_symlinks=False)
            same = (status.st_dev, status.st_ino) == (position.device, position.inode)
            if same and _opened(entry.path, position.matches):  # not a reused inode
                return os.path.realpath(entry.path)
        if position.head_bytes and position.lines:
            copies = (e.path for e in entries if _opened(e.path, partial(copy_of, position)))
            return next((os.path.realpath(path) for path in copies), None)
    except OSError:  # the directory is gone or unreadable
        return None
    return None


def _opened(path: str, check: Callable[[int], bool]) -> bool:
    """`check` of the file at `path` opened (False: it cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return check(fd)
    finally:
        os.close(fd)


def copy_of(position: InputPosition, fd: int) -> bool:
    """Whether the file `fd` (another inode) holds the lines `position` counted: it starts
    with that file's head and is as long, or it is gzip inflating to that head."""  # noqa: D205, D209
    if os.pread(fd, 2, 0) == GZIP_MAGIC:
        head = inflated_head(fd, HEAD_BYTES)[: position.head_bytes]
    elif os.fstat(fd).st_size >= position.offset:
        head = os.pread(fd, position.head_bytes, 0)
    else:
        return False
    return len(head) == position.head_bytes and sha256(head).hexdigest() == position.head_sha256


def inflated_head(fd: int, size: int) -> bytes:
    """The first `size` bytes inflated from the gzip file `fd` (fewer if it holds fewer or
    is damaged there: the replay reports the damage)."""  # noqa: D205, D209
    inflate = zlib.decompressobj(wbits=31)
    head, offset = b"", 0
    try:
        while len(head) < size and not inflate.eof:
            chunk = os.pread(fd, 16 * 1024, offset)
            if not chunk:
                break
            offset += len(chunk)
            head += inflate.decompress(chunk, size - len(head))
            while inflate.unconsumed_tail and len(head) < size:
                head += inflate.decompress(inflate.unconsumed_tail, size - len(head))
    except zlib.error:
        pass
    return head[:size]

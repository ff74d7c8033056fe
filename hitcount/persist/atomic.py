"""Atomic file writes: the one implementation every file hitcount writes goes through.

A temporary file next to the target (`.NAME.XXXX`) is written, flushed and fsynced, then
renamed over the target, and the directory is fsynced: a crash or Ctrl-C leaves the old
file or the new one, never a torn one, and never the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hitcount.errors import OutputError


class AtomicWriteError(Exception):
    """Writing failed; the target is unchanged.

    Attributes:
        error: what the OS said.
        in_directory: True when not even the temporary file could be created (the
            directory is missing or not writable).
    """

    def __init__(self, error: OSError, *, in_directory: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.in_directory = in_directory


def temporary_prefix(target: Path) -> str:
    """The name prefix of the temporary files made for `target` (to find stale ones)."""
    return f".{target.name}."


def write_atomically(target: Path, chunks: Iterable[bytes], *, mode: int | None = None) -> None:
    """Replace `target` with the concatenated `chunks`, atomically, written as they come.

    Args:
        target: the file to write (its directory must exist).
        chunks: the content, in pieces.
        mode: the new file's permission bits (None: 0600, private).

    Raises:
        AtomicWriteError: the file could not be written; `target` is unchanged.
    """
    directory = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(target), dir=directory)
    except OSError as err:
        raise AtomicWriteError(err, in_directory=True) from err
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException as err:  # also Ctrl-C: never leave the temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(err, OSError):
            raise AtomicWriteError(err, in_directory=False) from err
        raise
    _fsync_directory(directory)


def write_output(target: Path, chunks: Iterable[bytes], *, what: str) -> None:
    """Write an output file the user named (a snapshot, a report), atomically.

    Unlike the state store, nothing is created around it: a missing directory is an error.
    The file is readable like any file `open()` makes.

    Raises:
        OutputError: the directory is missing or not writable, or the path is a directory.
    """
    if target.is_dir():
        raise OutputError(f"{target}: is a directory", hint="give a file name")
    try:
        write_atomically(target, chunks, mode=shared_mode())
    except AtomicWriteError as failed:
        where = f" (in {target.parent})" if failed.in_directory else ""
        raise OutputError(
            f"{target}: cannot write the {what}: {failed.error.strerror or failed.error}{where}",
            hint="choose a file in a directory you can write to, or - for stdout",
        ) from failed.error


def shared_mode() -> int:
    """The permission bits `open()` would give a new file: 0666 less the umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

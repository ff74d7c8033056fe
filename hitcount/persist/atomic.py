"""Atomic file writes: the one implementation every file hitcount writes goes through.

A temporary file next to the target (`.NAME.XXXX.hitcount-tmp`) is written, flushed and
fsynced, then renamed over the target, and the directory is fsynced: a crash or Ctrl-C
leaves the old file or the new one, never a torn one. A kill -9 can leave the temporary
file; the next writer removes it, and nothing that lacks hitcount's suffix.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable, Iterable
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


#: The suffix of every temporary file hitcount writes: nothing else is ever deleted as stale.
TEMPORARY_SUFFIX = ".hitcount-tmp"
#: Temporary files of an output file older than this (seconds) were left by a killed writer.
STALE_OUTPUT_S = 3600.0


def temporary_prefix(target: Path) -> str:
    """The name prefix of the temporary files made for `target` (to find stale ones)."""
    return f".{target.name}."


def remove_stale_temporaries(target: Path, *, older_than_s: float = 0.0) -> None:
    """Delete the temporary files a killed writer of `target` left (ours only, by suffix).

    Args:
        target: the file whose temporaries to look for (`.NAME.XXXX.hitcount-tmp`).
        older_than_s: keep the ones modified more recently than this (a writer at work).
    """
    now = time.time()
    for stale in target.parent.glob(f"{temporary_prefix(target)}*{TEMPORARY_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - stale.stat().st_mtime >= older_than_s:
                stale.unlink()


def write_atomically(target: Path, chunks: Iterable[bytes], *, mode: int | None = None) -> None:
    """Replace `target` with the concatenated `chunks`, atomically, written as they come.

    Args:
        target: the file to write (its directory must exist).
        chunks: the content, in pieces.
        mode: the new file's permission bits (None: 0600, private).

    Raises:
        AtomicWriteError: the file could not be written; `target` is unchanged.
    """
    import tempfile  # here: a read-only command never writes (start-up time)

    directory = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=temporary_prefix(target), suffix=TEMPORARY_SUFFIX, dir=directory
        )
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
    fsync_directory(directory)


def write_output(target: Path, chunks: Iterable[bytes], *, what: str) -> None:
    """Write an output file the user named (a snapshot, a report), atomically.

    Unlike the state store, nothing is created around it: a missing directory is an error.
    The file is readable like any file `open()` makes.

    Raises:
        OutputError: the directory is missing or not writable, or the path is a directory.
    """
    if target.is_dir():
        raise OutputError(f"{target}: is a directory", hint="give a file name")
    refuse_special(target)
    remove_stale_temporaries(target, older_than_s=STALE_OUTPUT_S)
    try:
        write_atomically(target, chunks, mode=shared_mode())
    except AtomicWriteError as failed:
        where = f" (in {target.parent})" if failed.in_directory else ""
        raise cannot_write(target, what, failed.error, where) from failed.error


def check_replaceable(target: Path, what: str, ours: Callable[[bytes], bool], example: str) -> None:
    """Refuse to replace `target` unless it is missing or a `what` hitcount wrote (`ours`
    recognises it from its first KiB): a mistyped `-o` never destroys a file.

    Raises:
        OutputError: `target` is a directory, unreadable, or not one of ours.
    """  # noqa: D205
    if target.is_dir():
        raise OutputError(
            f"{target}: is a directory", hint=f"give a file name, e.g. {example}, or - for stdout"
        )
    refuse_special(target)  # before reading it: a FIFO would block
    try:
        with target.open("rb") as handle:
            head = handle.read(1024)
    except FileNotFoundError:
        return
    except OSError as err:
        raise cannot_write(target, what, err) from err
    if not ours(head):
        raise OutputError(
            f"{target}: exists and is not a hitcount {what}; left as it is",
            hint="choose another file name, or remove that file first",
        )


def refuse_special(target: Path) -> None:
    """Refuse an output path that exists and is not a regular file (or a link to one): a
    rename would put a file in place of a device (`/dev/null`), a FIFO or a socket.

    Raises:
        OutputError: it is one.
    """  # noqa: D205
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return  # missing (or a dangling link): written as a new file
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise OutputError(
            f"{target}: is not a regular file (a device, FIFO or socket); left as it is",
            hint="give a file path, or - for stdout",
        )


def cannot_write(target: Path, what: str, err: OSError, where: str = "") -> OutputError:
    """The error for an output file that cannot be written (or checked before writing)."""
    return OutputError(
        f"{target}: cannot write the {what}: {err.strerror or err}{where}",
        hint="choose a file in a directory you can write to, or - for stdout",
    )


def shared_mode() -> int:
    """The permission bits `open()` would give a new file: 0666 less the umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def fsync_directory(directory: Path) -> None:
    """Make a rename or link in `directory` durable (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

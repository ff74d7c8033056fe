"""The `--trace-json FILE` sink: events written to a temporary file, renamed over FILE at the end.

FILE is never opened for writing itself, so a symlink planted at its name is replaced, not
followed, and a reader never sees a half-written trace. An existing FILE is replaced only
when it is a trace too (empty, or starting with an event line): anything else is refused
before the run changes any state.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO

from hitcount.errors import OutputError
from hitcount.persist.atomic import (
    STALE_OUTPUT_S,
    TEMPORARY_SUFFIX,
    cannot_write,
    remove_stale_temporaries,
    shared_mode,
    temporary_prefix,
)

#: How every trace hitcount writes begins (its first event's first key).
_TRACE_START = b'{"event":"'
_WHAT = "trace"


class TraceFile:
    """A trace being written: `write` lines, then `close` publishes it (or `discard`)."""

    def __init__(self, target: Path) -> None:
        """Check that `target` may be replaced and open its temporary file.

        Raises:
            OutputError: `target` is a symlink, a directory or another non-regular file, or
                a regular file that is not a trace; or the directory is not writable.
        """
        self.target = target
        refuse_unless_replaceable(target)
        remove_stale_temporaries(target, older_than_s=STALE_OUTPUT_S)
        try:
            fd, self._tmp = tempfile.mkstemp(
                prefix=temporary_prefix(target), suffix=TEMPORARY_SUFFIX, dir=target.parent
            )
        except OSError as err:
            raise cannot_write(target, _WHAT, err, f" (in {target.parent})") from err
        self._handle: IO[str] | None = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, text: str) -> None:
        """Append `text` to the trace."""
        if self._handle is not None:
            self._handle.write(text)

    def close(self) -> None:
        """Flush, fsync and rename the trace over its target (once; later calls do nothing).

        Raises:
            OutputError: the trace could not be written; the target is unchanged.
        """
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            with handle:
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(self._tmp, shared_mode())
            os.replace(self._tmp, self.target)
        except OSError as err:
            self._remove_temporary()
            raise cannot_write(self.target, _WHAT, err) from err

    def discard(self) -> None:
        """Drop the trace: the target is left as it was."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
            self._remove_temporary()

    def _remove_temporary(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._tmp)


def refuse_unless_replaceable(target: Path) -> None:
    """Raise unless `target` is missing, or a regular file holding a trace (or nothing).

    Raises:
        OutputError: what is at `target` and that it is not replaced.
    """
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError as err:
        raise cannot_write(target, _WHAT, err) from err
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif not _holds_a_trace(target):
        problem = "exists and is not a hitcount trace"
    else:
        return
    raise OutputError(
        f"{target}: {problem}; not replacing it with the trace",
        hint="remove it, or give --trace-json a new file name",
    )


def _holds_a_trace(path: Path) -> bool:
    """Whether `path` is empty or starts as every trace hitcount writes does."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as handle:
        head = handle.read(len(_TRACE_START))
    return head in (b"", _TRACE_START)

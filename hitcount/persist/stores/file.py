"""The default store: one JSON file, written atomically, locked against concurrent writers."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from hitcount.errors import StateError, StoreUnavailableError
from hitcount.model.arguments import of_type
from hitcount.model.metrics import plain
from hitcount.persist.atomic import (
    AtomicWriteError,
    remove_stale_temporaries,
    temporary_prefix,
    write_atomically,
)
from hitcount.persist.reading import read_document_file
from hitcount.persist.stores.base import (
    LOCK_NOTICE_S,
    LOCK_TIMEOUT_ENV,
    Store,
    lock_timeout_s,
)


def default_state_path() -> Path:
    """`$HITCOUNT_STATE`, else `$XDG_STATE_HOME/hitcount/state.db`, else
    `~/.local/state/hitcount/state.db`."""  # noqa: D205, D209
    env = os.environ.get("HITCOUNT_STATE")
    if env:
        return Path(env).expanduser()
    return default_state_dir() / "state.db"


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/hitcount`, else `~/.local/state/hitcount`."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "hitcount"


def open_lock_file(lock_path: Path) -> int:
    """Open (or create) a lock file without following symlinks, and check it is ours.

    A symlink, a FIFO or a file another user owns in the state's directory could make a
    run (perhaps as root) create or lock a file at a path someone else chose: refused.

    Raises:
        StateError: the lock path is a symlink, not a regular file, or not the user's.
        StoreUnavailableError: the lock file cannot be opened.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(lock_path, flags, 0o600)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise _unsafe_lock(lock_path, "is a symbolic link") from err
        raise StoreUnavailableError(f"{lock_path}: cannot open lock: {err.strerror}") from err
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_uid != os.geteuid():
        problem = f"is owned by another user (uid {info.st_uid})"
    if problem is not None:
        os.close(fd)
        raise _unsafe_lock(lock_path, problem)
    return fd


def _unsafe_lock(lock_path: Path, problem: str) -> StateError:
    return StateError(
        f"{lock_path}: lock file {problem}; refusing to use it",
        hint="remove it (hitcount makes a new one), or keep the state in a private directory",
    )


def existing(path: Path) -> os.stat_result | None:
    """The state file's status, its symbolic links followed (None: there is none).

    Raises:
        StoreUnavailableError: it cannot be looked at.
    """
    try:
        return path.stat()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StoreUnavailableError(f"{path}: cannot read state: {err.strerror}") from err


def refuse_other_names(path: Path, status: os.stat_result) -> None:
    """Refuse a state file with hard links: each name would be a state of its own (a
    JSON save replaces the file at one name; SQLite keeps a write-ahead log per name),
    and writers through two names would not take turns.

    Raises:
        StateError: the file has more than one name.
    """  # noqa: D205
    if status.st_nlink > 1 and stat.S_ISREG(status.st_mode) and _other_names(path, status):
        raise StateError(
            f"{path}: the state file has {status.st_nlink} names (hard links): what is written"
            " through one would be lost through another; refusing to write it",
            hint="keep one name for it (remove the other links; a symbolic link is fine)",
        )


def _other_names(path: Path, status: os.stat_result) -> int:
    """The names of the file beyond `path` and the temporary ones hitcount links it by
    while publishing a new state (a second link for an instant, then removed)."""  # noqa: D205, D209
    target = Path(os.path.realpath(path))
    prefix = temporary_prefix(target)
    try:
        with os.scandir(target.parent) as listing:
            ours = sum(e.name.startswith(prefix) and e.inode() == status.st_ino for e in listing)
        now = target.stat().st_nlink  # a publishing link may be gone by now
    except OSError:
        return 0  # the replay says what is wrong with the file
    return max(0, min(status.st_nlink, now) - 1 - ours)


class FileStore(Store):
    """A state file. Saving writes a temporary file, fsyncs it and renames it over the old
    one, so a crash leaves the old file or the new one, never a torn one. Writers hold an
    `flock` on `PATH.lock` for their whole read-modify-write, so no update is lost.
    """  # noqa: D205

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout_s: float | None = None,
        make_directory: bool = True,
    ):
        of_type(path, (str, os.PathLike), "path", "a path (str or os.PathLike)")
        self.path = Path(path).expanduser()
        self.url = str(self.path)
        self.lock_timeout_s = lock_timeout_s
        #: Whether a missing directory is created (the default location), else refused (a
        #: path the user named: a typo would keep the state where no later command looks).
        self.make_directory = make_directory

    def load(self) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        try:
            return read_document_file(self.path)
        except FileNotFoundError:
            return None
        except IsADirectoryError as err:
            raise StateError(f"{self.path}: is a directory, not a state file") from err
        except OSError as err:
            raise StoreUnavailableError(f"{self.path}: cannot read state: {err.strerror}") from err

    def save(self, data: bytes) -> None:
        """Write atomically: temp file, fsync, rename, fsync the directory."""
        self.save_chunks((data,))

    def save_chunks(self, chunks: Iterable[bytes]) -> None:
        """`save`, writing the pieces to the temporary file as they come.

        The file a symbolic link names is replaced, not the link, and the new file keeps
        the old one's permission bits (0600 for a new state).

        Raises:
            StoreUnavailableError: the file cannot be written, is read-only, or has other
                names (hard links): replacing it would leave them with the old state.
        """
        directory = self._ensure_directory()
        target = self.target()
        mode = self._kept_mode()
        try:
            write_atomically(target, chunks, mode=mode)
        except AtomicWriteError as failed:
            where = directory if failed.in_directory else self.path
            full = failed.error.errno == errno.ENOSPC
            raise StoreUnavailableError(
                f"{where}: cannot write state: {failed.error.strerror}",
                hint=f"free some space in {directory}; the saved state is as it was"
                if full
                else None,
            ) from failed.error

    def target(self) -> Path:
        """The file the state is: the path with its symbolic links followed."""
        return Path(os.path.realpath(self.path))

    def _kept_mode(self) -> int | None:
        """The state file's permission bits, to keep (None: no file yet, 0600)."""
        if (status := existing(self.path)) is None:
            return None
        if not status.st_mode & stat.S_IWUSR:
            raise StoreUnavailableError(
                f"{self.path}: the state file is read-only; refusing to write it",
                hint=f"make it writable (chmod u+w {self.path}), or pass another --state path",
            )
        refuse_other_names(self.path, status)
        return stat.S_IMODE(status.st_mode)

    def _ensure_directory(self) -> Path:
        directory = self.path.parent
        if not self.make_directory and not directory.is_dir():
            raise StoreUnavailableError(
                f"{directory}: no such directory for the state {self.path.name}",
                hint=f"create it first (mkdir -p {directory}), or pass another --state path",
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreUnavailableError(f"{directory}: cannot create: {err.strerror}") from err
        return directory

    def locked(self) -> AbstractContextManager[None]:
        """An exclusive `flock` on `PATH.lock`, waiting up to `lock_timeout_s`."""
        return self._flock()

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        if self.path.is_dir():  # refused before any lock file is made beside it
            raise StateError(f"{self.path}: is a directory, not a state file")
        self._ensure_directory()
        target = self.target()  # one lock for every symbolic link to the state
        lock_path = target.parent / f"{target.name}.lock"
        fd = open_lock_file(lock_path)
        try:
            self._acquire(fd, lock_path)
            remove_stale_temporaries(target)  # only the lock holder writes them
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _acquire(self, fd: int, lock_path: Path) -> None:
        timeout = self.lock_timeout_s if self.lock_timeout_s is not None else lock_timeout_s()
        started = time.monotonic()
        deadline, told = started + timeout, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise StoreUnavailableError(f"{lock_path}: cannot lock: {err}") from err
            now = time.monotonic()
            if not told and now - started >= LOCK_NOTICE_S and self.on_wait is not None:
                told = True
                self.on_wait(
                    f"{self.path}: waiting for another hitcount process to finish writing"
                    f" (up to {plain(timeout)} s; {LOCK_TIMEOUT_ENV}=SECONDS to change)"
                )
            if now >= deadline:
                raise StoreUnavailableError(
                    f"{lock_path}: another hitcount process held the state lock for"
                    f" {plain(timeout)} s",
                    hint=f"run again when it is done, or wait longer: {LOCK_TIMEOUT_ENV}=600"
                    " hitcount ...",
                )
            time.sleep(0.02)

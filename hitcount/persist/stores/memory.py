"""`memory://`: a store that lives as long as the process (tests, scripts)."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

from hitcount.persist.stores.base import Store


class MemoryStore(Store):
    """Keeps the document in memory; the lock is a thread lock."""

    why_compact = "a memory:// state lives only as long as the process and is never on disk"

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._data: bytes | None = None
        self._lock = threading.RLock()

    def load(self) -> bytes | None:
        """The saved document, if any."""
        return self._data

    def save(self, data: bytes) -> None:
        """Replace the document."""
        self._data = bytes(data)

    def locked(self) -> AbstractContextManager[None]:
        """A re-entrant thread lock."""
        return _Locked(self._lock)


class _Locked(AbstractContextManager[None]):
    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

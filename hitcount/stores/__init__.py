"""State stores by URL scheme: a file path (default), `file://`, `memory://`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hitcount.errors import ConfigurationError
from hitcount.stores.base import Store
from hitcount.stores.file import FileStore, default_state_path
from hitcount.stores.memory import MemoryStore

_SCHEMES: dict[str, Callable[[str], Store]] = {
    "file": lambda url: FileStore(url.removeprefix("file://")),
    "memory": MemoryStore,
}


def store_from_url(url: str | None) -> Store:
    """The store a URL names; a plain path (or None: the default path) is a file store.

    Raises:
        ConfigurationError: an unknown scheme (the message lists the known ones).
    """
    if url is None:
        return FileStore(default_state_path())
    scheme, sep, _ = url.partition("://")
    if not sep:
        return FileStore(Path(url))
    factory = _SCHEMES.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in _SCHEMES)
        raise ConfigurationError(
            f"unknown store scheme {scheme + '://'!r}",
            hint=f"use a file path or one of: {known}",
        )
    return factory(url)


__all__ = ["FileStore", "MemoryStore", "Store", "default_state_path", "store_from_url"]

"""State stores by URL scheme: a path, `file://`, `sqlite://`, `memory://`, `redis://`.

A path ending in `.db`, `.sqlite` or `.sqlite3` is a SQLite state; any other a JSON file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hitcount.errors import ConfigurationError
from hitcount.persist.stores.base import EVERYTHING, HEADER_ONLY, SIZES_ONLY, Scope, Store
from hitcount.persist.stores.file import FileStore, default_state_path
from hitcount.persist.stores.memory import MemoryStore
from hitcount.persist.stores.sqlite import SqliteStore

#: Path suffixes that name a SQLite state (any other path is a JSON state file).
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")

_SCHEMES: dict[str, Callable[[str, str | None], Store]] = {
    "file": lambda url, _: FileStore(url.removeprefix("file://")),
    "memory": lambda url, _: MemoryStore(url),
    "sqlite": lambda url, _: _sqlite(url),
    "redis": lambda url, namespace: _redis(url, namespace),
    "rediss": lambda url, namespace: _redis(url, namespace),
}


def _sqlite(url: str) -> Store:
    path = url.removeprefix("sqlite://")
    if not path.startswith("/"):
        raise ConfigurationError(
            f"invalid SQLite store URL {url!r}: the path must be absolute",
            hint="write sqlite:///absolute/path/state.db (three slashes), or pass the path alone",
        )
    return SqliteStore(path, url=url)


def _path_store(path: Path) -> Store:
    """A SQLite store for a `.db`/`.sqlite` path, else a JSON state file."""
    if path.suffix.lower() in SQLITE_SUFFIXES:
        return SqliteStore(path)
    return FileStore(path)


def _redis(url: str, namespace: str | None) -> Store:
    try:
        import redis  # noqa: F401 - the optional `redis` extra, checked before any use
    except ImportError as err:
        raise ConfigurationError(
            "the Redis store needs the redis package, which is not installed",
            hint="pip install 'hitcount[redis]'",
        ) from err
    from hitcount.persist.stores.redis import RedisStore  # imports redis-py only when used

    return RedisStore(url, namespace)


def available_schemes() -> list[str]:
    """The URL schemes that name a store (`file`, `memory`, `redis`, `rediss`)."""
    return list(_SCHEMES)


def store_from_url(url: str | None, *, namespace: str | None = None) -> Store:
    """The store a URL names; a plain path (or None: the default path) is a file store.

    `namespace` is the key prefix of a Redis store (ignored by the others).

    Raises:
        ConfigurationError: an unknown scheme (the message lists the known ones).
    """
    if url is None:
        return _path_store(default_state_path())
    scheme, sep, _ = url.partition("://")
    if not sep:
        return _path_store(Path(url))
    factory = _SCHEMES.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in _SCHEMES)
        raise ConfigurationError(
            f"unknown store scheme {scheme + '://'!r}",
            hint=f"use a file path or one of: {known}",
        )
    return factory(url, namespace)


__all__ = [
    "EVERYTHING",
    "HEADER_ONLY",
    "SIZES_ONLY",
    "FileStore",
    "MemoryStore",
    "Scope",
    "SqliteStore",
    "Store",
    "available_schemes",
    "default_state_path",
    "store_from_url",
]

"""State stores by URL scheme: a file path (default), `file://`, `memory://`, `redis://`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hitcount.errors import ConfigurationError
from hitcount.persist.stores.base import EVERYTHING, HEADER_ONLY, SIZES_ONLY, Scope, Store
from hitcount.persist.stores.file import FileStore, default_state_path
from hitcount.persist.stores.memory import MemoryStore

_SCHEMES: dict[str, Callable[[str, str | None], Store]] = {
    "file": lambda url, _: FileStore(url.removeprefix("file://")),
    "memory": lambda url, _: MemoryStore(url),
    "redis": lambda url, namespace: _redis(url, namespace),
    "rediss": lambda url, namespace: _redis(url, namespace),
}


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
    return factory(url, namespace)


__all__ = [
    "EVERYTHING",
    "HEADER_ONLY",
    "SIZES_ONLY",
    "FileStore",
    "MemoryStore",
    "Scope",
    "Store",
    "available_schemes",
    "default_state_path",
    "store_from_url",
]

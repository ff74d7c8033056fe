"""State stores by URL scheme: a path, `file://`, `sqlite://`, `memory://`, `redis://`.

A path ending in `.json` is a JSON state file; `.db`, `.sqlite` or `.sqlite3` a SQLite
state; any other path a SQLite state too, unless it already holds a JSON state (which keeps
working). The default, `$XDG_STATE_HOME/hitcount/state.db`, imports the old default
`state.json` beside it once, when it exists and the database does not.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from hitcount.errors import ConfigurationError, StateError
from hitcount.persist.reading import read_head
from hitcount.persist.stores.base import EVERYTHING, HEADER_ONLY, SIZES_ONLY, Scope, Store
from hitcount.persist.stores.file import FileStore, default_state_dir, default_state_path
from hitcount.persist.stores.memory import MemoryStore
from hitcount.persist.stores.sqlite import SQLITE_MAGIC, SqliteStore

#: Path suffixes that name a SQLite state.
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
#: The path suffix that names a JSON state file.
JSON_SUFFIX = ".json"
#: The old default state, imported once into the new default.
LEGACY_STATE_NAME = "state.json"

_SCHEMES: dict[str, Callable[[str, str | None], Store]] = {
    "file": lambda url, _: FileStore(url.removeprefix("file://"), make_directory=False),
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
    return SqliteStore(path, url=url, make_directory=False)


def _path_store(path: Path) -> Store:
    """A JSON state file for a `.json` path (or a file already holding JSON), else SQLite.

    The path was named (`--state`, `HITCOUNT_STATE`, a URL): its directory must exist.
    """
    suffix = path.suffix.lower()
    if suffix == JSON_SUFFIX or (suffix not in SQLITE_SUFFIXES and _holds_json(path)):
        return FileStore(path, make_directory=False)
    return SqliteStore(path, make_directory=False)


def _holds_json(path: Path) -> bool:
    """Whether `path` is an existing non-empty regular file that is not a SQLite database."""
    try:
        head = read_head(path.expanduser(), len(SQLITE_MAGIC))
    except (OSError, StateError):
        return False
    return bool(head) and head != SQLITE_MAGIC


def default_store() -> Store:
    """The store of `$HITCOUNT_STATE`, else the default SQLite state (importing the old
    default `state.json` beside it, once)."""  # noqa: D205, D209
    if os.environ.get("HITCOUNT_STATE"):
        return _path_store(default_state_path())
    directory = default_state_dir()
    return SqliteStore(default_state_path(), legacy=directory / LEGACY_STATE_NAME)


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
    """The store a URL names: a plain path is a JSON or SQLite state (see above).

    None names the default state.

    `namespace` is the key prefix of a Redis store (ignored by the others).

    Raises:
        ConfigurationError: an unknown scheme (the message lists the known ones).
    """
    if namespace is not None and not isinstance(namespace, str):
        raise ConfigurationError(
            f"namespace must be a string, got {type(namespace).__name__}", param="namespace"
        )
    if url is None:
        return default_store()
    if not isinstance(url, str | os.PathLike):
        raise ConfigurationError(
            f"url must be a store URL or a path, got {type(url).__name__}", param="url"
        )
    url = os.fsdecode(url)
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
    "default_store",
    "store_from_url",
]

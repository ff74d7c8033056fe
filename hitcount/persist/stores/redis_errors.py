"""redis-py's exceptions as one clear line each: what failed, why, and what to do.

The server's own words are kept only where they are the cause; the arguments of a failed
command (binary member ids, timestamps, a password) are never shown, nor the protocol's
jargon ("HELLO must be called ...").
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from hitcount.errors import ConfigurationError, HitcountError, StoreUnavailableError
from hitcount.model.metrics import plain
from hitcount.persist.stores.redis_checks import damaged

_PIPELINE = " of pipeline caused error: "
_KEY_AFTER = {"EVALSHA": 2, "EVAL": 2}  # the first key follows the script and the key count


def translated(err: Exception, where: str, store: Any) -> HitcountError:
    """The error to show for redis-py's `err` raised while `where` (URL and doing).

    `store` is the RedisStore (its URL's password, timeout and description).
    """
    import redis.exceptions as rex

    if isinstance(err, rex.AuthenticationError):
        return _authentication(where, store.has_password)
    if isinstance(err, rex.TimeoutError):
        return StoreUnavailableError(
            f"{where}: timed out after {plain(store.timeout_s)} s",
            hint="is the server overloaded or the network slow? try again",
        )
    if isinstance(err, rex.ConnectionError | rex.RedisClusterUnreachableError):
        return StoreUnavailableError(
            f"{where}: cannot reach the server: {_clean(str(err))}",
            hint="is redis-server running there? check host, port and TLS (rediss://)",
        )
    command, text = split_pipeline_error(str(err))
    if isinstance(err, rex.ResponseError):
        return _refused(where, store, command, text)
    return StoreUnavailableError(f"{where}: {type(err).__name__}: {text}")


def split_pipeline_error(message: str) -> tuple[list[str], str]:
    """(the failed command's first words, the server's message) of a pipeline error."""
    head, found, text = message.partition(_PIPELINE)
    if not found:
        return [], _clean(message)
    inside = head.partition("(")[2]
    return inside.split(" ", 4)[:4], _clean(text)


def _refused(where: str, store: Any, command: list[str], text: str) -> HitcountError:
    upper = text.upper()
    if upper.startswith(("NOAUTH", "WRONGPASS")) or "HELLO MUST BE CALLED" in upper:
        return _authentication(where, store.has_password)
    if "MAXMEMORY" in upper or upper.startswith("OOM"):
        return StoreUnavailableError(
            f"{where}: the Redis server is out of memory (its maxmemory is reached)",
            hint="free memory or raise maxmemory on the server (CONFIG SET maxmemory)",
        )
    if upper.startswith("WRONGTYPE"):
        key = _key_of(command)
        return damaged(store.describe(), key or "of this namespace", "it holds another type")
    if upper.startswith("READONLY"):
        return StoreUnavailableError(
            f"{where}: the server is a read-only replica",
            hint="point the store URL at the primary",
        )
    if upper.startswith("NOPERM"):
        return StoreUnavailableError(
            f"{where}: the Redis user may not do this: {text}",
            hint="grant the user access to the namespace's keys and to EVALSHA (ACL SETUSER)",
        )
    return StoreUnavailableError(f"{where}: the server refused: {text}")


def _authentication(where: str, has_password: bool) -> StoreUnavailableError:
    if not has_password:
        return StoreUnavailableError(
            f"{where}: authentication failed: the server needs a password and the URL has none",
            hint="set HITCOUNT_STORE=redis://:PASSWORD@host:port/db (or redis://USER:PASSWORD@...)",
        )
    return StoreUnavailableError(
        f"{where}: authentication failed: the server refused the user or password",
        hint="check the user and password in the URL (redis://user:password@host:port/db)",
    )


def _key_of(command: list[str]) -> str | None:
    if not command:
        return None
    at = _KEY_AFTER.get(command[0].upper(), 0) + 1
    return command[at] if len(command) > at else None


def _clean(text: str) -> str:
    """One printable line."""
    line = " ".join(text.split())
    return "".join(c if c.isprintable() else "?" for c in line)[:300]


def masked(parts: urllib.parse.SplitResult) -> str:
    """The URL without its password and query, for messages."""
    if parts.password is None:
        return urllib.parse.urlunsplit(parts._replace(query=""))
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=""))


def invalid_url(shown: str, err: Exception) -> ConfigurationError:
    """The error for a store URL with a parameter redis-py does not take."""
    return ConfigurationError(
        f"invalid Redis store URL {shown}: {err}",
        hint="hitcount reads ?namespace=; the other parameters are redis-py's connection"
        " options (socket_timeout=5, ...)",
    )


def refuse_cap(max_endpoints: int | None) -> None:
    """Refuse a state with an endpoint cap: the Redis store keeps none yet.

    Raises:
        ConfigurationError: `max_endpoints` is set.
    """
    if max_endpoints is not None:
        raise ConfigurationError(
            "a state with --max-endpoints cannot be kept in a Redis store yet",
            hint="restore it into a state file (--state PATH)",
        )

"""The endpoint pattern rule that queries, alerts and stores share, and path roll-ups.

A pattern names one endpoint exactly, or, when it holds `*`, `?` or `[`, every endpoint that
matches it as a shell glob (`fnmatchcase`: case-sensitive, `/` is an ordinary character),
and the endpoint of that very name too. A glob always names all of them: a client that
requests the literal target `/api/*` cannot turn `query '/api/*'` into its one hit. An
endpoint whose name holds glob characters is asked for alone with them in brackets
(`'/api/[*]'`, `'/[[]x]'`).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from fnmatch import fnmatchcase

#: Characters that make a pattern a glob.
GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    """Whether `pattern` holds a glob character (`*`, `?` or `[`)."""
    return not GLOB_CHARS.isdisjoint(pattern)


def matches(endpoint: str, pattern: str) -> bool:
    """Whether `endpoint` is `pattern`, or matches it as a glob."""
    return endpoint == pattern or (is_glob(pattern) and fnmatchcase(endpoint, pattern))


def select(pattern: str, endpoints: Iterable[str]) -> list[str]:
    """The endpoints `pattern` names, sorted (what `matches` says of each)."""
    known = endpoints if isinstance(endpoints, AbstractSet) else frozenset(endpoints)
    if not is_glob(pattern):
        return [pattern] if pattern in known else []
    return sorted(e for e in known if e == pattern or fnmatchcase(e, pattern))


def rollup(endpoint: str, depth: int) -> str:
    """`endpoint` cut to its first `depth` path segments: `/api/users/123` at 2 is `/api/users`.

    The result is the first `depth` non-empty segments joined by `/`, after a leading `/`
    when the endpoint has one: `/api/` and `/api//x` at 1 are both `/api`, `/` and `//` are `/`,
    and `api/users/1` at 1 is `api`.
    """
    lead = "/" if endpoint.startswith("/") else ""
    segments = [part for part in endpoint.split("/") if part]
    return lead + "/".join(segments[:depth]) if segments else lead or endpoint


def rolled(endpoints: Iterable[str], depth: int | None) -> dict[str, tuple[str, ...]]:
    """Each name after the roll-up to `depth` segments, with the endpoints it holds, sorted.

    `depth` None keeps every endpoint as it is.
    """
    groups: dict[str, list[str]] = {}
    for endpoint in endpoints:
        name = endpoint if depth is None else rollup(endpoint, depth)
        groups.setdefault(name, []).append(endpoint)
    return {name: tuple(sorted(members)) for name, members in sorted(groups.items())}

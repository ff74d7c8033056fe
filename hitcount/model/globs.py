"""The endpoint pattern rule that queries, alerts and stores share.

A pattern names one endpoint exactly, or, when it holds `*`, `?` or `[`, every endpoint that
matches it as a shell glob (`fnmatchcase`: case-sensitive, `/` is an ordinary character).
An endpoint equal to the pattern always matches, so an endpoint whose name holds glob
characters can still be asked for by name.
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
    """The endpoints `pattern` names, sorted: itself when it is one of them (even a glob)."""
    known = endpoints if isinstance(endpoints, AbstractSet) else frozenset(endpoints)
    if pattern in known or not is_glob(pattern):
        return [pattern] if pattern in known else []
    return sorted(endpoint for endpoint in known if fnmatchcase(endpoint, pattern))

"""Ranking and grouping: `top` by hits, distinct users or rate, globs and path roll-ups.

`top` may be limited to a glob and rolled up by path depth; `query --depth` likewise.
A roll-up to depth N answers for each name cut to its first N path segments the sum of the
endpoints it holds (`/api/users/1` and `/api/users/2` count under `/api/users` at depth 2),
with the bounds of that sum; distinct users of a group are merged, each user once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from hitcount.errors import ConfigurationError
from hitcount.model.answers import Rate
from hitcount.model.globs import rolled, select

if TYPE_CHECKING:
    from hitcount.engine.queries import Answering, DistinctResult, QueryResult

#: What `top` may rank by: the hits' estimate, distinct users, hits per second.
RANK_BY = ("hits", "distinct", "rate")


class Ranked(msgspec.Struct, frozen=True):
    """One row of a ranking: the hits of an endpoint (or group), its rate, its users.

    Attributes:
        result: the window answer, named by the endpoint or rolled-up group.
        rate: hits per second over the window (None when the answer covers all time).
        users: distinct users (only when ranked by them).
    """

    result: QueryResult
    rate: Rate | None
    users: DistinctResult | None = None


def check_depth(depth: int | None) -> None:
    """A roll-up depth is a whole number of segments, at least 1.

    Raises:
        ConfigurationError: below 1.
    """
    if depth is not None and (isinstance(depth, bool) or depth < 1):
        raise ConfigurationError(f"depth must be >= 1, got {depth}", param="depth")


def check_rank(depth: int | None, by: str) -> None:
    """A ranking's depth and order, checked before any state is read.

    Raises:
        ConfigurationError: a depth below 1, or an order not in `RANK_BY`.
    """
    check_depth(depth)
    if by not in RANK_BY:
        raise ConfigurationError(f"by must be one of {', '.join(RANK_BY)}, got {by!r}", param="by")


def groups(
    counter: Answering, pattern: str | None = None, depth: int | None = None
) -> dict[str, tuple[str, ...]]:
    """The endpoints `pattern` names (all when None), rolled up to `depth` segments.

    With a depth, a group whose name `pattern` matches counts whole, as `query --depth`
    counts it: a roll-up skips empty segments, so `//wp/a/b` is in `/wp/a`, which `/wp*`
    matches though the endpoint itself does not.
    """
    check_depth(depth)
    if pattern is None:
        return rolled(counter.endpoints(), depth)
    names = counter.match(pattern)
    if depth is not None:
        every = rolled(counter.endpoints(), depth)
        named = (ep for name in select(pattern, every) for ep in every[name])
        names = sorted({*names, *named})
    return rolled(names, depth)


def query_rolled(
    counter: Answering, pattern: str, depth: int, last_s: float, now: float | None = None
) -> QueryResult:
    """Hits of every endpoint whose roll-up to `depth` segments is `pattern` (or matches it).

    Raises:
        ConfigurationError: a bad depth or window, or a pattern too deep for any group.
    """
    if pattern.lstrip("/").count("/") >= depth:  # a group name has depth - 1 inner `/`
        raise ConfigurationError(
            f"{pattern!r} has more path segments than --depth {depth}: no group of that"
            " depth can match it",
            hint=f"give a deeper --depth, or `top {pattern} --depth {depth}` for the groups"
            " of the endpoints it matches",
        )
    grouped = groups(counter, None, depth)
    members = sorted({ep for name in select(pattern, grouped) for ep in grouped[name]})
    return counter.query_of(pattern, members, last_s, now)


def rank(
    counter: Answering,
    last_s: float,
    now: float | None = None,
    *,
    limit: int | None = 10,
    pattern: str | None = None,
    depth: int | None = None,
    by: str = "hits",
    users: bool = False,
) -> list[Ranked]:
    """The `limit` busiest endpoints (or groups) of the window, most first (None: all).

    `by="rate"` orders as `hits` does (one window: the same length for every row);
    `by="distinct"` by the distinct-users estimate, then hits. Distinct users are counted
    for `by="distinct"` or `users=True`.

    Raises:
        ConfigurationError: a bad limit, depth, order or window.
        StateError: `by="distinct"` on a state without distinct users.
    """
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise ConfigurationError(f"limit must be >= 1, got {limit}", param="limit")
    check_rank(depth, by)
    rows = []
    for name, members in groups(counter, pattern, depth).items():
        own = counter.query_of(name, members, last_s, now, widen=False)
        if own.answer.high <= 0:  # nothing of its own there for certain
            continue
        result = counter.widen(own)
        counted = None
        if by == "distinct" or users:
            counted = counter.query_distinct_of(name, members, last_s, now)
        rows.append(Ranked(result, Rate.of(result.answer, last_s), counted))
    rows.sort(key=lambda row: _order(row, by))
    return rows[:limit]


def _order(row: Ranked, by: str) -> tuple[float, float, str]:
    users = row.users.answer.estimate if by == "distinct" and row.users is not None else 0.0
    return (-users, -row.result.answer.count, row.result.endpoint)

"""A cap on the number of endpoints a state holds (`replay --max-endpoints N`).

Traffic with unbounded endpoint names (ids in paths, scanners) would make a state grow
without limit: every name costs memory, and every query of `*` visits them all. With a cap
of `N`, a state holds at most `N` endpoints by name; the hits of any further endpoint are
counted under one more, `OVERFLOW_ENDPOINT`. No hit is lost: `*` still counts them all,
and `(other endpoints)` is queried, listed by `top` and plotted like any endpoint.

Names are given first come, first served, in the order hits are kept (a late hit takes no
place). An endpoint keeps its name while the state holds it; once pruning has dropped every
hit of an endpoint, its place is free for the next new one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from hitcount.errors import ConfigurationError, StateError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hitcount.model.columns import Columns

#: The endpoint under which the hits of the endpoints past the cap are counted.
OVERFLOW_ENDPOINT = "(other endpoints)"
#: The largest cap accepted.
MAX_ENDPOINTS_LIMIT = 10**9
#: A state without a cap that holds more endpoints than this gets a warning from `replay`.
ENDPOINTS_WARNING = 100_000


def checked_cap(value: object, *, saved: bool = False) -> int | None:
    """A cap as given (None: no cap).

    Raises:
        ConfigurationError: not a whole number from 1 to 10^9 (StateError when `saved`).
    """
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_ENDPOINTS_LIMIT
    ):
        message = (
            f"max_endpoints must be a whole number from 1 to {MAX_ENDPOINTS_LIMIT:,}, got {value!r}"
        )
        if saved:
            raise StateError(message)
        raise ConfigurationError(message, param="max_endpoints")
    return value


def capped_endpoint(endpoint: str, held: Iterable[str], cap: int) -> str:
    """`endpoint`, or `OVERFLOW_ENDPOINT` when it is new and `cap` endpoints have names."""
    names = _collection(held)
    if endpoint in names or _named(names) < cap:
        return endpoint
    return OVERFLOW_ENDPOINT


def capped_columns(
    columns: Columns, late: npt.NDArray[np.bool_], held: Iterable[str], cap: int
) -> Columns:
    """`columns` with the hits of the endpoints past `cap` moved to `OVERFLOW_ENDPOINT`.

    New endpoints take the free places in the order of their first hit that is not `late`.
    """
    import numpy as np  # the batch path only

    names = _collection(held)
    new = [code for code, name in enumerate(columns.names) if name not in names]
    room = cap - _named(names)
    if len(new) <= room:
        return columns
    on_time = columns.codes[~late]
    seen, first = np.unique(on_time, return_index=True)
    first_hit = dict(zip(seen.tolist(), first.tolist(), strict=True))
    arriving = sorted((first_hit[code], code) for code in new if code in first_hit)
    named = {code for _, code in arriving[: max(room, 0)]}
    moved = [code for code in new if code not in named]
    all_names = list(columns.names)
    if OVERFLOW_ENDPOINT not in all_names:
        all_names.append(OVERFLOW_ENDPOINT)
    mapping = np.arange(len(all_names), dtype=np.int32)
    mapping[moved] = all_names.index(OVERFLOW_ENDPOINT)
    return dataclasses.replace(
        columns, names=all_names, codes=mapping[columns.codes], order=None, user_entries=None
    )


def _collection(held: Iterable[str]) -> Collection[str]:
    return held if isinstance(held, Collection) else set(held)


def _named(names: Collection[str]) -> int:
    """How many endpoints have a name (the overflow endpoint has none)."""
    return len(names) - (OVERFLOW_ENDPOINT in names)

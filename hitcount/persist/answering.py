"""A saved state for commands that only answer (`query`, `top`, `plot`): no `HitCounter`.

A read-only command needs the strategy (holding what its `Scope` asked the store for), the
clock and the keying; not the counter's recording half (alerts, swaps, batches, the
endpoint cap), whose modules would cost its start-up more than the answer. `load_answering`
builds a `SavedState` from the same decoded and checked parts as `load_counter`
(`persist/decoding.py`, then the same cross-checks), and a `SavedState` answers with the
counter's own query code (`engine/queries.Answering`), so the answers cannot differ.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from hitcount.engine.queries import RECENT_EVENTS, Answering
from hitcount.errors import HitcountError, StateError
from hitcount.persist.decoding import StateParts, decode, distinct_of, parts_of
from hitcount.persist.plausible import check_plausible
from hitcount.persist.stores.base import EVERYTHING, SIZES_ONLY, Scope, Store

if TYPE_CHECKING:
    from hitcount.sketches.distinct import DistinctTracker

_T = TypeVar("_T")
#: Reads of a state whose parts disagree, on a store whose reads may straddle a batch.
STRADDLE_TRIES = 5


class SavedState(Answering):
    """A loaded state that answers queries and is never recorded into nor saved."""

    def __init__(self, parts: StateParts, distinct: Callable[[], DistinctTracker | None]) -> None:
        """The state made of `parts`; `distinct` decodes its sketches when first asked."""
        self._strategy = parts.strategy
        self.clock = parts.clock
        self.max_lateness_s = parts.max_lateness_s
        self.max_endpoints = parts.max_endpoints
        self.metrics = parts.metrics
        self.recent_events = deque(parts.recent_events[-RECENT_EVENTS:], maxlen=RECENT_EVENTS)
        self.stored_sizes = None
        self.keying = parts.keying
        self.load_distinct_later(distinct)


def load_answering(store: Store, scope: Scope = EVERYTHING) -> SavedState:
    """The state saved in `store`, to answer what `scope` says (read without locking).

    Args:
        store: where the state lives.
        scope: what the caller will ask; a store that is not read whole (SQLite, Redis)
            reads only that, and the state then answers only that.

    Raises:
        StateError: nothing saved yet, or the saved state is invalid.
    """
    state = read_again_if_straddled(store, partial(_load, store, scope))
    read_in_part(state, store, scope)
    return state


def _load(store: Store, scope: Scope) -> SavedState:
    data = store.load() if scope is EVERYTHING else store.load_scoped(scope)
    if data is None:
        raise no_state(store)
    source = store.describe()
    document = decode(data, source)
    raw = document.distinct  # a view of `data`: copied only when the sketches are read
    try:
        state = SavedState(parts_of(document), lambda: distinct_of(raw, source, document.clock))
        check_plausible(state)  # each part passed; do they agree with one another?
    except HitcountError as err:
        raise StateError(f"{source}: invalid snapshot: {err.message}") from err
    return state


def read_again_if_straddled(store: Store, read: Callable[[], _T]) -> _T:
    """`read()`; on a store whose reads may catch a batch half-way (`reads_may_straddle`),
    again a few times when it finds the state's parts disagreeing (a StateError)."""  # noqa: D205, D209
    for attempt in range(1, STRADDLE_TRIES):
        try:
            return read()
        except StateError:
            if not store.reads_may_straddle:
                raise
            time.sleep(0.05 * attempt)  # the batch's last step lands meanwhile
    return read()  # the last try: its error stands


def read_in_part(state: Answering, store: Store, scope: Scope) -> None:
    """What a state read for `scope` only takes from the store itself: its sizes, and
    whether it holds any distinct-users sketch (the part read may hold none)."""  # noqa: D205, D209
    if scope is not EVERYTHING:
        state.stored_sizes = store.sizes() if scope == SIZES_ONLY else None
        state.users_stored = store.holds_users() if scope.users else None


def no_state(store: Store) -> StateError:
    """The error for a store that holds no state yet."""
    return StateError(
        f"no saved state at {store.describe()}",
        hint="run `hitcount replay FILE` first (or pass --state/--store)",
    )

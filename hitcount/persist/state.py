"""Loading and saving a `HitCounter` in a store, all-or-nothing."""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from hitcount.engine import RECENT_EVENTS, HitCounter
from hitcount.errors import ConfigurationError, StateError
from hitcount.model.arguments import of_type
from hitcount.model.hits import latest_plausible_ts
from hitcount.model.timeparse import iso
from hitcount.persist.answering import no_state, read_again_if_straddled, read_in_part
from hitcount.persist.bigvalues import encode_chunks
from hitcount.persist.document import check_is_state, from_bytes, read_file, to_document
from hitcount.persist.reading import holds_sqlite
from hitcount.persist.stores.base import EVERYTHING, Scope, Store
from hitcount.persist.stores.sqlite import SqliteStore


def load_counter(
    store: Store, *, lazy_distinct: bool = False, scope: Scope = EVERYTHING
) -> HitCounter:
    """The counter saved in `store` (read without locking: saves are atomic).

    Args:
        store: where the state lives.
        lazy_distinct: defer decoding the distinct-users sketches to their first use.
        scope: what the caller will ask; a store that is not read whole (Redis) loads
            only that, and the counter then answers only that.

    Raises:
        StateError: nothing saved yet, or the saved state is invalid.
    """

    def read() -> HitCounter:
        data = _store(store).load() if scope is EVERYTHING else store.load_scoped(scope)
        if data is None:
            raise no_state(store)
        return from_bytes(data, store.describe(), lazy_distinct=lazy_distinct)

    counter = read_again_if_straddled(store, read)
    read_in_part(counter, store, scope)
    return counter


class EventLog(msgspec.Struct, frozen=True):
    """Events a state remembers, oldest first.

    Attributes:
        rows: the events asked for.
        whole: read from the store's whole event log (SQLite); else from the state's last
            `RECENT_EVENTS`, so older events may be gone (`bounded`).
        bounded: only the last `RECENT_EVENTS` were kept, and the list is full.
        earlier: more events matched than `limit`: the earliest were left out.
    """

    rows: list[dict[str, Any]]
    whole: bool
    bounded: bool
    earlier: bool = False


def read_events(
    store: Store,
    counter: HitCounter,
    *,
    name: str | None = None,
    start: float = -math.inf,
    end: float = math.inf,
    limit: int = RECENT_EVENTS,
) -> EventLog:
    """The last `limit` events named `name` (None: any) whose log clock is in `(start, end]`
    (both infinite: every event), from the store's whole log when it keeps one, else from
    `counter` (loaded from `store`)."""  # noqa: D205, D209
    logged = store.read_events(name, start, end, limit + 1)  # one more: were some left out?
    if logged is not None:
        return EventLog(logged[-limit:], whole=True, bounded=False, earlier=len(logged) > limit)
    windowed = math.isfinite(start) or math.isfinite(end)
    rows = [
        row
        for row in counter.recent_events
        if (name is None or row.get("event") == name)
        and (not windowed or _clock_in(row.get("clock"), start, end))
    ]
    full = len(counter.recent_events) >= RECENT_EVENTS
    kept = rows[-limit:] if limit else []
    return EventLog(kept, whole=False, bounded=full, earlier=len(rows) > len(kept))


def _clock_in(clock: Any, start: float, end: float) -> bool:
    return isinstance(clock, (int, float)) and start < clock <= end


def vacuum(store: Store) -> dict[str, dict[str, int]]:
    """Checkpoint a SQLite state's write-ahead log and compact its database.

    Returns the database and WAL sizes in bytes, `before` and `after`.

    Raises:
        ConfigurationError: the store is not SQLite (nothing is changed).
        StateError: nothing saved there yet.
    """
    return store.vacuum()


def read_counter_file(path: Path) -> HitCounter:
    """The counter in a snapshot or JSON state file, or in a SQLite state (only read).

    Raises:
        StateError: missing, unreadable, damaged or foreign (named).
    """
    if not holds_sqlite(path, "snapshot"):
        return read_file(path)  # which says what is wrong with an unreadable file
    store = SqliteStore(path)
    try:
        return load_counter(store)
    finally:
        store.close()


def refuse_future_clock(counter: HitCounter, source: str) -> HitCounter:
    """`counter` read from `source`, unless its clock is more than a year past this machine's
    (as a replay refuses such a line): no real hit could ever be added to it.

    Raises:
        StateError: the clock is that far ahead (a forged or shifted snapshot).
    """  # noqa: D205
    clock = counter.clock
    if clock is not None and clock > latest_plausible_ts():
        raise StateError(
            f"{source}: its clock ({iso(clock)}) is more than a year past this machine's:"
            " every hit added to it would be too late",
            hint="check the file (a shifted or forged snapshot?) or this machine's clock",
        )
    return counter


def save_counter(store: Store, counter: HitCounter) -> None:
    """Write the counter's state to `store` atomically (its compact document)."""
    of_type(counter, HitCounter, "counter", "a HitCounter")
    _store(store).save_counter(counter, _compact_document)
    counter.unsaved_events.clear()


def _store(store: Store) -> Store:
    """`store` itself, checked: a caller passing a URL or None learns how to make one."""
    if not isinstance(store, Store):
        raise ConfigurationError(
            f"store must be a Store, got {type(store).__name__}",
            hint="make one with hitcount.store_from_url('state.db') (or a redis:// URL)",
            param="store",
        )
    return store


def _compact_document(counter: HitCounter) -> Iterable[bytes]:
    return encode_chunks(to_document(counter, compact=True))


def commit(store: Store, counter: HitCounter) -> None:
    """Save the counter now, within an `updating` block (whose lock the caller holds).

    Ctrl-C and SIGTERM wait until the save is done.
    """
    with signals_deferred():
        save_counter(store, counter)


@contextmanager
def updating(
    store: Store,
    create: Callable[[], HitCounter] | None = None,
    *,
    replace: bool = False,
    on_saved: Callable[[], None] | None = None,
) -> Iterator[HitCounter]:
    """Lock the store, load the counter, yield it, and save it when the block succeeds.

    Args:
        store: where the state lives.
        create: makes the counter when nothing is saved yet (or always, with `replace`).
        replace: ignore what is saved and start from `create()`.
        on_saved: called right after the save, before a deferred Ctrl-C can interrupt.

    If the block raises (a bad line under --strict, Ctrl-C), nothing is saved: the store
    keeps exactly what it had.

    Raises:
        StateError: nothing saved and no `create`, the saved state is invalid, or (with
            `replace`) the store holds something that is not a hitcount state, which is
            never overwritten.
    """
    if create is not None and not callable(create):
        raise ConfigurationError(
            f"create must be a function that returns a HitCounter, got {type(create).__name__}",
            hint="pass the function itself: updating(store, lambda: HitCounter('sliding'))",
            param="create",
        )
    with _store(store).locked():
        existing = store.header_to_replace() if replace else store.load()
        if create is not None and (replace or existing is None):
            if existing is not None:
                check_is_state(existing, store.describe())
            existing = None  # not kept through the replay: a big old state would weigh on it
            counter = of_type(create(), HitCounter, "create", "a function returning a HitCounter")
        elif existing is None:
            raise no_state(store)
        else:
            counter = from_bytes(existing, store.describe())  # read once, under the lock
            store.loaded(counter)
        yield counter
        with signals_deferred():
            save_counter(store, counter)
            if on_saved is not None:
                on_saved()


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, so a save is never cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    deferred = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

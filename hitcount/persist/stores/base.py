"""The state-store interface: where the live state lives between invocations."""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.errors import ConfigurationError

if TYPE_CHECKING:
    from hitcount.engine import HitCounter


class Scope(msgspec.Struct, frozen=True):
    """What a read-only command needs of the state; a store may read only that.

    Attributes:
        patterns: endpoints or globs (None: every endpoint).
        last_s: the window length, back from `now` (inf: all data; None: no data at all,
            only the header and metrics).
        now: the window's end (None: the saved clock).
        users: whether distinct users will be asked (False: a store may leave out the
            distinct-users sketches).
    """

    patterns: tuple[str, ...] | None = None
    last_s: float | None = math.inf
    now: float | None = None
    users: bool = True


EVERYTHING = Scope()
HEADER_ONLY = Scope(patterns=(), last_s=None)
#: Every endpoint, no data: what `metrics` needs (with the store's `sizes`).
SIZES_ONLY = Scope(patterns=None, last_s=None)


#: How long a writer waits for another writer's lock before giving up, in seconds
#: (`HITCOUNT_LOCK_TIMEOUT` overrides it).
LOCK_TIMEOUT_S = 120.0
LOCK_TIMEOUT_ENV = "HITCOUNT_LOCK_TIMEOUT"
#: After this many seconds of waiting for the lock, `on_wait` is told (once).
LOCK_NOTICE_S = 1.0


def lock_timeout_s() -> float:
    """`$HITCOUNT_LOCK_TIMEOUT` in seconds (0: do not wait), else `LOCK_TIMEOUT_S`.

    Raises:
        ConfigurationError: the variable is not a number >= 0.
    """
    raw = os.environ.get(LOCK_TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ConfigurationError(
            f"{LOCK_TIMEOUT_ENV}={raw!r} is not a number of seconds >= 0",
            hint=f"set {LOCK_TIMEOUT_ENV} to seconds, e.g. {LOCK_TIMEOUT_ENV}=600, or unset it",
        )
    return value


class Store(ABC):
    """Holds one serialized state document, with an exclusive lock for read-modify-write."""

    #: The URL this store was opened from (for messages).
    url: str
    #: Whether `replay --append` writes batches straight into the store, next to other
    #: writers (Redis), instead of a locked load-modify-save of the whole document.
    appends_concurrently = False
    #: Whether a read may see part of a writer's batch (a Redis cluster, where a batch is
    #: not one transaction): a state whose parts disagree is then read again.
    reads_may_straddle = False
    #: Told once when a writer has waited `LOCK_NOTICE_S` for another writer's lock (the CLI
    #: prints it on stderr); None: wait in silence.
    on_wait: Callable[[str], None] | None = None
    #: Told what a store did by itself that the user should know (an old state imported).
    on_note: Callable[[str], None] | None = None

    @abstractmethod
    def load(self) -> bytes | None:
        """The saved document, or None when nothing has been saved yet.

        Raises:
            StoreUnavailableError: the store cannot be read.
        """

    def load_scoped(self, scope: Scope) -> bytes | None:
        """A document with at least what `scope` needs (by default: all of it)."""
        return self.load()

    def header_to_replace(self) -> bytes | None:
        """What a save replacing the state checks first (is it a hitcount state?)."""
        return self.load_scoped(HEADER_ONLY)

    def sizes(self) -> dict[str, int] | None:
        """Sizes measured in the store, for states not loaded whole (None: use the counter's)."""
        return None

    def holds_users(self) -> bool | None:
        """Whether any distinct-users sketch is stored, for a state read in part (None: not
        known here; judge by the sketches read)."""  # noqa: D205, D209
        return None

    def save_counter(
        self, counter: HitCounter, encoded: Callable[[HitCounter], Iterable[bytes]]
    ) -> None:
        """Save a counter's state: by default its document, `encoded(counter)`, through
        `save_chunks`. The document format is the caller's (`persist/state.py`): a store
        only moves bytes, unless it keeps the state in its own structures (Redis)."""  # noqa: D205, D209
        self.save_chunks(encoded(counter))

    def read_events(
        self, name: str | None, start: float, end: float, limit: int
    ) -> list[dict[str, Any]] | None:
        """The last `limit` events of the store's whole event log named `name` (None: any)
        whose clock is in `(start, end]` (both infinite: all), oldest first; None: the store
        keeps no log beyond the state's recent events."""  # noqa: D205, D209
        return None

    #: Why `vacuum` has nothing to do on this store.
    why_compact = (
        "a JSON state file is rewritten whole at every save and never holds free space (a"
        " SQLite state is a --state path ending in .db, the default)"
    )

    def vacuum(self) -> dict[str, dict[str, int]]:
        """Compact the store; the sizes before and after (only SQLite stores can).

        Raises:
            ConfigurationError: this store has nothing to compact.
        """
        raise ConfigurationError(
            f"{self.describe()}: not a SQLite state; only a SQLite state can be compacted",
            hint=f"nothing to do: {self.why_compact}",
        )

    def loaded(self, counter: HitCounter) -> None:  # noqa: B027 - most stores save it whole
        """`updating` loaded `counter` under the lock: a store may save only its changes."""

    @abstractmethod
    def save(self, data: bytes) -> None:
        """Replace the saved document atomically: readers see the old or the new one.

        Raises:
            StoreUnavailableError: the store cannot be written; the old document stays.
        """

    def save_chunks(self, chunks: Iterable[bytes]) -> None:
        """`save` for a document given in pieces (a file store writes them as they come)."""
        self.save(b"".join(chunks))

    @abstractmethod
    def locked(self) -> AbstractContextManager[None]:
        """An exclusive lock against other writers of this store (other processes too)."""

    def close(self) -> None:  # noqa: B027 - most stores hold no connection
        """Release connections (nothing to do for local stores)."""

    def describe(self) -> str:
        """Where the state lives, for humans."""
        return self.url

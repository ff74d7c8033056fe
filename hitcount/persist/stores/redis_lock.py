"""The whole-state lock of a Redis namespace: a key with a short lease, renewed while held.

`SET key token NX PX lease` takes it. While the owner works, a thread renews the lease every
third of it (`renew_lock`: only while the key still holds the owner's token), so a restore
or swap may take as long as it needs; when the owner dies (even by SIGKILL) nothing renews
it and the lock is free again after at most `LEASE_MS`. Releasing deletes the key only if it
still holds the token (`release_lock`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from hitcount.errors import StoreUnavailableError
from hitcount.model.metrics import plain
from hitcount.persist.stores.base import LOCK_NOTICE_S, LOCK_TIMEOUT_ENV, lock_timeout_s

if TYPE_CHECKING:
    from hitcount.persist.stores.redis import RedisStore

#: How long the lock outlives an owner that stopped renewing it (killed, frozen, cut off).
LEASE_MS = 10_000
#: How long a held-back writer's turn lasts (longer than one batch takes), and how long a
#: whole read waits for such writers at most.
WAITING_MS = 3_000
WRITERS_TURN_S = 10.0


@contextmanager
def leased_lock(store: RedisStore, key: str) -> Iterator[None]:
    """Hold the lock `key` of `store` for the block, renewing its lease meanwhile.

    Waits as a file store does: up to `$HITCOUNT_LOCK_TIMEOUT` (`lock_timeout_s`), saying so
    after `LOCK_NOTICE_S`.

    Raises:
        StoreUnavailableError: another writer held it that long, or Redis failed.
    """
    token, lease_ms = os.urandom(12).hex(), LEASE_MS
    timeout = lock_timeout_s()
    started = time.monotonic()
    told = False
    with store.errors("taking the lock"):
        store.scripts.run("renew_lock", [key], [token, lease_ms])  # registered before the thread
        while not store.client.set(key, token, nx=True, px=lease_ms):
            waited = time.monotonic() - started
            if not told and waited >= LOCK_NOTICE_S and store.on_wait is not None:
                told = True
                store.on_wait(
                    f"{store.describe()}: waiting for another hitcount process's whole-state"
                    f" read or change (up to {plain(timeout)} s; {LOCK_TIMEOUT_ENV}=SECONDS"
                    " to change)"
                )
            if waited >= timeout:
                raise StoreUnavailableError(
                    f"{store.describe()}: another hitcount process held the state lock for"
                    f" {plain(timeout)} s",
                    hint=f"run again when it is done, or wait longer: {LOCK_TIMEOUT_ENV}=600"
                    f" hitcount ...; if its owner died, the lock is free within"
                    f" {plain(lease_ms / 1000)} s",
                )
            time.sleep(0.05)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(store, key, token, lease_ms, stop), name="hitcount-lock", daemon=True
    )
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        with store.errors("releasing the lock"):
            store.scripts.run("release_lock", [key], [token])


def _renew(store: RedisStore, key: str, token: str, lease_ms: int, stop: threading.Event) -> None:
    """Renew the lease every third of it until `stop`, or until the lock is not ours."""
    import redis.exceptions as rex  # redis-py: an optional dependency

    while not stop.wait(lease_ms / 3000):
        try:
            if not store.scripts.run("renew_lock", [key], [token, lease_ms]):
                return  # expired or deleted: the owner's work is no longer protected
        except rex.RedisError:
            continue  # a lost connection: try again at the next third of the lease


def pause_key(store: RedisStore) -> str:
    """The key a whole read holds while `--append` batches wait (`writers_paused`)."""
    return store.root_key("pause")


@contextmanager
def writers_paused(store: RedisStore) -> Iterator[None]:
    """Hold back `--append` batches while the block reads the whole state.

    A batch on a single server WATCHes the pause key and waits while it is held, so the
    counts, metrics and input positions a snapshot reads are those of one moment: a
    position never says a file was read whose hits the data does not hold, or the other way
    round. Taking the key aborts a batch under way (it retries, then waits). On a cluster a
    batch only checks the key first: a batch already under way may still land in the middle.
    Writers go first: a writer the last read held back lands its batch before the next read
    pauses them again (`note_waiting`), so reads back to back never starve the appends.
    """
    deadline = time.monotonic() + WRITERS_TURN_S
    with store.errors("letting held-back appends in"):
        while store.client.exists(waiting_key(store)) and time.monotonic() < deadline:
            time.sleep(0.05)
    with leased_lock(store, pause_key(store)):
        yield


@contextmanager
def whole_state_lock(store: RedisStore) -> Iterator[None]:
    """The lock of a whole-state change (swap, restore, a replay without `--append`, a fold),
    with the appends paused until it is released: a batch that a swap's read held back must
    not land in the generation the swap is about to replace (it would be lost); it waits,
    then finds the state replaced. Whole reads under it do not pause again
    (`store.writers_held`)."""  # noqa: D205, D209
    with leased_lock(store, store.root_key("lock")), writers_paused(store):
        store.writers_held = True
        try:
            yield
        finally:
            store.writers_held = False


def waiting_key(store: RedisStore) -> str:
    """The key a writer held back by a whole read keeps alive until its batch lands."""
    return store.root_key("waiting")


def note_waiting(store: RedisStore, landed: bool = False) -> None:
    """Say (for `WAITING_MS`) that a held-back writer is about to try its batch again, or
    (`landed`) that it is through: then a read waits only briefly for the others."""  # noqa: D205, D209
    with store.errors("waiting for a whole read"):
        store.client.set(waiting_key(store), "1", px=200 if landed else WAITING_MS)

"""Redis: prune the endpoints that `--append`s did not touch.

A batch prunes the keys it writes. An endpoint no batch touches keeps what the horizon has
since left behind: reads ignore it (`Layout.state_document` prunes to the horizon), but it
takes memory and `metrics` counts it. Once the shared clock has moved a quarter of the
shortest retention since the last sweep (the meta hash's `swept`, claimed by one writer
with `sweep_claim`), that writer sweeps: every endpoint key and distinct-users hash is pruned to
the horizon by the same scripts and compare-and-set writes a batch uses, keys left empty
leave their listing, and the entries pruned are added to `pruned_events`. So what an
untouched endpoint holds outlives the retention by at most a quarter of it, and a sweep's
cost is spread over the appends that move the horizon that far.

Concurrent writers stay exact: a native prune is one atomic script, a document is replaced
only if it is still the one read, and an endpoint is taken off its listing only while its
key is absent: it is put back when a writer recreated the key meanwhile (writers list the
endpoints of every batch they write, after writing them).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from hitcount.errors import StateError
from hitcount.persist.stores.redis_layout import Layout, ReadModifyWriteLayout
from hitcount.persist.stores.redis_lock import pause_key
from hitcount.persist.stores.redis_users import users_key

if TYPE_CHECKING:
    from hitcount.persist.stores.redis import RedisStore

#: A sweep is due once the clock has moved this share of the shortest retention since the last.
SWEEP_SHARE = 0.25
_CHUNK = 500
_RETRIES = 50


def sweep_if_due(
    store: RedisStore, generation: str, layout: Layout, clock: float | None, retention_s: float
) -> int:
    """Sweep when it is due and this writer claims it; the entries pruned (0: no sweep).

    `clock` is the shared clock after the last batch; `retention_s` the shortest time
    anything is kept (the strategy's finest tier, the distinct-users sketches).
    """
    if clock is None or not 0 < retention_s < math.inf:
        return 0
    meta_key = store.gen_key(generation, "meta")
    with store.errors("claiming a sweep"):
        step = retention_s * SWEEP_SHARE
        keys = [meta_key, pause_key(store)]  # one slot: both carry the namespace's tag
        if not store.scripts.run("sweep_claim", keys, [repr(clock), repr(step)]):
            return 0
    meta = store.meta(generation, events=False)
    horizon, pruned = meta["horizon"], 0
    if layout.prunes and horizon is not None:
        delta = layout.new_delta(horizon, meta["extras"])
        layout.restore_extras(delta, meta["extras"])
        for chunk in _listed(store, generation, "endpoints"):
            if store.current_generation() != generation:
                return pruned  # replaced meanwhile: its keys are being deleted
            pruned += _prune_endpoints(store, generation, layout, delta, horizon, chunk)
    users = meta["distinct"]
    if users is not None and users["horizon"] is not None:
        first = math.floor(users["horizon"] / users["bucket_s"])
        for chunk in _listed(store, generation, "users"):
            if store.current_generation() != generation:
                return pruned
            _prune_users(store, generation, first, chunk)
    layout.start_batch()  # the outcomes of the sweep's `applied` are not a batch's
    if pruned:
        with store.errors("counting what a sweep pruned"):
            keys = [store.root_key("current"), meta_key]
            store.scripts.run("sweep_count", keys, [generation, pruned])
    return pruned


def _listed(store: RedisStore, generation: str, listing: str) -> Iterator[list[str]]:
    """The members of a generation's listing (`endpoints`, `users`), in chunks."""
    names = store.endpoints_in(generation, None, listing)
    for start in range(0, len(names), _CHUNK):
        yield names[start : start + _CHUNK]


def _prune_endpoints(
    store: RedisStore,
    generation: str,
    layout: Layout,
    delta: Any,
    horizon: float,
    endpoints: list[str],
) -> int:
    """Prune the keys of `endpoints` to `horizon`; the entries pruned."""
    keys = [store.endpoint_key(generation, endpoint) for endpoint in endpoints]
    if isinstance(layout, ReadModifyWriteLayout):
        pruned = _compare_and_set(store, layout, delta, dict(zip(endpoints, keys, strict=True)))
    else:
        with store.errors("pruning the state"):
            pipe = store.client.pipeline(transaction=False)
            for endpoint, key in zip(endpoints, keys, strict=True):
                layout.queue_add(pipe, key, delta, endpoint, horizon)
            replies = pipe.execute(raise_on_error=False)
        pruned = sum(reply for reply in replies if isinstance(reply, int))  # errors: damaged keys
    _unlist_absent(
        store, store.gen_key(generation, "endpoints"), dict(zip(endpoints, keys, strict=True))
    )
    return pruned


def _compare_and_set(
    store: RedisStore, layout: ReadModifyWriteLayout, delta: Any, keys: dict[str, str]
) -> int:
    """Prune documents by compare-and-set, retrying the keys another writer changed."""
    left, pruned = list(keys), 0
    for _ in range(_RETRIES):
        if not left:
            break
        with store.errors("pruning the state"):
            reader = store.client.pipeline(transaction=False)
            for endpoint in left:
                layout.queue_read_current(reader, keys[endpoint])
            values = reader.execute(raise_on_error=False)
        pipe = store.client.pipeline(transaction=False)
        changes = {}
        for endpoint, value in zip(left, values, strict=True):
            try:
                change = store.checked(
                    keys[endpoint], partial(layout.applied, value, delta, endpoint)
                )
            except StateError:
                continue  # damaged: left for a read to report
            if change.pruned:
                changes[endpoint] = change.pruned
                layout.queue_compare_and_set(pipe, keys[endpoint], value, change)
        with store.errors("pruning the state"):
            done = pipe.execute() if changes else []
        won = [endpoint for endpoint, ok in zip(changes, done, strict=True) if ok]
        pruned += sum(changes[endpoint] for endpoint in won)
        left = [endpoint for endpoint in changes if endpoint not in set(won)]
    return pruned


def _prune_users(store: RedisStore, generation: str, first: int, endpoints: list[str]) -> None:
    """Delete the sketches of `endpoints` before bucket `first` (`users_prune`)."""
    keys = [users_key(store, generation, endpoint) for endpoint in endpoints]
    with store.errors("pruning distinct-user sketches"):
        pipe = store.client.pipeline(transaction=False)
        for key in keys:
            store.scripts.run("users_prune", [key], [first], on=pipe)
        pipe.execute(raise_on_error=False)
    _unlist_absent(
        store, store.gen_key(generation, "users"), dict(zip(endpoints, keys, strict=True))
    )


def _unlist_absent(store: RedisStore, listing: str, keys: dict[str, str]) -> None:
    """Take the endpoints whose key (`keys`) is absent off `listing`; put back any whose key
    a writer recreated meanwhile."""  # noqa: D205, D209
    with store.errors("pruning the state"):
        gone = [endpoint for endpoint, held in _exists(store, keys) if not held]
        if not gone:
            return
        store.client.srem(listing, *gone)
        back = [endpoint for endpoint, held in _exists(store, {e: keys[e] for e in gone}) if held]
        if back:
            store.client.sadd(listing, *back)


def _exists(store: RedisStore, keys: dict[str, str]) -> list[tuple[str, bool]]:
    """Whether each endpoint's key exists."""
    pipe = store.client.pipeline(transaction=False)
    for key in keys.values():
        pipe.exists(key)
    return [(endpoint, bool(n)) for endpoint, n in zip(keys, pipe.execute(), strict=True)]

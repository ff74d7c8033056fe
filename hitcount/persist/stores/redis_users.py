"""Distinct-user sketches in Redis: one hash per endpoint, one field per minute.

- `NS:gG:{ENDPOINT}:users` (the endpoint key's hash tag: the same cluster slot) maps a
  bucket index to its sketch in the saved text form of a snapshot (base64 of
  `HyperLogLog.to_bytes`); `{NS}:gG:users` lists the endpoints that have one; the meta
  hash keeps the tracker's parameters (`d:bucket_s`, `d:precision`, `d:retention_s`,
  `d:horizon`, `d:edges`). No `d:` fields: a state kept without sketches (`--no-distinct`).
- Everything goes through the tracker's saved form and merge (`DistinctTracker.to_state`,
  `from_state`, `merge`: the register-wise maximum), never through the register layout,
  so the sketch's representation can change without touching this module.
- An `--append` merges the sketches it touched read-modify-write: on a single server the
  keys are WATCHed and written in the batch's MULTI/EXEC (a concurrent change retries the
  batch); on a cluster each key is written by the `users_set` compare-and-set script and
  retried alone (a merge applied twice changes nothing). Every value read is checked
  before anything is written. Buckets behind the horizon are deleted from the keys a
  batch touches (`users_prune`) and ignored when read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from hitcount.errors import StoreUnavailableError
from hitcount.persist.stores.redis_checks import DamagedValueError
from hitcount.sketches.distinct import DistinctTracker

if TYPE_CHECKING:
    from hitcount.persist.stores.redis import RedisStore

#: A window of at most this many buckets is read field by field (HMGET), else whole.
FIELDS_READ_MAX = 2048
_CHUNK = 500
MAX_RETRIES = 50

Sketches = dict[str, dict[str, str]]  # endpoint -> bucket (text) -> saved sketch


def users_key(store: RedisStore, generation: str, endpoint: str) -> str:
    """The hash of `endpoint`'s sketches (in its endpoint key's slot)."""
    return store.endpoint_key(generation, endpoint) + ":users"


def meta_fields(tracker: DistinctTracker | None) -> dict[str, str]:
    """The `d:` fields of the meta hash for `tracker` (none when sketches are off)."""
    if tracker is None:
        return {}
    horizon = tracker.horizon
    return {
        "d:bucket_s": repr(tracker.bucket_s),
        "d:precision": str(tracker.precision),
        "d:retention_s": repr(tracker.retention_s),
        "d:horizon": repr(horizon) if math.isfinite(horizon) else "",
        "d:edges": tracker.edges,
    }


def empty_tracker(parameters: Mapping[str, Any]) -> DistinctTracker:
    """An empty tracker with the saved parameters and horizon (`parse_meta`'s `distinct`)."""
    return DistinctTracker.from_state({**parameters, "endpoints": {}})


def write_all(store: RedisStore, generation: str, tracker: DistinctTracker | None) -> None:
    """Write every sketch of `tracker` into a new generation (its keys do not exist yet)."""
    if tracker is None:
        return
    sketches: Sketches = tracker.to_state(compact=False)["endpoints"]
    names = sorted(sketches)
    for start in range(0, len(names), _CHUNK):
        chunk = names[start : start + _CHUNK]
        pipe = store.client.pipeline(transaction=False)
        pipe.sadd(store.gen_key(generation, "users"), *chunk)
        for endpoint in chunk:
            pipe.hset(users_key(store, generation, endpoint), mapping=sketches[endpoint])
        pipe.execute()


def read_scoped(
    store: RedisStore,
    generation: str,
    parameters: Mapping[str, Any] | None,
    patterns: tuple[str, ...] | None,
    window: tuple[float, float] | None,
) -> dict[str, Any] | None:
    """The tracker's saved form with the sketches of the endpoints `patterns` select whose
    bucket reaches into `window` (start, end); None window: parameters only.

    Raises:
        StateError: a damaged key (named).
    """  # noqa: D205
    if parameters is None:
        return None
    if window is None:
        return {**parameters, "endpoints": {}}
    tracker = empty_tracker(parameters)
    fields = _fields(tracker, *window)
    if fields == []:  # the window ends before the sketches kept: none to read
        return {**parameters, "endpoints": {}}
    endpoints = store.endpoints_in(generation, patterns, "users")
    found: Sketches = {}
    for start in range(0, len(endpoints), _CHUNK):
        chunk = endpoints[start : start + _CHUNK]
        keys = [users_key(store, generation, endpoint) for endpoint in chunk]
        with store.errors("reading the state"):
            pipe = store.client.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(key, fields) if fields else pipe.hgetall(key)
            replies = pipe.execute(raise_on_error=False)
        for endpoint, key, reply in zip(chunk, keys, replies, strict=True):
            kept = store.checked(key, partial(_parsed, reply, fields, tracker, endpoint))
            if kept:
                found[endpoint] = kept
    return {**parameters, "endpoints": found}


def _fields(tracker: DistinctTracker, start: float, end: float) -> list[str] | None:
    """The buckets a window needs, when few enough to name (None: read whole hashes)."""
    if not (math.isfinite(start) and math.isfinite(end)):
        return None
    first, last = tracker.bucket_of(max(start, tracker.horizon)), tracker.bucket_of(end)
    if last < first:
        return []
    if last - first >= FIELDS_READ_MAX:
        return None
    return [str(bucket) for bucket in range(first, last + 1)]


def _parsed(
    reply: Any, fields: list[str] | None, tracker: DistinctTracker, endpoint: str
) -> dict[str, str]:
    """One endpoint's sketches from HMGET/HGETALL, checked; buckets behind the horizon dropped.

    Raises:
        DamagedValueError: a bucket or sketch hitcount could not have written.
    """
    if isinstance(reply, Exception):
        raise reply
    pairs = zip(fields, reply, strict=True) if fields is not None else reply.items()
    kept: dict[str, str] = {}
    for field, value in pairs:
        if value is None:
            continue
        name = field.decode(errors="replace") if isinstance(field, bytes) else field
        try:
            bucket = int(name)
        except ValueError as err:
            raise DamagedValueError(f"the bucket {name[:40]!r} is not an integer") from err
        if (bucket + 1) * tracker.bucket_s > tracker.horizon:
            kept[name] = value.decode()
    _check(tracker, endpoint, kept)
    return kept


def _check(tracker: DistinctTracker, endpoint: str, sketches: Mapping[str, str]) -> None:
    """Raise DamagedValueError unless `sketches` load as `tracker`'s (same precision)."""
    if not sketches:
        return
    try:
        DistinctTracker.from_state({**_parameters(tracker), "endpoints": {endpoint: sketches}})
    except ValueError as err:
        raise DamagedValueError(str(err)) from err


def _parameters(tracker: DistinctTracker) -> dict[str, Any]:
    state = tracker.to_state()
    names = ("bucket_s", "precision", "retention_s", "horizon", "edges")
    return {name: state[name] for name in names}


class SketchAppend:
    """The sketches one `--append` batch adds, merged into what Redis holds."""

    def __init__(self, store: RedisStore, generation: str, delta: DistinctTracker) -> None:
        self.store, self.generation, self.delta = store, generation, delta
        self.added: Sketches = delta.to_state(compact=False)["endpoints"]
        self.keys = {ep: users_key(store, generation, ep) for ep in sorted(self.added)}

    def merged(self, endpoints: list[str]) -> tuple[Sketches, Sketches]:
        """What `endpoints` hold now (the buckets this batch touches) and their merged values.

        Raises:
            StateError: a damaged key (nothing is written then).
        """
        store = self.store
        with store.errors("reading distinct-user sketches"):
            pipe = store.client.pipeline(transaction=False)
            for endpoint in endpoints:
                pipe.hmget(self.keys[endpoint], list(self.added[endpoint]))
            replies = pipe.execute(raise_on_error=False)
        tracker = empty_tracker(_parameters(self.delta))
        tracker.horizon = -math.inf  # what is stored before the batch's horizon is pruned below
        held: Sketches = {}
        for endpoint, reply in zip(endpoints, replies, strict=True):
            fields = list(self.added[endpoint])
            read = partial(_parsed, reply, fields, tracker, endpoint)
            held[endpoint] = store.checked(self.keys[endpoint], read)
        return held, self._merge(held)

    def _merge(self, held: Sketches) -> Sketches:
        parameters = {**_parameters(self.delta), "horizon": None}
        stored = {endpoint: sketches for endpoint, sketches in held.items() if sketches}
        merged = DistinctTracker.from_state({**parameters, "endpoints": stored})
        added = DistinctTracker.from_state({**parameters, "endpoints": self.added})
        merged.merge(added)
        state: Sketches = merged.to_state(compact=False)["endpoints"]
        return {endpoint: state[endpoint] for endpoint in held if endpoint in state}

    def watched(self) -> list[str]:
        """The keys a single server's batch WATCHes."""
        return list(self.keys.values())

    def queue_writes(self, pipe: Any, merged: Sketches) -> None:
        """Queue the merged sketches, the endpoints' listing and the pruning (in MULTI/EXEC)."""
        if not merged:
            return
        pipe.sadd(self.store.gen_key(self.generation, "users"), *merged)
        for endpoint, sketches in merged.items():
            pipe.hset(self.keys[endpoint], mapping=sketches)
            self._queue_prune(pipe, endpoint)

    def _queue_prune(self, pipe: Any, endpoint: str) -> None:
        if math.isfinite(self.delta.horizon):
            first = math.floor(self.delta.horizon / self.delta.bucket_s)
            self.store.scripts.run("users_prune", [self.keys[endpoint]], [first], on=pipe)

    def compare_and_set(self) -> None:
        """Cluster: merge key by key with `users_set`, retrying a key another writer changed.

        Raises:
            StateError: a damaged key (met before any write of this round).
            StoreUnavailableError: other writers kept changing the same keys.
        """
        left = list(self.keys)
        for _ in range(MAX_RETRIES):
            if not left:
                break
            held, merged = self.merged(left)
            with self.store.errors("writing distinct-user sketches"):
                pipe = self.store.client.pipeline(transaction=False)
                for endpoint in left:
                    args: list[Any] = [len(merged[endpoint])]
                    for bucket, sketch in merged[endpoint].items():
                        args += [bucket, held[endpoint].get(bucket, ""), sketch]
                    self.store.scripts.run("users_set", [self.keys[endpoint]], args, on=pipe)
                replies = pipe.execute()
            left = [endpoint for endpoint, ok in zip(left, replies, strict=True) if not ok]
        if left:
            raise StoreUnavailableError(
                f"{self.store.describe()}: gave up after {MAX_RETRIES} tries: other writers"
                " kept changing the same distinct-user sketches",
                hint="retry; fewer writers on the same endpoints at once would help",
            )
        with self.store.errors("writing distinct-user sketches"):
            pipe = self.store.client.pipeline(transaction=False)
            if self.keys:
                pipe.sadd(self.store.gen_key(self.generation, "users"), *self.keys)
            for endpoint in self.keys:
                self._queue_prune(pipe, endpoint)
            pipe.execute()


def holds_any(store: RedisStore, generation: str) -> bool:
    """Whether any endpoint of `generation` has distinct-users sketches."""
    with store.errors("reading the state"):
        return bool(store.client.scard(store.gen_key(generation, "users")))


def sizes(store: RedisStore, generation: str) -> dict[str, int]:
    """`distinct_bytes`: what the sketches' hashes take in Redis (`MEMORY USAGE`)."""
    endpoints = store.endpoints_in(generation, None, "users")
    used = 0
    for start in range(0, len(endpoints), _CHUNK):
        with store.errors("reading the state"):
            pipe = store.client.pipeline(transaction=False)
            for endpoint in endpoints[start : start + _CHUNK]:
                pipe.memory_usage(users_key(store, generation, endpoint))
            used += sum(
                int(size or 0)
                for size in pipe.execute(raise_on_error=False)
                if not isinstance(size, Exception)
            )
    return {"distinct_bytes": used}


def drop_keys(store: RedisStore, generation: str) -> Iterator[str]:
    """The keys of a generation's sketches (its endpoints' hashes and their listing)."""
    import redis.exceptions as rex  # redis-py: only with a Redis store

    listing = store.gen_key(generation, "users")
    try:
        names = [n.decode(errors="replace") for n in store.client.sscan_iter(listing)]
    except rex.ResponseError:  # damaged: not a set
        names = []
    for endpoint in names:
        yield users_key(store, generation, endpoint)
    yield listing

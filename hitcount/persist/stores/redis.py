"""`redis://` and `rediss://`: one state shared by many machines, in native Redis structures.

Keys of a namespace `NS` (default `hitcount`; `?namespace=` in the URL, `--namespace` or
`HITCOUNT_NAMESPACE`):

- `{NS}:current`: the live generation G. A restore, a swap or a replay without
  `--append` writes a whole new generation, then switches this key in one `SET`:
  readers see the old state or the new one, never a mix. Old generations are deleted.
- `{NS}:gG:meta` (hash: strategy, clock, horizon, metrics), `{NS}:gG:endpoints` (set),
  `{NS}:gG:inputs` (hash: how far each input file was replayed, for `--resume`),
  `{NS}:gG:alerts` (string: the alert tracks `--append` runs keep, JSON),
  `{NS}:gG:writers` (how many `--append` writers opened it: each draws its own numbers).
- `NS:gG:{ENDPOINT}`: one key per endpoint, its type chosen by the strategy (see
  `redis_layouts`). The braces are a Redis Cluster hash tag: an endpoint's keys share a
  slot, and endpoints spread over the cluster.

Writers with `--append` add batches concurrently (`redis_append`); the rest goes through
`load`/`save` under a lock key, like the file store.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from hitcount.errors import StateError, StoreUnavailableError
from hitcount.model.globs import is_glob, matches
from hitcount.persist.document import VERSION, encode, from_bytes
from hitcount.persist.stores import redis_users
from hitcount.persist.stores.base import EVERYTHING, HEADER_ONLY, Scope, Store
from hitcount.persist.stores.redis_checks import (
    METRIC_FIELDS,
    DamagedValueError,
    damaged,
    parse_events,
    parse_meta,
    whole,
)
from hitcount.persist.stores.redis_drop import drop_generation
from hitcount.persist.stores.redis_errors import masked, refuse_cap, translated
from hitcount.persist.stores.redis_extras import read_alerts, read_positions
from hitcount.persist.stores.redis_layout import Layout
from hitcount.persist.stores.redis_layouts import layout_for
from hitcount.persist.stores.redis_lock import whole_state_lock, writers_paused
from hitcount.persist.stores.redis_scripts import Scripts
from hitcount.persist.stores.redis_urls import connect, split_url

if TYPE_CHECKING:
    from hitcount.engine import HitCounter

_T = TypeVar("_T")
READ_CHUNK = 500  # endpoints per pipelined round trip
_READ_TRIES = 5  # reads of a state that whole-state changes keep replacing, then give up


def escape_tag(endpoint: str) -> str:
    """An endpoint as the inside of a hash tag: no braces, reversible."""
    return endpoint.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


class RedisStore(Store):
    """The state of one namespace on a Redis server or cluster."""

    appends_concurrently = True
    why_compact = "Redis manages its own memory (see its MEMORY PURGE and active defrag)"

    def __init__(self, url: str, namespace: str | None = None, *, timeout_s: float = 10.0):
        self.namespace, self.connect_url = split_url(url, namespace)
        parts = urllib.parse.urlsplit(url)
        self.url = url
        self.timeout_s = timeout_s
        self._shown = masked(parts)
        self.has_password = parts.password is not None
        self._client: Any = None
        self._scripts: Scripts | None = None
        self.is_cluster = False
        #: Whether this store holds the appends back already (`whole_state_lock`).
        self.writers_held = False

    def describe(self) -> str:
        """The URL without its password, and the namespace."""
        return f"{self._shown} (namespace {self.namespace})"

    # -- connection ------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """A connected client (a cluster client when the server runs in cluster mode)."""
        if self._client is None:
            with self.errors():
                self._client, self.is_cluster = connect(
                    self.connect_url, self._shown, self.timeout_s
                )
                self.reads_may_straddle = self.is_cluster
        return self._client

    @property
    def scripts(self) -> Scripts:
        """The Lua scripts, registered with this store's client once."""
        if self._scripts is None:
            self._scripts = Scripts(self.client, cluster=self.is_cluster)
        return self._scripts

    @contextmanager
    def errors(self, doing: str = "") -> Iterator[None]:
        """Turn redis-py's exceptions into one clear line (`redis_errors.translated`)."""
        import redis.exceptions as rex

        try:
            yield
        except (rex.RedisError, rex.RedisClusterException) as err:  # the latter: a cluster's
            where = self._shown + (f" ({doing})" if doing else "")
            raise translated(err, where, self) from err

    # -- keys --------------------------------------------------------------------------------

    def root_key(self, name: str) -> str:
        """A namespace-wide key (all in the `{NS}` slot)."""
        return f"{{{self.namespace}}}:{name}"

    def gen_key(self, generation: str, name: str) -> str:
        """A key of one generation in the `{NS}` slot: meta, endpoints, inputs."""
        return self.root_key(f"g{generation}:{name}")

    def endpoint_key(self, generation: str, endpoint: str) -> str:
        """The key holding one endpoint's state (its own hash tag)."""
        return f"{self.namespace}:g{generation}:{{{escape_tag(endpoint)}}}"

    def current_generation(self) -> str | None:
        """The live generation, or None when nothing was saved."""
        key = self.root_key("current")
        with self.errors("reading the state"):
            value = self.checked(key, partial(self.client.get, key))
        if value is None:
            return None
        return str(self.checked(key, partial(whole, value, "the generation", 1)))

    # -- whole-state reads -----------------------------------------------------------------

    def load(self) -> bytes | None:
        """The whole state as a snapshot document (reads every endpoint)."""
        return self.load_scoped(EVERYTHING)

    def load_scoped(self, scope: Scope) -> bytes | None:
        """A state document holding only what `scope` needs: its endpoints, its window (the
        whole state is read with `--append`s paused: one moment's data and positions). A
        read that a whole-state change switched under (its keys then go) reads again."""  # noqa: D205, D209
        return self._read_live(partial(self._paused_read, scope=scope))

    def _read_live(self, read: Callable[[str], _T]) -> _T | None:
        """`read(generation)` of the live generation (None: nothing saved), again when a
        whole-state change switched to a new one meanwhile."""  # noqa: D205, D209
        for _ in range(_READ_TRIES):
            generation = self.current_generation()
            if generation is None:
                return None
            try:
                data = read(generation)
            except StateError:
                if self.current_generation() == generation:
                    raise  # really damaged
                continue
            if self.current_generation() == generation:
                return data
        raise StoreUnavailableError(
            f"{self.describe()}: the state was replaced {_READ_TRIES} times while it was read",
            hint="read it again when the swaps and restores are done",
        )

    def _paused_read(self, generation: str, scope: Scope) -> bytes:
        if scope == EVERYTHING and not self.writers_held:
            with writers_paused(self):
                return self._load_generation(generation, scope)
        return self._load_generation(generation, scope)

    def _load_generation(self, generation: str, scope: Scope) -> bytes:
        meta = self.meta(generation)
        layout = layout_for(meta["strategy"]["name"], meta["strategy"]["params"])
        endpoints = self.endpoints_in(generation, scope.patterns)
        window = None
        if scope.last_s is None:
            parts: dict[str, Any] = {}
        else:
            end = scope.now if scope.now is not None else (meta["clock"] or 0.0)
            start = end - scope.last_s if math.isfinite(scope.last_s) else -math.inf
            parts = self._read_parts(generation, layout, endpoints, start)
            window = (start, end)
        users = (generation, meta["distinct"], scope.patterns, window if scope.users else None)
        distinct = redis_users.read_scoped(self, *users)
        if window is not None:  # the header as of after the reads: batches may have landed
            later = self.meta(generation, events=False)  # meanwhile: the data must not pass
            meta = {**later, "recent_events": meta["recent_events"]}  # its clock
        meta["distinct"] = distinct
        extras = meta.pop("extras")
        horizon = meta["horizon"] if meta["horizon"] is not None else -math.inf
        if scope == EVERYTHING:  # the whole state: what it read and its alerts too
            meta["inputs"] = [p.to_dict() for p in read_positions(self, generation).values()]
            meta["alerts"] = read_alerts(self, generation)
        return encode({**meta, "state": layout.state_document(parts, extras, horizon)})

    def header_to_replace(self) -> bytes | None:
        """The header, or None when it is damaged: the namespace is hitcount's, replaced."""
        try:
            return self.load_scoped(HEADER_ONLY)
        except StateError:
            return None

    def holds_users(self) -> bool | None:
        """Whether any endpoint of the live state has distinct-users sketches (a window may
        read none); None: nothing saved."""  # noqa: D205, D209
        return self._read_live(partial(redis_users.holds_any, self))

    def sizes(self) -> dict[str, int] | None:
        """Endpoints, entries and bytes (`MEMORY USAGE`) of the live state, read key by key."""
        return self._read_live(self._sizes_of)

    def _sizes_of(self, generation: str) -> dict[str, int]:
        meta = self.meta(generation)
        layout = layout_for(meta["strategy"]["name"], meta["strategy"]["params"])
        sizes = self._sizes(generation, layout, self.endpoints_in(generation, None))
        return {**sizes, **redis_users.sizes(self, generation)}

    def meta(self, generation: str, *, events: bool = True) -> dict[str, Any]:
        """The header of a generation's state document (strategy, clock, metrics...).

        Its recent events too, unless `events` is false (then an empty list: not read).

        Raises:
            StateError: the generation has no metadata, or it is damaged (naming the key).
        """
        meta_key, events_key = self.gen_key(generation, "meta"), self.gen_key(generation, "events")
        with self.errors("reading the state"):
            raw = self.checked(meta_key, partial(self.client.hgetall, meta_key))
            read = partial(self.client.lrange, events_key, 0, -1)
            rows = self.checked(events_key, read) if events else []
        if not raw:
            raise damaged(
                self.describe(), self.root_key("current"), f"generation {generation} has no data"
            )
        try:
            fields = {key.decode(): value.decode() for key, value in raw.items()}
            meta = parse_meta(fields)
        except (UnicodeDecodeError, DamagedValueError) as err:
            raise damaged(self.describe(), meta_key, str(err)) from err
        try:
            meta["recent_events"] = parse_events(rows)
        except DamagedValueError as err:
            raise damaged(self.describe(), events_key, str(err)) from err
        return meta

    def endpoints_in(
        self, generation: str, patterns: tuple[str, ...] | None, listing: str = "endpoints"
    ) -> list[str]:
        """The endpoints of the set `listing` that `patterns` select (None: all), sorted."""
        key = self.gen_key(generation, listing)
        with self.errors("reading the state"):
            if patterns is not None and all(not is_glob(p) for p in patterns):
                asked = list(patterns)
                found = (
                    self.checked(key, partial(self.client.smismember, key, asked)) if asked else []
                )
                return [p for p, present in zip(patterns, found, strict=True) if present]
            names = sorted(self.checked(key, partial(_members, self.client, key)))
        if patterns is None:
            return names
        return [name for name in names if any(matches(name, p) for p in patterns)]

    def _read_parts(
        self, generation: str, layout: Layout, endpoints: list[str], start: float
    ) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        for chunk in _chunks(endpoints, READ_CHUNK):
            keys = [self.endpoint_key(generation, endpoint) for endpoint in chunk]
            with self.errors("reading the state"):
                pipe = self.client.pipeline(transaction=False)
                for key in keys:
                    layout.queue_read(pipe, key, start)
                replies = pipe.execute(raise_on_error=False)
            step = layout.reads_per_endpoint
            for index, endpoint in enumerate(chunk):
                mine = replies[index * step : (index + 1) * step]
                part = self.checked(keys[index], partial(layout.state_part, mine))
                if part is not None:
                    parts[endpoint] = part
        return parts

    def checked(self, key: str, parse: Callable[[], _T]) -> _T:
        """`parse()` of what `key` holds; a damaged value is a StateError naming the key.

        Raises:
            StateError: `parse` found the value damaged, or the key holds another type.
            StoreUnavailableError: Redis failed otherwise.
        """
        import redis.exceptions as rex

        try:
            return parse()
        except rex.ResponseError as err:
            if "WRONGTYPE" in str(err):
                raise damaged(self.describe(), key, "it holds another type of value") from err
            with self.errors("reading the state"):
                raise
        except (DamagedValueError, StateError, UnicodeDecodeError) as err:
            what = err.message if isinstance(err, StateError) else str(err)
            raise damaged(self.describe(), key, what) from err

    def _sizes(self, generation: str, layout: Layout, endpoints: list[str]) -> dict[str, int]:
        entries = used = 0
        for chunk in _chunks(endpoints, READ_CHUNK):
            with self.errors("reading the state"):
                pipe = self.client.pipeline(transaction=False)
                for endpoint in chunk:
                    key = self.endpoint_key(generation, endpoint)
                    layout.queue_size(pipe, key)
                    pipe.memory_usage(key)
                replies = pipe.execute(raise_on_error=False)
            for index, endpoint in enumerate(chunk):
                key = self.endpoint_key(generation, endpoint)
                count, size = replies[2 * index : 2 * index + 2]
                entries += self.checked(key, partial(_count, count))
                used += self.checked(key, partial(_count, size))
        return {"endpoints_count": len(endpoints), "memory_entries": entries, "state_bytes": used}

    # -- whole-state writes ----------------------------------------------------------------

    def save(self, data: bytes) -> None:
        """Write a whole new generation from a state document (see `save_counter`)."""
        self.write_generation(from_bytes(data, "the state to save"))

    def save_counter(
        self, counter: HitCounter, encoded: Callable[[HitCounter], Iterable[bytes]]
    ) -> None:
        """Write the counter in native structures (`write_generation`): no document."""
        self.write_generation(counter)

    def write_generation(self, counter: HitCounter) -> None:
        """Write a whole new generation, switch to it in one SET, delete the old ones (a
        state with an endpoint cap is refused: Redis keeps none yet)."""  # noqa: D205, D209
        refuse_cap(counter.max_endpoints)
        strategy = counter.strategy
        layout = layout_for(strategy.name, strategy.params, self.scripts)
        with self.errors("writing the state"):
            generation = str(self.client.incr(self.root_key("generations")))
        try:
            self._write_generation(generation, counter, layout)
        except StoreUnavailableError:
            self._drop_unfinished(generation)  # e.g. out of memory: give its memory back
            raise
        self.drop_old_generations(generation)

    def _write_generation(self, generation: str, counter: HitCounter, layout: Layout) -> None:
        strategy = counter.strategy
        with self.errors("writing the state"):
            self.client.sadd(self.root_key("all"), generation)
            self._write_meta(generation, counter, layout)
            endpoints = sorted(strategy.endpoints())
            for chunk in _chunks(endpoints, READ_CHUNK):
                pipe = self.client.pipeline(transaction=False)
                pipe.sadd(self.gen_key(generation, "endpoints"), *chunk)
                for endpoint in chunk:
                    key = self.endpoint_key(generation, endpoint)
                    layout.queue_write(pipe, key, strategy, endpoint)
                pipe.execute()
            redis_users.write_all(self, generation, counter.distinct)
            self.client.set(self.root_key("current"), generation)

    def _drop_unfinished(self, generation: str) -> None:
        """Delete a generation whose writing failed, unless it became the live one."""
        try:
            if self.current_generation() != generation:
                with self.errors("deleting the unfinished state"):
                    drop_generation(self, generation)
        except (StoreUnavailableError, StateError):
            pass  # the next whole write deletes it (`drop_old_generations`)

    def _write_meta(self, generation: str, counter: HitCounter, layout: Layout) -> None:
        strategy = counter.strategy
        horizon = strategy.horizon
        meta = {
            "version": VERSION,
            "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "strategy": json.dumps({"name": strategy.name, "params": dict(strategy.params)}),
            "clock": "" if counter.clock is None else repr(counter.clock),
            "horizon": repr(horizon) if math.isfinite(horizon) else "",
            "swept": "" if counter.clock is None else repr(counter.clock),  # see redis_sweep
            "max_lateness_s": repr(counter.max_lateness_s),
            **{f"m:{name}": getattr(counter.metrics, name) for name in METRIC_FIELDS},
            **{f"x:{name}": repr(value) for name, value in layout.extras_of(strategy).items()},
            **redis_users.meta_fields(counter.distinct),
        }
        if not counter.keying.default:
            meta["keys"] = json.dumps(counter.keying.to_dict())
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.gen_key(generation, "meta"), mapping=meta)
        events = [json.dumps(event) for event in counter.recent_events]
        if events:
            pipe.rpush(self.gen_key(generation, "events"), *events)
        if counter.inputs:  # how far each file was read: `--append` refuses or resumes from it
            positions = {path: json.dumps(at.to_dict()) for path, at in counter.inputs.items()}
            pipe.hset(self.gen_key(generation, "inputs"), mapping=positions)
        if alerts := counter.saved_alerts():  # read back by `--append` (redis_append)
            pipe.set(self.gen_key(generation, "alerts"), json.dumps(alerts))
        pipe.execute()

    def drop_old_generations(self, keep: str) -> None:
        """Delete every generation but `keep` (old ones, and any a crash left half-written)."""
        with self.errors("deleting old state"):
            generations = [g.decode() for g in self.client.smembers(self.root_key("all"))]
            for generation in generations:
                if generation != keep:
                    drop_generation(self, generation)

    # -- locking -------------------------------------------------------------------------------

    def locked(self) -> AbstractContextManager[None]:
        """A lock key against other whole-state writers (a short lease renewed while held),
        the appends paused meanwhile (`whole_state_lock`)."""  # noqa: D205, D209
        return whole_state_lock(self)

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
            self._scripts = None


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _count(reply: Any) -> int:
    """A count replied by Redis (None: the key is absent); an error reply is raised."""
    if isinstance(reply, Exception):
        raise reply
    return 0 if reply is None else whole(reply if isinstance(reply, bytes) else str(reply), "size")


def _members(client: Any, key: str) -> list[str]:
    """The members of the set `key`, as text."""
    return [name.decode() for name in client.sscan_iter(key, count=1000)]

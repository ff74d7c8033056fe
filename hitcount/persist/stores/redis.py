"""`redis://` and `rediss://`: one state shared by many machines, in native Redis structures.

Keys of a namespace `NS` (default `hitcount`; `?namespace=` in the URL, `--namespace` or
`HITCOUNT_NAMESPACE`):

- `{NS}:current`: the live generation G. A restore, a swap or a replay without
  `--append` writes a whole new generation, then switches this key in one `SET`:
  readers see the old state or the new one, never a mix. Old generations are deleted.
- `{NS}:gG:meta` (hash: strategy, clock, horizon, metrics), `{NS}:gG:endpoints` (set),
  `{NS}:gG:inputs` (hash: how far each input file was replayed, for `--resume`),
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
import os
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from hitcount.errors import ConfigurationError, StateError, StoreUnavailableError
from hitcount.model.globs import is_glob, matches
from hitcount.model.metrics import plain
from hitcount.persist.document import VERSION, encode, from_bytes
from hitcount.persist.stores.base import EVERYTHING, Scope, Store
from hitcount.persist.stores.redis_layout import Layout
from hitcount.persist.stores.redis_layouts import layout_for
from hitcount.persist.stores.redis_lock import leased_lock
from hitcount.persist.stores.redis_scripts import Scripts

if TYPE_CHECKING:
    from hitcount.engine import HitCounter

DEFAULT_NAMESPACE = "hitcount"
READ_CHUNK = 500  # endpoints per pipelined round trip
METRIC_FIELDS = ("total_hits", "bad_lines", "late_hits", "pruned_events", "lines_read")


def escape_tag(endpoint: str) -> str:
    """An endpoint as the inside of a hash tag: no braces, reversible."""
    return endpoint.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


class RedisStore(Store):
    """The state of one namespace on a Redis server or cluster."""

    appends_concurrently = True

    def __init__(self, url: str, namespace: str | None = None, *, timeout_s: float = 10.0):
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        chosen = namespace or _first(query.pop("namespace", None))
        self.namespace = chosen or os.environ.get("HITCOUNT_NAMESPACE") or DEFAULT_NAMESPACE
        if not self.namespace.isprintable() or set("{} ").intersection(self.namespace):
            raise ConfigurationError(
                f"invalid Redis namespace {self.namespace!r}",
                hint="use letters, digits and punctuation without braces or spaces",
            )
        rest = urllib.parse.urlencode(query, doseq=True)
        self.connect_url = urllib.parse.urlunsplit(parts._replace(query=rest))
        self.url = url
        self.timeout_s = timeout_s
        self._shown = _masked(parts)
        self._client: Any = None
        self._scripts: Scripts | None = None
        self.is_cluster = False

    def describe(self) -> str:
        """The URL without its password, and the namespace."""
        return f"{self._shown} (namespace {self.namespace})"

    # -- connection ------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """A connected client (a cluster client when the server runs in cluster mode)."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    @property
    def scripts(self) -> Scripts:
        """The Lua scripts, registered with this store's client once."""
        if self._scripts is None:
            self._scripts = Scripts(self.client, cluster=self.is_cluster)
        return self._scripts

    def _connect(self) -> Any:
        try:
            import redis
            from redis.cluster import RedisCluster
        except ImportError as err:
            raise ConfigurationError(
                "the Redis store needs the redis package",
                hint="pip install 'hitcount[redis]'",
            ) from err
        options = {"socket_timeout": self.timeout_s, "socket_connect_timeout": self.timeout_s}
        with self.errors():
            client = redis.Redis.from_url(self.connect_url, **options)
            if client.info("cluster").get("cluster_enabled"):
                client.close()
                self.is_cluster = True
                return RedisCluster.from_url(self.connect_url, **options)
            return client

    @contextmanager
    def errors(self, doing: str = "") -> Iterator[None]:
        """Turn redis-py's exceptions into one clear StoreUnavailableError."""
        import redis.exceptions as rex

        where = self._shown + (f" ({doing})" if doing else "")
        try:
            yield
        except rex.AuthenticationError as err:
            raise StoreUnavailableError(
                f"{where}: authentication failed: {err}",
                hint="check the user and password in the URL (redis://user:password@host:port/db)",
            ) from err
        except rex.TimeoutError as err:
            raise StoreUnavailableError(
                f"{where}: timed out after {plain(self.timeout_s)} s",
                hint="is the server overloaded or the network slow? try again",
            ) from err
        except rex.ConnectionError as err:
            raise StoreUnavailableError(
                f"{where}: cannot reach the server: {err}",
                hint="is redis-server running there? check host, port and TLS (rediss://)",
            ) from err
        except rex.ResponseError as err:
            if "NOAUTH" in str(err) or "WRONGPASS" in str(err):
                raise StoreUnavailableError(
                    f"{where}: authentication failed: {err}",
                    hint="put the password in the URL: redis://:password@host:port/db",
                ) from err
            raise StoreUnavailableError(f"{where}: the server refused: {err}") from err
        except rex.RedisError as err:
            raise StoreUnavailableError(f"{where}: {type(err).__name__}: {err}") from err

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
        with self.errors("reading the state"):
            value = self.client.get(self.root_key("current"))
        return value.decode() if value is not None else None

    # -- whole-state reads -----------------------------------------------------------------

    def load(self) -> bytes | None:
        """The whole state as a snapshot document (reads every endpoint)."""
        return self.load_scoped(EVERYTHING)

    def load_scoped(self, scope: Scope) -> bytes | None:
        """A state document holding only what `scope` needs: its endpoints, its window."""
        generation = self.current_generation()
        if generation is None:
            return None
        meta = self.meta(generation)
        layout = layout_for(meta["strategy"]["name"], meta["strategy"]["params"])
        endpoints = self._endpoints(generation, scope.patterns)
        if scope.last_s is None:
            parts: dict[str, Any] = {}
        else:
            end = scope.now if scope.now is not None else (meta["clock"] or 0.0)
            start = end - scope.last_s if math.isfinite(scope.last_s) else -math.inf
            parts = self._read_parts(generation, layout, endpoints, start)
        extras = meta.pop("extras")
        return encode({**meta, "state": layout.state_document(parts, extras)})

    def sizes(self) -> dict[str, int] | None:
        """Endpoints, entries and bytes (`MEMORY USAGE`) of the live state, read key by key."""
        generation = self.current_generation()
        if generation is None:
            return None
        meta = self.meta(generation)
        layout = layout_for(meta["strategy"]["name"], meta["strategy"]["params"])
        return self._sizes(generation, layout, self._endpoints(generation, None))

    def meta(self, generation: str) -> dict[str, Any]:
        """The header of a generation's state document (strategy, clock, metrics...)."""
        with self.errors("reading the state"):
            raw = self.client.hgetall(self.gen_key(generation, "meta"))
            events = self.client.lrange(self.gen_key(generation, "events"), 0, -1)
        if not raw:
            raise StateError(f"{self.describe()}: generation {generation} has no metadata")
        fields = {key.decode(): value.decode() for key, value in raw.items()}
        try:
            return {
                "format": "hitcount-snapshot",
                "version": int(fields["version"]),
                "created_at": fields.get("created_at", ""),
                "strategy": json.loads(fields["strategy"]),
                "clock": _float_or_none(fields.get("clock", "")),
                "horizon": _float_or_none(fields.get("horizon", "")),
                "max_lateness_s": float(fields["max_lateness_s"]),
                "metrics": {name: int(fields.get(f"m:{name}", 0)) for name in METRIC_FIELDS},
                "recent_events": [json.loads(event) for event in events],
                "distinct": None,
                "extras": {
                    key[2:]: float(value) for key, value in fields.items() if key.startswith("x:")
                },
            }
        except (KeyError, ValueError) as err:
            raise StateError(f"{self.describe()}: damaged metadata: {err}") from err

    def _endpoints(self, generation: str, patterns: tuple[str, ...] | None) -> list[str]:
        key = self.gen_key(generation, "endpoints")
        with self.errors("reading the state"):
            if patterns is not None and all(not is_glob(p) for p in patterns):
                found = self.client.smismember(key, list(patterns)) if patterns else []
                return [p for p, present in zip(patterns, found, strict=True) if present]
            names = sorted(name.decode() for name in self.client.sscan_iter(key, count=1000))
        if patterns is None:
            return names
        return [name for name in names if any(matches(name, p) for p in patterns)]

    def _read_parts(
        self, generation: str, layout: Layout, endpoints: list[str], start: float
    ) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        for chunk in _chunks(endpoints, READ_CHUNK):
            with self.errors("reading the state"):
                pipe = self.client.pipeline(transaction=False)
                for endpoint in chunk:
                    layout.queue_read(pipe, self.endpoint_key(generation, endpoint), start)
                replies = pipe.execute()
            step = layout.reads_per_endpoint
            for index, endpoint in enumerate(chunk):
                part = layout.state_part(replies[index * step : (index + 1) * step])
                if part is not None:
                    parts[endpoint] = part
        return parts

    def _sizes(self, generation: str, layout: Layout, endpoints: list[str]) -> dict[str, int]:
        entries = used = 0
        for chunk in _chunks(endpoints, READ_CHUNK):
            with self.errors("reading the state"):
                pipe = self.client.pipeline(transaction=False)
                for endpoint in chunk:
                    key = self.endpoint_key(generation, endpoint)
                    layout.queue_size(pipe, key)
                    pipe.memory_usage(key)
                replies = pipe.execute()
            entries += sum(int(n or 0) for n in replies[0::2])
            used += sum(int(n or 0) for n in replies[1::2])
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
        """Write a whole new generation, switch to it in one SET, delete the old ones."""
        strategy = counter.strategy
        layout = layout_for(strategy.name, strategy.params, self.scripts)
        with self.errors("writing the state"):
            generation = str(self.client.incr(self.root_key("generations")))
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
            self.client.set(self.root_key("current"), generation)
        self.drop_old_generations(generation)

    def _write_meta(self, generation: str, counter: HitCounter, layout: Layout) -> None:
        strategy = counter.strategy
        horizon = strategy.horizon
        meta = {
            "version": VERSION,
            "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "strategy": json.dumps({"name": strategy.name, "params": dict(strategy.params)}),
            "clock": "" if counter.clock is None else repr(counter.clock),
            "horizon": repr(horizon) if math.isfinite(horizon) else "",
            "max_lateness_s": repr(counter.max_lateness_s),
            **{f"m:{name}": getattr(counter.metrics, name) for name in METRIC_FIELDS},
            **{f"x:{name}": repr(value) for name, value in layout.extras_of(strategy).items()},
        }
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.gen_key(generation, "meta"), mapping=meta)
        events = [json.dumps(event) for event in counter.recent_events]
        if events:
            pipe.rpush(self.gen_key(generation, "events"), *events)
        pipe.execute()

    def drop_old_generations(self, keep: str) -> None:
        """Delete every generation but `keep` (old ones, and any a crash left half-written)."""
        with self.errors("deleting old state"):
            generations = [g.decode() for g in self.client.smembers(self.root_key("all"))]
            for generation in generations:
                if generation != keep:
                    self._drop(generation)

    def _drop(self, generation: str) -> None:
        names = [n.decode() for n in self.client.sscan_iter(self.gen_key(generation, "endpoints"))]
        for chunk in _chunks(names, READ_CHUNK):
            pipe = self.client.pipeline(transaction=False)
            for endpoint in chunk:
                pipe.unlink(self.endpoint_key(generation, endpoint))
            pipe.execute()
        for name in ("meta", "endpoints", "inputs", "events", "writers"):
            self.client.unlink(self.gen_key(generation, name))
        self.client.srem(self.root_key("all"), generation)

    # -- locking -------------------------------------------------------------------------------

    def locked(self) -> AbstractContextManager[None]:
        """A lock key against other whole-state writers: a short lease renewed while held."""
        return leased_lock(self, self.root_key("lock"))

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
            self._scripts = None


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _masked(parts: urllib.parse.SplitResult) -> str:
    if parts.password is None:
        return urllib.parse.urlunsplit(parts._replace(query=""))
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=""))


def _float_or_none(text: str) -> float | None:
    return float(text) if text else None


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

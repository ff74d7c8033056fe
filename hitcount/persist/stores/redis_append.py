"""`replay --append` into Redis: many writers at once, batch by batch, resumable.

The replay runs into a local counter whose strategy holds only the hits since the last
flush (the delta). Every `FLUSH_HITS` hits or `FLUSH_INTERVAL_S` seconds, and at the end of
each input, a flush sends the delta as one pipeline: per-endpoint commands of the
strategy's layout (atomic increments, Lua scripts), then one commit script that advances
the shared clock and horizon, adds the metrics and records how many lines of the input are
in. On a single server the pipeline is a MULTI/EXEC transaction watched on the live
generation, so a flush lands whole or not at all, and `--resume` after a lost connection
neither skips nor repeats a hit. A cluster cannot span slots in one transaction: there a
flush cut in the middle may be partly applied, and resuming may count that batch twice.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from hitcount.engine import HitCounter
from hitcount.engine.queries import RECENT_EVENTS
from hitcount.errors import InputError, StateError, StoreUnavailableError
from hitcount.model.keys import Keying
from hitcount.model.metrics import Metrics
from hitcount.model.positions import (
    InputPosition,
    find,
    is_stream,
    position_after_lines,
)
from hitcount.persist.document import encode, to_document
from hitcount.persist.stores.redis import RedisStore
from hitcount.persist.stores.redis_checks import METRIC_FIELDS, damaged
from hitcount.persist.stores.redis_extras import read_alerts, read_positions
from hitcount.persist.stores.redis_layout import ReadModifyWriteLayout
from hitcount.persist.stores.redis_layouts import layout_for
from hitcount.persist.stores.redis_lock import note_waiting, pause_key
from hitcount.persist.stores.redis_sweep import sweep_if_due
from hitcount.persist.stores.redis_users import SketchAppend, empty_tracker
from hitcount.persist.stores.redis_written import Written

FLUSH_HITS = 200_000
MAX_RETRIES = 50
FLUSH_INTERVAL_S = 1.0
PAUSE_WAIT_S = 900.0  # how long a batch waits for whole reads (`writers_paused`)
CHECK_CHUNK = 500  # keys checked per round trip before a batch is written


class RedisAppend:
    """One writer adding a replay to the live state of a Redis namespace."""

    def __init__(self, store: RedisStore, generation: str) -> None:
        self.store = store
        self.generation = generation
        meta = store.meta(generation, events=False)
        spec = meta["strategy"]
        self.layout = layout_for(spec["name"], spec["params"], store.scripts)
        self.layout.lateness_s = meta["max_lateness_s"]
        with store.errors("registering the writer"):
            self.layout.use_writer(int(store.client.incr(store.gen_key(generation, "writers"))))
        horizon = meta["horizon"] if meta["horizon"] is not None else -float("inf")
        #: The meta hash's strategy-wide fields (fixed's bucket convention), for new deltas.
        self._extras: dict[str, float] = meta["extras"]
        self.counter = HitCounter(
            self.layout.new_delta(horizon, self._extras),
            max_lateness_s=meta["max_lateness_s"],
            distinct=False,
        )
        self.counter.clock = meta["clock"]
        self.counter.alert_tracks = read_alerts(store, generation)
        self.counter.keying = Keying.from_dict(meta.get("keys"))
        #: The saved distinct-users parameters (None: the state keeps no sketches).
        self._users: dict[str, Any] | None = meta["distinct"]
        if self._users is not None:
            self.counter.distinct = empty_tracker(self._users)
        self._source: str | None = None  # the input of the last block (for messages)
        #: Hits this writer's counter kept but the stored state refused as too late (a
        #: document strategy's endpoint is further on in Redis than in the local delta).
        self.refused_hits = 0
        self._sent = Metrics()
        self._pruned_remote = 0
        self._last_flush = time.monotonic()
        self._positions: dict[str, InputPosition] = {}  # how far each input file is read
        self._saved_positions: dict[str, InputPosition] = {}  # as `saved_positions` read them
        self.landed = Written()  # what the batches that landed hold
        #: Called after each flush (the CLI notes that something was saved).
        self.on_flush: Callable[[], None] | None = None

    # -- resuming ----------------------------------------------------------------------------

    def saved_positions(self) -> dict[str, InputPosition]:
        """Every recorded input position, by real path (`redis_extras.read_positions`)."""
        self._saved_positions = read_positions(self.store, self.generation)
        return dict(self._saved_positions)

    # -- flushing ----------------------------------------------------------------------------

    def checkpoint(self, source: str, lines: int, final: bool) -> None:
        """After each block of `source` (`lines` read so far): flush when it is time."""
        self._source = source
        if is_stream(source):
            self.landed.stream_read = lines
        elif (position := self._position(source, lines)) is not None:
            self._positions[position.path] = position
            for path, other in self.counter.inputs.items():  # a rotated file's, renamed
                if path != position.path and self._saved_positions.get(path) != other:
                    self._positions[path] = other
        due = time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S
        if final or due or self.counter.metrics.total_hits - self._sent.total_hits >= FLUSH_HITS:
            self.flush(source)

    def commit_followed(self, counter: HitCounter) -> None:
        """A `--follow` commit: the delta with the followed files' positions."""
        self._positions.update(counter.inputs)
        self.flush()

    def adopt(self, counter: HitCounter) -> None:
        """Go on from `counter`, whose hits the state holds already (a follower that
        replaced the state at its first commit): it keeps only the delta from now on, its
        observers (alerts) and what it counted so far stay."""  # noqa: D205, D209
        counter.continue_with(self.counter.strategy)
        counter.distinct = self.counter.distinct
        self._sent = Metrics(**counter.metrics.as_dict())
        self.counter = counter

    def _position(self, source: str, lines: int) -> InputPosition | None:
        """`source`'s position after `lines` lines: the replay's, else found in the file."""
        position = find(self.counter.inputs, source)
        if position is not None and position.lines == lines:
            return position
        return position_after_lines(source, lines)

    def flush(self, source: str | None = None) -> None:
        """Send the delta and commit it (with how far `source` has been read)."""
        name = source if source is not None else self._source  # for the messages
        try:
            self._flush(source)
        except StoreUnavailableError as err:
            again = self.landed.again(name)
            raise StoreUnavailableError(
                f"{err.message}; {self.written(name)}",
                hint=f"{err.hint}; then {again}" if err.hint else again,
            ) from err
        except StateError as err:  # replaced: a stream is not resumed as the hint says
            if name is None or not is_stream(name) or not err.hint:
                raise
            hint = f"{self.written(name)}; {self.landed.again(name)}"
            raise StateError(err.message, hint=hint) from err
        self._last_flush = time.monotonic()
        self._sweep()
        if self.on_flush is not None:
            self.on_flush()

    def written(self, source: str | None) -> str:
        """What this replay's batches wrote so far (`Written.summary`)."""
        return self.landed.summary(source)

    def partly_written(self, err: InputError) -> InputError:
        """`err`, a bad input met after some batches landed, saying how to go on."""
        return self.landed.partly(err, self._source)

    def _sweep(self) -> None:
        """Prune the endpoints no batch touched, when it is due (`redis_sweep`)."""
        clock, tracker = self.counter.clock, self.counter.distinct
        if clock is None:
            return
        retention = self.layout.shortest_retention(clock, self.counter.strategy.horizon)
        if tracker is not None:
            retention = min(retention, tracker.retention_s)
        sweep_if_due(self.store, self.generation, self.layout, clock, retention)

    def _flush(self, source: str | None) -> None:
        started = time.monotonic()
        tries, told, held_back = 0, False, False
        while tries < MAX_RETRIES:
            if held_back:  # the next whole read lets this batch in first
                note_waiting(self.store)
            try:
                self._flush_once()
                if held_back:
                    note_waiting(self.store, landed=True)
                return
            except _ConcurrentChangeError:
                tries += 1  # another writer changed a document we read: read it again
            except _PausedError:
                held_back = True
                waited = time.monotonic() - started
                if not told and waited >= 1.0 and self.store.on_wait is not None:
                    told = True
                    self.store.on_wait(
                        f"{self.store.describe()}: waiting while a whole-state read or change"
                        " holds the appends back: a snapshot save, swap, restore, a fold of"
                        " the sketches' precision, or a replay without --append (a --follow"
                        " --trace one for as long as it runs); a killed one's hold lapses"
                        " within 10 s"
                    )
                if waited > PAUSE_WAIT_S:
                    raise StoreUnavailableError(
                        f"{self.store.describe()}: whole-state reads or changes held the"
                        f" appends back for {PAUSE_WAIT_S:.0f} s",
                        hint="retry when it is done",
                    ) from None
                time.sleep(0.05)
        raise StoreUnavailableError(
            f"{self.store.describe()}: gave up after {MAX_RETRIES} tries: other writers kept"
            " changing the same endpoints",
            hint="retry; fewer writers on the same endpoints at once would help",
        )

    def _flush_once(self) -> None:
        delta = self.counter.strategy
        endpoints = self.layout.batch_endpoints(delta)
        metrics = self.counter.metrics
        increments = {n: getattr(metrics, n) - getattr(self._sent, n) for n in METRIC_FIELDS}
        store, client, layout = self.store, self.store.client, self.layout
        current = store.root_key("current")
        keys = {endpoint: store.endpoint_key(self.generation, endpoint) for endpoint in endpoints}
        documents = list(keys.values()) if layout.needs_current else []
        tracker = self.counter.distinct
        users = SketchAppend(store, self.generation, tracker) if tracker is not None else None
        layout.start_batch()
        with store.errors("writing a batch"):
            pipe = client.pipeline(transaction=not store.is_cluster)
            values: dict[str, bytes | None] = {}
            merged: dict[str, dict[str, str]] = {}
            checked = list(keys.values()) if layout.key_type else []
            pause = pause_key(store)
            if not store.is_cluster:
                watched = (*documents, *checked, *(users.watched() if users else ()))
                pipe.watch(current, pause, *watched)
                if pipe.get(current) != self.generation.encode():
                    raise _replaced(store)
                if pipe.exists(pause):
                    raise _PausedError  # a snapshot is reading the whole state
                self._check(checked)
                values = self._read(documents)
                merged = users.merged(list(users.keys))[1] if users else {}
                pipe.multi()
            else:
                if client.exists(pause):
                    raise _PausedError
                self._check(checked)
                if documents:
                    self._compare_and_set(endpoints, keys)
                if users:
                    users.compare_and_set()  # a merge applied twice changes nothing
            prune_replies = []
            for endpoint in endpoints:
                if layout.needs_current and store.is_cluster:
                    continue  # written above
                key = keys[endpoint]
                add = partial(layout.queue_add, pipe, key, delta, endpoint, delta.horizon)
                store.checked(key, partial(add, values.get(key)))
                prune_replies.append(len(pipe) - 1)
            if held := sorted(delta.endpoints()):  # every batch: a sweep may unlist one
                pipe.sadd(store.gen_key(self.generation, "endpoints"), *held)
            if users is not None:
                users.queue_writes(pipe, merged)
            increments["pruned_events"] += self._pruned_remote
            refused = sum(layout.refused.values())
            increments["total_hits"] -= refused  # late for the stored state: not counted
            increments["late_hits"] += refused
            if self.counter.alerts is not None:  # the alert tracks, kept across runs
                pipe.set(self._alerts_key(), json.dumps(self.counter.saved_alerts()))
            meta_keys = (current, self._meta_key(), self._inputs_key())
            store.scripts.run("commit", meta_keys, self._commit_args(increments), on=pipe)
            replies = self._execute(pipe)
        if layout.needs_current:
            self._pruned_remote = sum(layout.pruned.values())
        else:
            self._pruned_remote = sum(int(replies[i] or 0) for i in prune_replies)
        self.landed.landed(increments["total_hits"], self._positions)
        self.refused_hits += refused
        self._sent = Metrics(**metrics.as_dict())
        self._catch_up(replies[-1], delta.horizon)
        self.counter.announce_switches(dict.fromkeys(layout.switched))  # a CAS retry: once
        self._save_events()

    def _save_events(self) -> None:
        """Add the notable events since the last batch (alerts, switches) to the state's
        list of recent ones, as a file store remembers them (after the batch they follow)."""  # noqa: D205, D209
        rows = [json.dumps(row) for row in self.counter.unsaved_events]
        if not rows:
            return
        key = self.store.gen_key(self.generation, "events")
        with self.store.errors("remembering events"):
            pipe = self.store.client.pipeline(transaction=False)
            pipe.rpush(key, *rows)
            pipe.ltrim(key, -RECENT_EVENTS, -1)
            pipe.execute()
        self.counter.unsaved_events.clear()

    def _check(self, keys: list[str]) -> None:
        """Refuse the batch before any write when one of `keys` is damaged (`check.lua`)."""
        import redis.exceptions as rex

        for start in range(0, len(keys), CHECK_CHUNK):
            pipe = self.store.client.pipeline(transaction=False)
            for key in keys[start : start + CHECK_CHUNK]:
                pattern = self.layout.field_pattern
                self.store.scripts.run("check", [key], [self.layout.key_type, pattern], on=pipe)
            for reply in pipe.execute(raise_on_error=False):
                if isinstance(reply, rex.ResponseError):
                    self._raise_damaged(reply)
                    raise reply

    def _raise_damaged(self, err: Exception) -> None:
        """Raise the StateError a script's `HITCOUNT_DAMAGED key: what` reply stands for."""
        if "HITCOUNT_DAMAGED " in str(err):
            key, _, what = str(err).partition("HITCOUNT_DAMAGED ")[2].partition(": ")
            raise damaged(self.store.describe(), key, what) from err

    def _read(self, keys: list[str]) -> dict[str, Any]:
        """Current values of `keys`, in one round trip (on another connection)."""
        if not keys:
            return {}
        assert isinstance(self.layout, ReadModifyWriteLayout)
        reader = self.store.client.pipeline(transaction=False)
        for key in keys:
            self.layout.queue_read_current(reader, key)
        return dict(zip(keys, reader.execute(raise_on_error=False), strict=True))

    def _compare_and_set(self, endpoints: list[str], keys: dict[str, str]) -> None:
        """Cluster: write each endpoint's new value by compare-and-set, retrying the losers."""
        layout = self.layout
        assert isinstance(layout, ReadModifyWriteLayout)
        left = list(endpoints)
        for _ in range(MAX_RETRIES):
            values = self._read([keys[endpoint] for endpoint in left])
            pipe = self.store.client.pipeline(transaction=False)
            for endpoint in left:
                key = keys[endpoint]
                apply = partial(layout.applied, values[key], self.counter.strategy, endpoint)
                change = self.store.checked(key, apply)
                layout.pruned[key] = change.pruned
                layout.queue_compare_and_set(pipe, key, values[key], change)
            done = pipe.execute()
            left = [endpoint for endpoint, ok in zip(left, done, strict=True) if not ok]
            if not left:
                return
        raise _ConcurrentChangeError

    def _execute(self, pipe: Any) -> list[Any]:
        import redis.exceptions as rex

        try:
            return list(pipe.execute())
        except rex.WatchError as err:
            if self.store.current_generation() != self.generation:
                raise _replaced(self.store) from err
            raise _ConcurrentChangeError from err
        except rex.ResponseError as err:
            if "HITCOUNT_REPLACED" in str(err):
                raise _replaced(self.store) from err
            self._raise_damaged(err)
            raise

    def _commit_args(self, increments: dict[str, int]) -> list[str]:
        clock = self.counter.clock
        delta = self.counter.strategy
        times = {"clock": clock, "horizon": delta.horizon}
        if self.counter.distinct is not None:
            times["d:horizon"] = self.counter.distinct.horizon
        times.update({f"x:{name}": value for name, value in self.layout.extras_of(delta).items()})
        raised = [(name, repr(value)) for name, value in times.items() if _finite(value)]
        args = [self.generation, str(len(raised)), *(part for pair in raised for part in pair)]
        args.append(str(len(self._positions)))
        for path, position in self._positions.items():
            args += [path, json.dumps(position.to_dict())]
        for name, amount in increments.items():
            if amount:
                args += [f"m:{name}", str(amount)]
        return args

    def _catch_up(self, reply: list[Any], horizon: float) -> None:
        """Take the shared clock and horizon (other writers move them too); empty the delta."""
        clock_raw, horizon_raw, users_raw = (value.decode() if value else "" for value in reply)
        if clock_raw:
            shared = float(clock_raw)
            self.counter.clock = max(self.counter.clock or shared, shared)
        if horizon_raw:
            horizon = max(horizon, float(horizon_raw))
        self.counter.continue_with(self.layout.new_delta(horizon, self._extras))
        tracker = self.counter.distinct
        if self._users is not None and tracker is not None:
            fresh = empty_tracker(self._users)
            fresh.horizon = max(tracker.horizon, float(users_raw) if users_raw else -math.inf)
            self.counter.distinct = fresh

    def _alerts_key(self) -> str:
        return self.store.gen_key(self.generation, "alerts")

    def _meta_key(self) -> str:
        return self.store.gen_key(self.generation, "meta")

    def _inputs_key(self) -> str:
        return self.store.gen_key(self.generation, "inputs")


@contextmanager
def appending(store: RedisStore, create: Callable[[], HitCounter]) -> Iterator[RedisAppend]:
    """A writer on the live state (created from `create()` when nothing is saved yet).

    What was flushed stays when the block fails; the hits counted since the last flush are
    dropped then, so the recorded input positions stay exact for `--resume`.
    """
    generation = store.current_generation()
    if generation is None:
        with store.locked():
            generation = store.current_generation()
            if generation is None:
                store.save(encode(to_document(create(), compact=True)))
                generation = store.current_generation()
    assert generation is not None
    session = RedisAppend(store, generation)
    yield session
    session.flush()


class _ConcurrentChangeError(Exception):
    """A document this batch read was changed by another writer before it was written."""


class _PausedError(Exception):
    """A whole read holds the appends back (`redis_lock.writers_paused`): wait, retry."""


def _finite(value: float | None) -> bool:
    return value is not None and value not in (float("inf"), -float("inf"))


def _replaced(store: RedisStore) -> StateError:
    return StateError(
        f"{store.describe()}: the state was replaced during this replay (a restore, swap,"
        " precision fold or replay without --append)",
        hint="a swap or fold keeps the batches written before, a restore or replay does not;"
        " replay again with --append --resume (or --follow --append): it goes on after the"
        " lines the state holds",
    )

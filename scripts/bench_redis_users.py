#!/usr/bin/env python3
"""Distinct-user sketches on Redis: three designs measured on the same hits, same run.

A private ``redis-server`` (no persistence, a free port) receives ``--hits`` generated hits
(``--endpoints`` endpoints, ``--users`` users, over ``--span`` seconds, in time order) in
``--batches`` batches, as ``replay --append`` flushes them, into one sketch per (endpoint,
minute) by each design:

* ``redis-hll``: Redis's own HyperLogLog. Each batch's users of each (endpoint, minute) go in
  one ``PFADD`` (pipelined); a query is one ``PFCOUNT`` over the window's minute keys (Redis
  merges them). Redis hashes with its own MurmurHash64A at precision 14 (12 KiB dense): the
  registers cannot be turned into hitcount's (BLAKE2b, precision 4..16), so such a state could
  not be saved as a snapshot, merged with a file state, nor answer as the file store does;
* ``lua-max``: hitcount's sketches, registers merged on the server by a Lua script: the client
  builds each batch's sketches (``DistinctTracker``) and sends each one's dense registers
  (``HyperLogLog.registers()``, 2^p bytes); the script keeps the register-wise maximum
  (``string.byte`` per register). A query reads the window's registers and estimates locally;
* ``hitcount`` (the store's design, ``persist/stores/redis_users.py``): hitcount's sketches in
  their saved form, merged by the client through ``DistinctTracker.from_state``/``merge``: the
  batch's keys are WATCHed, the touched minutes read (``HMGET``), merged and written in one
  MULTI/EXEC. A query is the store's own scoped read and ``query_distinct``.

Printed per design: seconds to write all batches (client work included: building the
sketches for the last two, grouping users for the first), the median of ``--queries`` reads
of one endpoint's last hour, Redis memory of the sketches, and the estimate of that query
against the brute-force truth and against the file store's answer (a ``HitCounter`` holding
every hit, the oracle of the whole test suite). ``--writers N`` also runs N processes at
once, each appending its share of the batches, and reports their wall time.

Examples::

    python scripts/bench_redis_users.py
    python scripts/bench_redis_users.py --hits 1000000 --users 100000 --writers 4

Needs ``redis-server`` on PATH and hitcount with the ``redis`` package in this Python.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_redis import start_redis

from hitcount import HitCounter, save_counter
from hitcount.persist.stores.redis import RedisStore
from hitcount.persist.stores.redis_users import (
    SketchAppend,
    empty_tracker,
    read_scoped,
)
from hitcount.sketches.distinct import DistinctTracker
from hitcount.sketches.hll import HyperLogLog

Hit = tuple[str, float, str]
LUA_MAX = """
local new, old = ARGV[2], redis.call('HGET', KEYS[1], ARGV[1])
if not old then redis.call('HSET', KEYS[1], ARGV[1], new) return 1 end
local out = {}
for i = 1, #new do
  local a, b = string.byte(old, i), string.byte(new, i)
  out[i] = string.char(a > b and a or b)
end
redis.call('HSET', KEYS[1], ARGV[1], table.concat(out))
return 1
"""
T0 = 1.8e9


def make_hits(count: int, endpoints: int, users: int, span: float, seed: int) -> list[Hit]:
    """Hits in time order; endpoint popularity skewed (1/rank), users drawn uniformly."""
    rng = random.Random(seed)
    names = [f"/e{i}" for i in range(endpoints)]
    weights = [1.0 / (i + 1) for i in range(endpoints)]
    stamps = sorted(T0 + rng.uniform(0, span) for _ in range(count))
    chosen = rng.choices(names, weights, k=count)
    return [(ep, ts, f"u{rng.randrange(users)}") for ep, ts in zip(chosen, stamps, strict=True)]


def batches_of(hits: list[Hit], count: int) -> list[list[Hit]]:
    size = -(-len(hits) // count)
    return [hits[i : i + size] for i in range(0, len(hits), size)]


def minute(ts: float) -> int:
    return int(ts // 60)


# -- writers ---------------------------------------------------------------------------------


def write_redis_hll(client: redis.Redis, batch: list[Hit]) -> None:
    groups: dict[tuple[str, int], set[str]] = defaultdict(set)
    for ep, ts, user in batch:
        groups[(ep, minute(ts))].add(user)
    pipe = client.pipeline(transaction=True)
    for (ep, bucket), users in groups.items():
        pipe.pfadd(f"pf:{{{ep}}}:{bucket}", *users)
    pipe.execute()


def tracker_of(batch: list[Hit], precision: int) -> DistinctTracker:
    tracker = DistinctTracker(precision=precision)
    tracker.add_grouped((ep, tracker.bucket_of(ts), user) for ep, ts, user in batch)
    return tracker


def write_lua_max(client: redis.Redis, batch: list[Hit], precision: int) -> None:
    state = tracker_of(batch, precision).to_state()["endpoints"]
    script = client.register_script(LUA_MAX)
    pipe = client.pipeline(transaction=True)
    for ep, buckets in state.items():
        for bucket, text in buckets.items():
            registers = HyperLogLog.from_base64(text).registers()
            script(keys=[f"lua:{{{ep}}}"], args=[bucket, registers], client=pipe)
    pipe.execute()


def write_hitcount(store: RedisStore, generation: str, batch: list[Hit], precision: int) -> None:
    tracker = empty_tracker(
        {"bucket_s": 60.0, "precision": precision, "retention_s": 86400.0, "horizon": None}
    )
    tracker.add_grouped((ep, tracker.bucket_of(ts), user) for ep, ts, user in batch)
    users = SketchAppend(store, generation, tracker)
    for _ in range(100):
        pipe = store.client.pipeline(transaction=True)
        try:
            pipe.watch(*users.watched())
            merged = users.merged(list(users.keys))[1]
            pipe.multi()
            users.queue_writes(pipe, merged)
            pipe.execute()
            return
        except redis.WatchError:
            continue
        finally:
            pipe.reset()
    raise RuntimeError("gave up after 100 retries")


# -- queries ---------------------------------------------------------------------------------


def hour(end: float) -> range:
    """The minutes of the hour before `end` (a minute boundary)."""
    return range(minute(end) - 60, minute(end))


def query_redis_hll(client: redis.Redis, ep: str, end: float) -> float:
    return float(client.pfcount(*(f"pf:{{{ep}}}:{b}" for b in hour(end))))


def query_lua_max(client: redis.Redis, ep: str, end: float, precision: int) -> float:
    import numpy as np

    found = [raw for raw in client.hmget(f"lua:{{{ep}}}", [str(b) for b in hour(end)]) if raw]
    ranks = np.maximum.reduce([np.frombuffer(cast(bytes, raw), dtype=np.uint8) for raw in found])
    indexes = np.nonzero(ranks)[0].astype(np.int64)
    sketch = HyperLogLog(precision)
    sketch.add_registers(indexes, ranks[indexes].copy())
    return sketch.estimate()


def query_hitcount(store: RedisStore, ep: str, end: float) -> float:
    generation = store.current_generation() or ""
    parameters = store.meta(generation)["distinct"]
    saved = read_scoped(store, generation, parameters, (ep,), (end - 3600, end))
    assert saved is not None
    return DistinctTracker.from_state(saved).query(ep, end - 3600, end).estimate


# -- running ---------------------------------------------------------------------------------


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def memory(client: redis.Redis, pattern: str) -> int:
    return sum(int(client.memory_usage(k) or 0) for k in client.scan_iter(match=pattern))


def _writer(design: str, port: int, generation: str, batches: list[list[Hit]], p: int) -> None:
    client = redis.Redis(port=port)
    store = RedisStore(f"redis://127.0.0.1:{port}/0", namespace="bench")
    for batch in batches:
        if design == "redis-hll":
            write_redis_hll(client, batch)
        elif design == "lua-max":
            write_lua_max(client, batch, p)
        else:
            write_hitcount(store, generation, batch, p)


def run(args: argparse.Namespace, port: int) -> None:
    client = redis.Redis(port=port)
    hits = make_hits(args.hits, args.endpoints, args.users, args.span, args.seed)
    batches = batches_of(hits, args.batches)
    p = args.precision
    store = RedisStore(f"redis://127.0.0.1:{port}/0", namespace="bench")
    oracle = HitCounter("fixed", distinct_precision=p, max_lateness_s=1e9)
    for ep, ts, user in hits:
        oracle.record(ep, ts, user)
    end = (minute(hits[-1][1]) + 1) * 60.0  # a minute boundary: whole minutes in the hour
    ep = "/e0"
    truth = len({u for e, ts, u in hits if e == ep and end - 3600 < ts <= end})
    expected = oracle.query_distinct(ep, 3600, end).answer.estimate
    print(f"# {len(hits):,} hits, {args.endpoints} endpoints, {args.users:,} users,"
          f" {args.span:.0f} s, {len(batches)} batches, precision {p} (Redis HLL: 14)")  # fmt: skip
    print(f"# query: distinct users of {ep} in the last hour; truth {truth:,},"
          f" file store {expected:,.2f}")  # fmt: skip
    print(f"{'design':<10} {'write s':>8} {'query ms':>9} {'memory KiB':>11} {'estimate':>10}"
          f" {'error':>7}  same as file store")  # fmt: skip
    for design in ("redis-hll", "lua-max", "hitcount"):
        client.flushdb()
        save_counter(store, HitCounter("fixed", distinct_precision=p, max_lateness_s=1e9))
        generation = store.current_generation() or ""
        write = partial_writer(design, client, store, generation, p)
        seconds = 0.0
        for batch in batches:
            start = time.perf_counter()
            write(batch)
            seconds += time.perf_counter() - start
        query = partial_query(design, client, store, ep, end, p)
        samples = [timed(query) for _ in range(args.queries)]
        estimate = samples[0][1]
        median_ms = statistics.median(s for s, _ in samples) * 1000
        used = memory(client, {"redis-hll": "pf:*", "lua-max": "lua:*"}.get(design, "bench:g*"))
        same = "yes" if abs(estimate - expected) < 1e-6 * max(1.0, expected) else "no"
        error = (estimate - truth) / truth if truth else 0.0
        print(f"{design:<10} {seconds:>8.2f} {median_ms:>9.2f} {used / 1024:>11,.0f}"
              f" {estimate:>10,.2f} {error:>+7.2%}  {same}")  # fmt: skip
    if args.writers > 1:
        print(f"# {args.writers} writer processes at once, each a share of the batches")
        for design in ("redis-hll", "lua-max", "hitcount"):
            client.flushdb()
            save_counter(store, HitCounter("fixed", distinct_precision=p, max_lateness_s=1e9))
            generation = store.current_generation() or ""
            shares = [batches[i :: args.writers] for i in range(args.writers)]
            procs = [
                multiprocessing.Process(target=_writer, args=(design, port, generation, s, p))
                for s in shares
            ]
            start = time.perf_counter()
            for proc in procs:
                proc.start()
            for proc in procs:
                proc.join()
            wall = time.perf_counter() - start
            estimate = partial_query(design, client, store, ep, end, p)()
            same = "yes" if abs(estimate - expected) < 1e-6 * max(1.0, expected) else "no"
            print(f"{design:<10} {wall:>8.2f} s wall   estimate {estimate:,.2f}  {same}")


def partial_writer(
    design: str, client: redis.Redis, store: RedisStore, generation: str, p: int
) -> Callable[[list[Hit]], None]:
    if design == "redis-hll":
        return lambda batch: write_redis_hll(client, batch)
    if design == "lua-max":
        return lambda batch: write_lua_max(client, batch, p)
    return lambda batch: write_hitcount(store, generation, batch, p)


def partial_query(
    design: str, client: redis.Redis, store: RedisStore, ep: str, end: float, p: int
) -> Callable[[], float]:
    if design == "redis-hll":
        return lambda: query_redis_hll(client, ep, end)
    if design == "lua-max":
        return lambda: query_lua_max(client, ep, end, p)
    return lambda: query_hitcount(store, ep, end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hits", type=int, default=200_000)
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--span", type=float, default=3 * 3600.0)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--precision", type=int, default=12)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--writers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    args = parser.parse_args()
    print("$ python scripts/bench_redis_users.py " + " ".join(sys.argv[1:]))
    with tempfile.TemporaryDirectory() as workdir:
        proc, port = start_redis(args.redis_server, Path(workdir))
        try:
            run(args, port)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()

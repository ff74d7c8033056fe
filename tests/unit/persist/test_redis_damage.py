"""Damaged Redis data: each command reading it exits 4 naming the key, never 1 or wrong.

A replay without --append replaces it.

Each case writes, with plain redis-py, a value hitcount could not have written into a
real state, then runs the commands that read that key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from hitcount.persist.stores import store_from_url
from hitcount.persist.stores.redis import RedisStore
from tests.cli_helpers import run
from tests.conftest import SAMPLES, fresh_namespace

pytestmark = pytest.mark.redis

SAMPLE = str(SAMPLES / "web.ndjson")
Damage = Callable[[Any, str, str], str]  # (client, namespace, generation) -> damaged key


def _endpoint(namespace: str, generation: str) -> str:
    return f"{namespace}:g{generation}:{{/}}"


def _meta(namespace: str, generation: str) -> str:
    return f"{{{namespace}}}:g{generation}:meta"


def _users(namespace: str, generation: str) -> str:
    return f"{namespace}:g{generation}:{{/}}:users"


def _last_minute(value: str) -> Damage:
    """The sketch of `/`'s last minute (read by a query of the last hour and by an append)."""

    def damage(client: Any, ns: str, gen: str) -> str:
        client.hset(_users(ns, gen), str(max(map(int, client.hkeys(_users(ns, gen))))), value)
        return _users(ns, gen)

    return damage


def _set_bucket(value: str) -> Damage:
    def damage(client: Any, ns: str, gen: str) -> str:
        key = _endpoint(ns, gen)
        client.hset(key, client.hkeys(key)[0], value)
        return key

    return damage


def _hset(field: str, value: str, key: Callable[[str, str], str] = _endpoint) -> Damage:
    def damage(client: Any, ns: str, gen: str) -> str:
        client.hset(key(ns, gen), field, value)
        return key(ns, gen)

    return damage


def _replace_by_string(key: Callable[[str, str], str]) -> Damage:
    def damage(client: Any, ns: str, gen: str) -> str:
        client.delete(key(ns, gen))
        client.set(key(ns, gen), "x")
        return key(ns, gen)

    return damage


def _current(value: str) -> Damage:
    def damage(client: Any, ns: str, gen: str) -> str:
        client.set(f"{{{ns}}}:current", value)
        return f"{{{ns}}}:current"

    return damage


def _event(client: Any, ns: str, gen: str) -> str:
    client.rpush(f"{{{ns}}}:g{gen}:events", "{")
    return f"{{{ns}}}:g{gen}:events"


def _infinite_stamp(client: Any, ns: str, gen: str) -> str:
    client.zadd(_endpoint(ns, gen), {"zz": float("inf")})
    return _endpoint(ns, gen)


def _strategy(spec: object) -> Damage:
    return _hset("strategy", json.dumps(spec), _meta)


CASES: dict[str, tuple[str, Damage, tuple[str, ...]]] = {
    # name: (strategy, damage, commands that must refuse it)
    "bucket abc": ("fixed", _set_bucket("abc"), ("query", "append")),
    "bucket -5": ("fixed", _set_bucket("-5"), ("query", "append")),
    "bucket field xyz": ("fixed", _hset("xyz", "3"), ("query", "append")),
    "endpoint key a string": (
        "fixed",
        _replace_by_string(_endpoint),
        ("query", "metrics", "append"),
    ),
    "strategy without params": (
        "fixed",
        _strategy({"name": "fixed"}),
        ("query", "metrics", "append"),
    ),
    "strategy bad params": (
        "fixed",
        _strategy({"name": "fixed", "params": {"w": 1}}),
        ("query", "append"),
    ),
    "strategy unknown": ("fixed", _strategy({"name": "zzz", "params": {}}), ("query", "append")),
    "strategy not json": ("fixed", _hset("strategy", "{", _meta), ("query", "metrics", "append")),
    "clock NaN": ("fixed", _hset("clock", "nan", _meta), ("query", "metrics", "append")),
    "clock inf": ("fixed", _hset("clock", "inf", _meta), ("query", "metrics", "append")),
    "horizon abc": ("fixed", _hset("horizon", "abc", _meta), ("query", "metrics", "append")),
    "metric -3": ("fixed", _hset("m:total_hits", "-3", _meta), ("query", "metrics", "append")),
    "lateness -1": ("fixed", _hset("max_lateness_s", "-1", _meta), ("query", "metrics", "append")),
    "version 99": ("fixed", _hset("version", "99", _meta), ("query", "metrics", "append")),
    "event not json": ("fixed", _event, ("query", "metrics", "append")),
    "meta a string": ("fixed", _replace_by_string(_meta), ("query", "metrics", "append")),
    "current abc": ("fixed", _current("abc"), ("query", "metrics", "append")),
    "current 999": ("fixed", _current("999"), ("query", "metrics", "append")),
    "endpoints a string": (
        "fixed",
        _replace_by_string(lambda ns, gen: f"{{{ns}}}:g{gen}:endpoints"),
        ("query", "metrics", "append"),
    ),
    "timestamp inf": ("sliding", _infinite_stamp, ("query",)),
    "level abc": ("morris", _hset("0", "abc"), ("query", "append")),
    "level -1": ("morris", _hset("0", "-1"), ("query", "append")),
    "counter index 77": ("morris", _hset("77", "1"), ("query", "append")),
    "tier 7": ("tiered", _hset("7:3", "1"), ("query", "append")),
    "tier field abc": ("tiered", _hset("abc", "1"), ("query", "append")),
    "tier extras abc": ("tiered", _hset("x:fine", "abc", _meta), ("query", "metrics", "append")),
    "document not json": ("ehist", _hset("doc", "{"), ("query", "append")),
    "sketch not base64": ("fixed", _last_minute("!!"), ("distinct", "append")),
    "sketch not a sketch": ("fixed", _last_minute("SExMMQ=="), ("distinct", "append")),
    "sketch of precision 10": (
        "fixed",
        _last_minute(base64.b64encode(b"HLL1\x0a\x00\x00\x00\x00\x00").decode()),
        ("distinct", "append"),
    ),
    "sketch bucket abc": ("fixed", _hset("abc", "x", _users), ("snapshot",)),
    "users key a string": ("fixed", _replace_by_string(_users), ("distinct", "append")),
    "distinct precision 99": (
        "fixed",
        _hset("d:precision", "99", _meta),
        ("query", "metrics", "append"),
    ),
    "distinct bucket width 0": ("fixed", _hset("d:bucket_s", "0", _meta), ("query", "append")),
    "keys not json": ("fixed", _hset("keys", "{", _meta), ("query", "metrics", "append")),
    "keys without a field": (
        "fixed",
        _hset("keys", json.dumps({"key": "plain"}), _meta),
        ("query", "metrics", "append"),
    ),
    "document an array": ("ehist", _hset("doc", "[1, 2]"), ("query", "append")),
}
COMMANDS = {
    "query": ["query", "/", "--last", "1h"],
    "distinct": ["query", "/", "--last", "1h", "--distinct"],  # reads the users' sketches
    "snapshot": ["snapshot", "save", "-"],
    "metrics": ["metrics"],
    "append": ["replay", "--append", "--again", SAMPLE],  # the file the state was built from
}


@pytest.fixture(params=["server", "cluster"])
def url(request: pytest.FixtureRequest) -> str:
    """A Redis URL with a fresh namespace: a single server, then a cluster."""
    server = "redis_url" if request.param == "server" else "redis_cluster_url"
    base = request.getfixturevalue(server)
    return f"{base}?namespace={fresh_namespace()}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_data_is_exit_4_naming_the_key(url: str, case: str) -> None:
    strategy, damage, commands = CASES[case]
    assert run(["--store", url, "replay", "-s", strategy, SAMPLE]).exit_code == 0
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    generation = store.current_generation()
    assert generation is not None
    key = damage(store.client, store.namespace, generation)
    for command in commands:
        result = run(["--store", url, *COMMANDS[command]])
        assert result.exit_code == 4, (command, result.stderr)
        first = result.stderr.splitlines()[0]
        assert f"the key {key} is damaged" in first, (command, first)
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    replaced = run(["--store", url, "replay", "-s", strategy, SAMPLE])  # starts over
    assert replaced.exit_code == 0, replaced.stderr
    metrics = json.loads(run(["--store", url, "metrics", "--json"]).stdout)
    assert metrics["total_hits"] == 20_000  # the sample's lines, each a hit

"""Distinct users, keys and filters on Redis, against real servers (a server and a cluster).

Oracles: the file store's answers on the same input (the rest of the suite checks those
against brute force), and a brute-force set of users per window, which must lie within the
distinct answer's bounds.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, load_counter, save_counter
from hitcount.persist.stores import store_from_url
from hitcount.persist.stores.redis import RedisStore
from hitcount.persist.stores.redis_append import appending
from hitcount.persist.stores.redis_users import users_key
from tests.cli_helpers import ok, run
from tests.conftest import REAL_LOGS, SAMPLES, fresh_namespace
from tests.unit.persist.test_redis import _append_at_once

pytestmark = pytest.mark.redis

SAMPLE = SAMPLES / "web.ndjson"
NGINX = REAL_LOGS / "elastic_nginx_logs_2015-05.log.gz"


@pytest.fixture(params=["server", "cluster"])
def url(request: pytest.FixtureRequest) -> str:
    """A Redis URL with a fresh namespace: a single server, then a cluster."""
    server = "redis_url" if request.param == "server" else "redis_cluster_url"
    return f"{request.getfixturevalue(server)}?namespace={fresh_namespace()}"


def _json(store: str, *args: str) -> Any:
    return json.loads(ok(["--store", store, *args, "--json"]).stdout)


def _distinct_answers(store: str) -> tuple[Any, ...]:
    return (
        _json(store, "query", "/api/*", "--last", "10m", "--distinct"),
        _json(store, "query", "/", "--last", "2h", "--distinct"),
        _json(store, "query", "*", "--last", "30d", "--distinct"),
        _json(store, "top", "--by", "distinct", "--last", "1h", "--limit", "60"),
    )


def _users_in(lines: list[dict[str, Any]], glob_prefix: str, start: float, end: float) -> int:
    """Brute force: distinct users of endpoints starting with `glob_prefix` in (start, end]."""
    return len(
        {
            line["user"]
            for line in lines
            if line["endpoint"].startswith(glob_prefix) and start < line["ts"] <= end
        }
    )


def _split(tmp_path: Path, parts: int) -> list[Path]:
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    paths = [tmp_path / f"part{i}.ndjson" for i in range(parts)]
    for i, path in enumerate(paths):
        path.write_bytes(b"".join(lines[i::parts]))  # interleaved: every part is late somewhere
    return paths


@pytest.mark.parametrize("strategy", ["fixed", "sliding", "morris", "ehist"])
def test_distinct_users_answer_as_the_file_store_and_hold_the_truth(
    url: str, tmp_path: Path, strategy: str
) -> None:
    file_state = str(tmp_path / "state.json")
    for store in (url, file_state):
        ok(["--store", store, "replay", "-s", strategy, str(SAMPLE)])
    assert _distinct_answers(url) == _distinct_answers(file_state)
    lines = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    clock = max(line["ts"] for line in lines)
    answer = _json(url, "query", "/api/*", "--last", "10m", "--distinct")
    truth = _users_in(lines, "/api/", clock - 600, clock)
    assert answer["distinct_low"] <= truth <= answer["distinct_high"]
    assert abs(answer["distinct"] - truth) <= 0.05 * truth


@pytest.mark.parametrize("strategy", ["fixed", "sliding", "ehist"])
def test_appends_in_parts_keep_the_users_of_one_replay(
    url: str, tmp_path: Path, strategy: str
) -> None:
    parts = _split(tmp_path, 3)
    ok(["--store", url, "replay", "-s", strategy, "--max-lateness", "1e6", str(parts[0])])
    for part in parts[1:]:
        ok(["--store", url, "replay", "--append", str(part)])
    whole = str(tmp_path / "whole.json")
    ok(["--store", whole, "replay", "-s", strategy, "--max-lateness", "1e6", str(SAMPLE)])
    assert _distinct_answers(url) == _distinct_answers(whole)


def test_concurrent_writers_keep_the_users_of_one_replay(url: str, tmp_path: Path) -> None:
    """Three processes append thirds of a real nginx log at once: no sketch update is lost."""
    lines = gzip.decompress(NGINX.read_bytes()).splitlines(keepends=True)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"nginx{i}.log")
        paths[-1].write_bytes(b"".join(lines[i::3]))  # the same endpoints and minutes at once
    save_counter(store_from_url(url), HitCounter("sliding", max_window_s=1e9, max_lateness_s=1e9))
    _append_at_once(url, paths, "--format", "combined")
    whole = str(tmp_path / "whole.json")
    ok(["--store", whole, "replay", "-s", "sliding", "--max-window", "1e9", "--max-lateness",
        "1e9", "--format", "combined", *map(str, paths)])  # fmt: skip
    for args in (["query", "*", "--last", "400d"], ["top", "--by", "distinct", "--last", "400d"]):
        assert _json(url, *args, "--distinct" if args[0] == "query" else "--limit=30") == _json(
            whole, *args, "--distinct" if args[0] == "query" else "--limit=30"
        )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    strategy=st.sampled_from(["fixed", "sliding", "tiered", "morris", "auto"]),
    precision=st.integers(4, 16),
    parts=st.integers(1, 4),
    window=st.sampled_from([60.0, 300.0, 3600.0, 86400.0]),
    users=st.integers(1, 400),
    seed=st.integers(0, 2**16),
)
def test_appended_sketches_equal_one_counter_whatever_the_parameters(
    redis_url: str, strategy: str, precision: int, parts: int, window: float, users: int, seed: int
) -> None:
    import random

    rng = random.Random(seed)
    hits = [
        (rng.choice(["/a", "/b", "/c/d"]), 1.8e9 + rng.uniform(0, 7200), f"u{rng.randrange(users)}")
        for _ in range(600)
    ]
    store = store_from_url(redis_url, namespace=fresh_namespace())
    made = dict(max_lateness_s=1e5, distinct_precision=precision)
    save_counter(store, HitCounter(strategy, **made))
    assert isinstance(store, RedisStore)
    for part in range(parts):
        with appending(store, lambda: HitCounter(strategy)) as session:
            for endpoint, ts, user in hits[part::parts]:
                session.counter.record(endpoint, ts, user)
    oracle = HitCounter(strategy, **made)
    for endpoint, ts, user in sorted(hits, key=lambda hit: hit[1]):
        oracle.record(endpoint, ts, user)
    loaded = load_counter(store)
    for pattern in ("/a", "*", "/c/*"):
        assert loaded.query_distinct(pattern, window) == oracle.query_distinct(pattern, window)
    clock = max(ts for _, ts, _ in hits)
    truth = len({user for endpoint, ts, user in hits if clock - window < ts <= clock})
    answer = loaded.query_distinct("*", window).answer
    assert answer.low <= truth <= (answer.high if answer.complete else math.inf)


def test_a_damaged_sketch_stops_an_append_before_anything_is_written(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitcount.persist.stores import redis_append

    monkeypatch.setattr(redis_append, "FLUSH_INTERVAL_S", 1e9)  # the whole input: one batch
    url = f"{redis_url}?namespace={fresh_namespace()}"
    ok(["--store", url, "replay", "-s", "fixed", str(SAMPLE)])
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    generation = store.current_generation()
    assert generation is not None
    key = users_key(store, generation, "/")
    last = max(store.client.hkeys(key), key=int)
    store.client.hset(key, last, "not a sketch")
    before = _contents(store)
    appended = run(["--store", url, "replay", "--append", "--again", str(SAMPLE)])
    assert appended.exit_code == 4, appended.stderr
    assert f"the key {key} is damaged" in appended.stderr.splitlines()[0]
    after = _contents(store)
    assert after.keys() - before.keys() <= {store.gen_key(generation, "writers").encode()}
    assert {k: v for k, v in after.items() if k in before} == before  # nothing written
    assert _json(url, "metrics")["total_hits"] == 20_000
    queried = run(["--store", url, "query", "/", "--last", "1h", "--distinct"])
    assert queried.exit_code == 4 and f"the key {key} is damaged" in queried.stderr


@pytest.mark.parametrize(
    ("strategy", "damage"),
    [
        ("fixed", lambda client, key: client.hset(key, "abc", "1")),
        ("fixed", lambda client, key: client.hset(key, max(client.hkeys(key)), "-5")),
        ("tiered", lambda client, key: client.hset(key, "7:3", "1")),
        ("sliding", lambda client, key: (client.delete(key), client.set(key, "x"))),
        ("morris", lambda client, key: client.hset(key, "0", "abc")),
        ("ehist", lambda client, key: client.hset(key, "doc", "{")),
    ],
)
def test_a_damaged_endpoint_key_lets_no_part_of_a_batch_in(
    url: str, monkeypatch: pytest.MonkeyPatch, strategy: str, damage: Any
) -> None:
    """The batch also adds to healthy endpoints and commits metrics: none of it may land."""
    from hitcount.persist.stores import redis_append

    monkeypatch.setattr(redis_append, "FLUSH_INTERVAL_S", 1e9)  # the whole input: one batch
    ok(["--store", url, "replay", "-s", strategy, "--max-lateness", "1e6", str(SAMPLE)])
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    generation = store.current_generation()
    assert generation is not None
    key = store.endpoint_key(generation, "/")
    damage(store.client, key)
    before = _contents(store)
    appended = run(["--store", url, "replay", "--append", "--again", str(SAMPLE)])
    assert appended.exit_code == 4, appended.stderr
    assert f"the key {key} is damaged" in appended.stderr.splitlines()[0]
    after = _contents(store)
    assert after.keys() - before.keys() <= {store.gen_key(generation, "writers").encode()}
    assert {k: v for k, v in after.items() if k in before} == before  # nothing written


def _contents(store: RedisStore) -> dict[bytes, Any]:
    """Every key of the namespace but the lock, with its value (by type)."""
    client, found = store.client, {}
    keys = client.scan_iter(match=f"*{store.namespace}*")
    if store.is_cluster:
        keys = client.scan_iter(match=f"*{store.namespace}*", target_nodes="primaries")
    read = {
        b"hash": client.hgetall,
        b"zset": lambda key: client.zrange(key, 0, -1, withscores=True),
        b"set": client.smembers,
        b"list": lambda key: client.lrange(key, 0, -1),
        b"string": client.get,
    }
    for key in keys:
        if not key.endswith(b":lock"):
            found[key] = read[client.type(key)](key)
    return found


def test_appends_prune_old_minutes_from_the_keys_they_touch(redis_url: str, tmp_path: Path) -> None:
    url = f"{redis_url}?namespace={fresh_namespace()}"
    early = tmp_path / "early.ndjson"
    late = tmp_path / "late.ndjson"
    early.write_text("".join(f'{{"endpoint": "/", "ts": {1.8e9 + i}, "user": "u{i}"}}\n'
                             for i in range(0, 600, 7)))  # fmt: skip
    late.write_text('{"endpoint": "/", "ts": 1800010000.0, "user": "v"}\n')
    ok(["--store", url, "replay", "-s", "fixed", "--retention", "300", "--max-lateness", "0",
        str(early)])  # fmt: skip
    ok(["--store", url, "replay", "--append", str(late)])
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    generation = store.current_generation()
    assert generation is not None
    buckets = sorted(int(b) for b in store.client.hkeys(users_key(store, generation, "/")))
    assert buckets == [int(1800010000.0 // 60)]
    file_state = str(tmp_path / "state.json")
    ok(["--store", file_state, "replay", "-s", "fixed", "--retention", "300", "--max-lateness",
        "0", str(early), str(late)])  # fmt: skip
    answer = _json(url, "query", "/", "--last", "5m", "--distinct")
    assert answer == _json(file_state, "query", "/", "--last", "5m", "--distinct")
    assert answer["distinct_low"] <= 1 <= answer["distinct_high"] and round(answer["distinct"]) == 1


# -- keys, filters and --decode-paths -------------------------------------------------------


def test_keys_and_filters_are_remembered_and_answer_as_the_file_store(
    url: str, tmp_path: Path
) -> None:
    options = ["--key", "{status_class} {method}", "--where", "status>=300", "--decode-paths"]
    lines = gzip.decompress(NGINX.read_bytes()).splitlines(keepends=True)
    halves = [tmp_path / "a.log", tmp_path / "b.log"]
    halves[0].write_bytes(b"".join(lines[: len(lines) // 2]))
    halves[1].write_bytes(b"".join(lines[len(lines) // 2 :]))
    whole = str(tmp_path / "whole.json")
    fmt = ["--format", "combined", "-s", "sliding", "--max-window", "1e9"]
    ok(["--store", whole, "replay", *fmt, *options, *map(str, halves)])
    ok(["--store", url, "replay", *fmt, *options, str(halves[0])])
    ok(["--store", url, "replay", "--append", "--format", "combined", str(halves[1])])
    for args in (["top", "--last", "400d", "--limit", "20"], ["query", "*", "--last", "400d"]):
        assert _json(url, *args) == _json(whole, *args)
    redis_metrics, file_metrics = _json(url, "metrics"), _json(whole, "metrics")
    assert redis_metrics["keys"] == file_metrics["keys"]
    assert "where status>=300" in redis_metrics["keys"] and "paths decoded" in redis_metrics["keys"]
    footer = ok(["--store", url, "query", "*", "--last", "400d"]).stderr
    assert f"endpoints are {redis_metrics['keys']}" in footer
    other = run(["--store", url, "replay", "--append", "--key", "{path}", str(halves[1])])
    assert other.exit_code == 2 and "--append cannot change it" in other.stderr
    plain = run(["--store", url, "replay", "--append", "--decode-paths", str(halves[1])])
    assert plain.exit_code == 2 and "Traceback" not in plain.stderr
    assert _json(url, "metrics")["total_hits"] == _json(whole, "metrics")["total_hits"]


def test_an_append_cannot_drop_the_sketches_of_a_redis_state(url: str) -> None:
    ok(["--store", url, "replay", str(SAMPLE)])
    dropped = run(["--store", url, "replay", "--append", "--no-distinct", str(SAMPLE)])
    assert dropped.exit_code == 2 and "--no-distinct" in dropped.stderr
    assert _json(url, "metrics")["total_hits"] == 20_000
    before = _json(url, "query", "*", "--distinct", "--last", "1d")
    higher = ["replay", "--append", "--again", "--distinct-precision", "16", str(SAMPLE)]
    kept = ok(["--store", url, *higher])  # the lower precision, the saved one, is kept
    assert "the new users are counted at 13 too" in kept.stderr
    assert _json(url, "metrics")["total_hits"] == 40_000
    assert _json(url, "query", "*", "--distinct", "--last", "1d")["distinct"] == before["distinct"]


def test_an_append_at_a_lower_precision_folds_a_redis_state(url: str, tmp_path: Path) -> None:
    """The saved sketches are folded down (the whole state rewritten): the answers are then
    those of a file state that counted the same users at the lower precision."""  # noqa: D205, D209
    ok(["--store", url, "replay", "-s", "sliding", "--max-window", "1e9", str(SAMPLE)])
    lower = ["replay", "--append", "--again", "--distinct-precision", "7", str(SAMPLE)]
    folded = ok(["--store", url, *lower])
    assert "folded down to 7" in folded.stderr
    whole = str(tmp_path / "whole.json")  # the same two replays into a file
    ok(["--state", whole, "replay", "-s", "sliding", "--max-window", "1e9", str(SAMPLE)])
    ok(["--state", whole, *lower])
    for args in (["query", "*", "--distinct", "--last", "1d"], ["top", "--by", "distinct"]):
        assert _json(url, *args) == _json(whole, *args)
    assert _json(url, "metrics")["total_hits"] == 40_000
    more = ok(["--store", url, "replay", "--append", "--again", str(SAMPLE)])  # in place again
    assert "folded" not in more.stderr and _json(url, "metrics")["total_hits"] == 60_000


def test_minute_edges_answer_exactly_on_redis_as_in_a_file(url: str, tmp_path: Path) -> None:
    # Users at exactly 60, 120 and 180 s: a window (60, 120] holds only the user at 120, and
    # it is answered from whole minutes only when the sketches are (lo, hi] on both stores.
    source = tmp_path / "edges.ndjson"
    source.write_text(
        "".join(
            json.dumps({"endpoint": "/a", "ts": ts, "user": user}) + "\n"
            for ts, user in ((60, "u60"), (120, "u120"), (180, "u180"))
        )
    )
    file_state = str(tmp_path / "state.json")
    for store in (url, file_state):
        ok(["--store", store, "replay", "-s", "fixed", "--retention", "1d", str(source)])
        ok(["--store", store, "replay", "--append", "--again", str(source)])  # merged on Redis
    answers = [
        _json(store, "query", "/a", "--now", "120", "--last", "60", "--distinct")
        for store in (url, file_state)
    ]
    assert answers[0] == answers[1]
    assert answers[0]["distinct"] == 1  # u120 alone
    assert answers[0]["distinct_low"] == 1


def test_a_window_without_users_answers_zero_as_a_state_file_does(url: str, tmp_path: Path) -> None:
    hits = tmp_path / "hits.ndjson"
    hits.write_text(
        '{"endpoint": "/a", "ts": 1700000000, "user": "u1"}\n'
        '{"endpoint": "/b", "ts": 1700003000, "user": "u2"}\n'
    )
    file_state = str(tmp_path / "state.db")
    for store in (url, file_state):
        ok(["--store", store, "replay", str(hits)])
    for asked in (["/a", "--last", "10m"], ["/nope", "--since", "-10m"], ["/b", "--last", "1m"]):
        answer = _json(url, "query", *asked, "--distinct")
        assert answer == _json(file_state, "query", *asked, "--distinct")

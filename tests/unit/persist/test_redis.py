"""The Redis store against real servers: a single redis-server and a three-node cluster.

The oracle is the file store (whose answers the rest of the suite checks against brute
force) and, for the counts, a brute-force reading of the input.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hitcount import HitCounter, available_strategies, load_counter, save_counter
from hitcount.errors import ConfigurationError, StateError, StoreUnavailableError
from hitcount.ingest.resuming import plan_starts
from hitcount.persist.stores import Scope, store_from_url
from hitcount.persist.stores.redis import RedisStore
from hitcount.persist.stores.redis_append import appending
from tests.cli_helpers import ok, run, write_ndjson
from tests.conftest import REAL_LOGS, SAMPLES, fresh_namespace
from tests.redis_servers import free_port, redis_server

pytestmark = pytest.mark.redis

EXACT = ("fixed", "sliding", "tiered")
NGINX = REAL_LOGS / "elastic_nginx_logs_2015-05.log.gz"


@pytest.fixture(params=["server", "cluster"])
def url(request: pytest.FixtureRequest) -> str:
    """A Redis URL with a fresh namespace: a single server, then a cluster."""
    server = "redis_url" if request.param == "server" else "redis_cluster_url"
    base = request.getfixturevalue(server)
    return f"{base}?namespace={fresh_namespace()}"


def hitcount(store: str, *args: str) -> Any:
    """`hitcount --store STORE ARGS` in-process; JSON output parsed."""
    result = ok(["--store", store, *args])
    return json.loads(result.stdout) if "--json" in args else result


def _answers(store: str) -> tuple[Any, ...]:
    return (
        hitcount(store, "top", "--last", "1h", "--limit", "50", "--json"),
        hitcount(store, "query", "/api/*", "--last", "10m", "--json"),
        hitcount(store, "query", "/", "--last", "30d", "--json"),
    )


@pytest.mark.parametrize("strategy", available_strategies())
def test_replay_answers_as_the_file_store(url: str, tmp_path: Path, strategy: str) -> None:
    sample = str(SAMPLES / "web.ndjson")
    file_state = str(tmp_path / "state.json")
    for store in (url, file_state):
        hitcount(store, "replay", "-s", strategy, sample, str(SAMPLES / "late.ndjson"))
    assert _answers(url) == _answers(file_state)
    redis_metrics = hitcount(url, "metrics", "--json")
    file_metrics = hitcount(file_state, "metrics", "--json")
    for name in ("total_hits", "late_hits", "bad_lines", "lines_read", "endpoints_count", "clock"):
        assert redis_metrics[name] == file_metrics[name], name


@pytest.mark.parametrize("strategy", EXACT)
def test_append_in_parts_equals_one_replay(url: str, tmp_path: Path, strategy: str) -> None:
    lines = (SAMPLES / "web.ndjson").read_bytes().splitlines(keepends=True)
    parts = [tmp_path / f"part{i}.ndjson" for i in range(3)]
    for i, part in enumerate(parts):
        part.write_bytes(b"".join(lines[i::3]))  # interleaved: late lines for every writer
    hitcount(url, "replay", "-s", strategy, "--max-lateness", "1e6", str(parts[0]))
    for part in parts[1:]:
        hitcount(url, "replay", "--append", str(part))
    whole = str(tmp_path / "whole.json")
    hitcount(whole, "replay", "-s", strategy, "--max-lateness", "1e6", str(SAMPLES / "web.ndjson"))
    assert _answers(url) == _answers(whole)


@pytest.mark.parametrize("strategy", ["ehist", "auto"])
def test_an_append_reports_the_hits_the_stored_state_refused_as_late(
    url: str, tmp_path: Path, strategy: str
) -> None:
    # the batch's own counter keeps all three; the stored endpoint is further on: one is late
    first = write_ndjson(tmp_path / "b.ndjson", [("/a", 1_745_713_014.0)])
    later = [("/x", 1_745_937_039.0), ("/x", 1_745_936_911.0), ("/x", 1_745_936_798.0)]
    added = write_ndjson(tmp_path / "a.ndjson", later)
    file_state = str(tmp_path / "state.db")
    reports = []
    for store in (url, file_state):
        hitcount(store, "replay", "-s", strategy, str(first))
        hitcount(store, "replay", "--append", str(added))
        reports.append(hitcount(store, "replay", "--append", "--again", str(added), "--json"))
    assert reports[0]["hits_kept"] == reports[1]["hits_kept"] == 2
    assert reports[0]["late_hits"] == reports[1]["late_hits"] == 1


RETENTION = {"fixed": "--retention", "sliding": "--max-window", "ehist": "--max-window",
             "auto": "--max-window", "tiered": None}  # fmt: skip


@pytest.mark.parametrize("strategy", list(RETENTION))
def test_appends_past_the_retention_answer_as_a_state_file(
    url: str, tmp_path: Path, strategy: str
) -> None:
    """The real Apache log in four parts, in time order, with a retention of 2 h: each
    append moves the horizon past endpoints it does not touch, whose keys still hold older
    hits; the answers equal the same appends into a SQLite state, and so do the sizes once
    the sweep (`redis_sweep`) has pruned what those endpoints kept."""  # noqa: D205, D209
    import gzip

    log = REAL_LOGS / "elastic_apache_logs_2015-05.log.gz"
    lines = gzip.decompress(log.read_bytes()).splitlines(keepends=True)
    quarter = len(lines) // 4 + 1
    parts = [tmp_path / f"part{i}.log" for i in range(4)]
    for i, part in enumerate(parts):
        part.write_bytes(b"".join(lines[i * quarter : (i + 1) * quarter]))
    option = RETENTION[strategy]
    retention = [option, "2h"] if option else []
    file_state = str(tmp_path / "state.db")
    for store in (url, file_state):
        hitcount(store, "replay", "-s", strategy, *retention, str(parts[0]))
        for part in parts[1:]:
            hitcount(store, "replay", "--append", str(part))
    for asked in (["top", "--last", "2h", "--limit", "30"], ["query", "*", "--last", "1h"],
                  ["query", "/*", "--last", "30d"]):  # fmt: skip
        assert hitcount(url, *asked, "--json") == hitcount(file_state, *asked, "--json"), asked
    redis_metrics = hitcount(url, "metrics", "--json")
    file_metrics = hitcount(file_state, "metrics", "--json")
    # a bucket a batch both fills and prunes counts once in pruned_events (`fixed` and
    # `tiered` deltas note the buckets they prune; Redis does not count those again)
    for name in ("endpoints_count", "memory_entries", "total_hits", "pruned_events"):
        assert redis_metrics[name] == file_metrics[name], name
    assert _stored_endpoints(url) == redis_metrics["endpoints_count"]


def _live(url: str) -> tuple[RedisStore, str]:
    """The Redis store of `url` and its live generation."""
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    generation = store.current_generation()
    assert generation is not None
    return store, generation


def _stored_endpoints(url: str) -> int:
    """How many endpoint keys the live generation of `url`'s namespace holds in Redis."""
    store, generation = _live(url)
    pattern = f"{store.namespace}:g{generation}:{{*}}"  # not the `...}:users` hashes
    return len({key for key in store.client.scan_iter(match=pattern, count=1000)})


def test_concurrent_writers_on_the_real_log_equal_a_single_replay(url: str, tmp_path: Path) -> None:
    """Three processes append disjoint thirds of a real nginx log at the same time."""
    if not NGINX.exists():
        pytest.fail(f"missing real log {NGINX}")
    import gzip

    lines = gzip.decompress(NGINX.read_bytes()).splitlines(keepends=True)
    third = len(lines) // 3
    parts = [lines[:third], lines[third : 2 * third], lines[2 * third :]]
    paths = []
    for i, part in enumerate(parts):
        paths.append(tmp_path / f"nginx{i}.log")
        paths[-1].write_bytes(b"".join(part))
    counter = HitCounter("sliding", max_window_s=1e9, max_lateness_s=1e9)
    save_counter(store_from_url(url), counter)
    _append_at_once(url, paths, "--format", "combined")
    whole = str(tmp_path / "whole.json")
    hitcount(whole, "replay", "-s", "sliding", "--max-window", "1e9", "--max-lateness", "1e9",
             "--format", "combined", *map(str, paths))  # fmt: skip
    assert _answers(url) == _answers(whole)
    assert hitcount(url, "metrics", "--json")["total_hits"] == len(lines)


def test_a_query_reads_only_its_endpoints_and_window(redis_url: str) -> None:
    store = store_from_url(redis_url, namespace=fresh_namespace())
    counter = HitCounter("sliding", max_window_s=10_000)
    hits = [(f"/e{i % 7}", 1_000_000.0 + i) for i in range(700)]
    counter.record_many(hits)
    save_counter(store, counter)
    scoped = load_counter(store, scope=Scope(patterns=("/e3",), last_s=50))
    assert scoped.endpoints() == ["/e3"]
    expected = sum(1 for ep, ts in hits if ep == "/e3" and ts > 1_000_699.0 - 50)
    # Nothing older than the window, but the newest older hit (it keeps /e3 known).
    assert scoped.strategy.memory_entries() == expected + 1
    assert scoped.query("/e3", 50).answer == counter.query("/e3", 50).answer
    globbed = load_counter(store, scope=Scope(patterns=("/e[12]",), last_s=100))
    assert globbed.endpoints() == ["/e1", "/e2"]


def test_restore_replaces_the_namespace_whole_and_leaves_no_old_keys(
    redis_url: str, tmp_path: Path
) -> None:
    store = f"{redis_url}?namespace={fresh_namespace()}"
    hitcount(store, "replay", "-s", "fixed", str(SAMPLES / "web.ndjson"))
    before = _answers(store)
    snapshot = tmp_path / "snap.json"
    hitcount(store, "snapshot", "save", str(snapshot))
    hitcount(store, "replay", "-s", "sliding", str(SAMPLES / "late.ndjson"))
    assert _answers(store) != before
    hitcount(store, "snapshot", "restore", str(snapshot))
    assert _answers(store) == before
    generations = {key.split(b":")[1] for key in _namespace_keys(store)} - {
        b"current",
        b"generations",
        b"all",
    }
    assert generations == {b"g3"}  # the replaced generations g1 and g2 are gone


@pytest.mark.parametrize(
    ("strategy", "params"), [("fixed", ["--window", "60", "--retention", "1e6"]), ("tiered", [])]
)
def test_swap_converts_like_the_file_store(
    url: str, tmp_path: Path, strategy: str, params: list[str]
) -> None:
    """A swap to `tiered` keeps a horizon that is not the clock less the coarse retention
    (here 2 days, the sliding state's): read back, its fine and mid tiers stay."""  # noqa: D205, D209
    file_state = str(tmp_path / "state.db")
    log = str(REAL_LOGS / "elastic_apache_logs_2015-05.log.gz")
    for store in (url, file_state):
        hitcount(store, "replay", "-s", "sliding", "--max-window", "2d", log)
        hitcount(store, "swap", strategy, *params)
    for asked in (["top", "--last", "10m", "--limit", "20"], ["query", "/*", "--last", "1m"],
                  ["query", "*", "--last", "1d"]):  # fmt: skip
        assert hitcount(url, *asked, "--json") == hitcount(file_state, *asked, "--json"), asked
    appended = tmp_path / "new.ndjson"  # after the swap: the fine tier counts them
    appended.write_text("".join(f'{{"endpoint": "/new", "ts": {1432156000 + 2 * i}}}\n'
                                for i in range(300)))  # fmt: skip
    for store in (url, file_state):
        hitcount(store, "replay", "--append", str(appended))
    asked = ["query", "/new", "--last", "1m", "--json"]
    assert hitcount(url, *asked) == hitcount(file_state, *asked)


@pytest.mark.parametrize("strategy", ["ehist", "auto"])
def test_documents_appended_in_turn_equal_the_file_store(
    url: str, tmp_path: Path, strategy: str
) -> None:
    """Ehist and auto keep one document per endpoint; the same appends give the same state."""
    lines = (SAMPLES / "web.ndjson").read_bytes().splitlines(keepends=True)
    parts = [tmp_path / f"part{i}.ndjson" for i in range(3)]
    for i, part in enumerate(parts):
        part.write_bytes(b"".join(lines[i::3]))
    file_state = str(tmp_path / "state.json")
    for store in (url, file_state):
        hitcount(store, "replay", "-s", strategy, "--max-lateness", "1e6", str(parts[0]))
        for part in parts[1:]:
            hitcount(store, "replay", "--append", str(part))
    assert _answers(url) == _answers(file_state)
    redis_metrics = hitcount(url, "metrics", "--json")
    file_metrics = hitcount(file_state, "metrics", "--json")
    for name in ("total_hits", "late_hits", "pruned_events", "memory_entries", "clock"):
        assert redis_metrics[name] == file_metrics[name], name


def test_concurrent_writers_lose_no_update_of_a_document(url: str, tmp_path: Path) -> None:
    """Three processes append to the same ehist endpoints at once (read-modify-write)."""
    lines = (SAMPLES / "web.ndjson").read_bytes().splitlines(keepends=True)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"part{i}.ndjson")
        paths[-1].write_bytes(b"".join(lines[i::3]))
    # A buffer as long as the log keeps every hit though the writers interleave: a lost
    # update would show as missing hits.
    roomy = HitCounter("ehist", max_window_s=1e7, epsilon=0.05, buffer_s=1e7)
    save_counter(store_from_url(url), roomy)
    _append_at_once(url, paths)
    assert hitcount(url, "metrics", "--json")["total_hits"] == len(lines)
    truth: dict[str, int] = {}
    for line in lines:
        endpoint = json.loads(line)["endpoint"]
        truth[endpoint] = truth.get(endpoint, 0) + 1
    answers = hitcount(url, "top", "--last", "2d", "--limit", "100", "--json")
    assert {row["endpoint"] for row in answers} == set(truth)
    for row in answers:  # a lost update would fall below the certain lower bound
        assert row["low"] <= truth[row["endpoint"]] <= row["high"], row


def test_a_document_changed_between_read_and_write_is_read_again(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writer A reads /a's document; writer B then adds to it; A must not overwrite B's hits."""
    from hitcount.persist.stores import redis_append

    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    save_counter(store, HitCounter("ehist", max_window_s=1e7, buffer_s=1e7))
    create = lambda: HitCounter("ehist")  # noqa: E731
    real_read = redis_append.RedisAppend._read
    sneaked = []

    def read_then_let_b_write(self: redis_append.RedisAppend, keys: list[str]) -> Any:
        values = real_read(self, keys)
        if not sneaked:
            sneaked.append(True)
            with appending(store, create) as other:
                other.counter.record_many([("/a", 1e9 + 5), ("/a", 1e9 + 6)])
        return values

    with appending(store, create) as writer:
        writer.counter.record_many([("/a", 1e9 + 1), ("/a", 1e9 + 2), ("/a", 1e9 + 3)])
        # On a server the batch WATCHes what it read; on a cluster it compare-and-sets.
        monkeypatch.setattr(redis_append.RedisAppend, "_read", read_then_let_b_write)
    assert sneaked
    counter = load_counter(store)
    assert counter.metrics.total_hits == 5
    assert counter.query("/a", 100).answer.count == 5


def test_morris_levels_changed_between_read_and_write_are_read_again(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writer B advances /a's Morris levels between A's read and A's write; none is lost."""
    from hitcount.persist.stores import redis_append

    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    # A base this close to 1 increments on (almost) every hit: the levels count the hits.
    params = {"base": 1.0001, "counters": 4, "seed": 3}
    save_counter(store, HitCounter("morris", **params))
    create = lambda: HitCounter("morris", **params)  # noqa: E731
    real_read = redis_append.RedisAppend._read
    sneaked = []

    def read_then_let_b_write(self: redis_append.RedisAppend, keys: list[str]) -> Any:
        values = real_read(self, keys)
        if not sneaked:
            sneaked.append(True)
            with appending(store, create) as other:
                other.counter.record_many([("/a", 1e9 + 5), ("/a", 1e9 + 6)])
        return values

    with appending(store, create) as writer:
        writer.counter.record_many([("/a", 1e9 + 1), ("/a", 1e9 + 2), ("/a", 1e9 + 3)])
        monkeypatch.setattr(redis_append.RedisAppend, "_read", read_then_let_b_write)
    assert sneaked
    counter = load_counter(store)
    assert counter.metrics.total_hits == 5
    assert counter.strategy.levels("/a") == [5, 5, 5, 5]  # type: ignore[attr-defined]


def test_endpoint_keys_spread_over_the_cluster(redis_cluster_url: str) -> None:
    from redis.cluster import RedisCluster

    store = store_from_url(redis_cluster_url, namespace=fresh_namespace())
    counter = HitCounter("fixed")
    counter.record_many((f"/{{odd}}/{i}", 1e9 + i) for i in range(64))
    save_counter(store, counter)
    assert isinstance(store, RedisStore) and store.is_cluster
    client = RedisCluster.from_url(redis_cluster_url)
    generation = store.current_generation()
    assert generation is not None
    slots = {client.keyslot(store.endpoint_key(generation, f"/{{odd}}/{i}")) for i in range(64)}
    nodes = {client.get_node_from_key(store.endpoint_key(generation, ep)).port
             for ep in ("/{odd}/1", "/{odd}/2", "/{odd}/3", "/{odd}/40")}  # fmt: skip
    assert len(slots) > 32  # braces in endpoints are escaped: they do not pin one slot
    assert len(nodes) >= 2
    assert load_counter(store).query("/{odd}/*", 1e6).answer.count == 64


def test_a_replay_cut_by_a_lost_connection_resumes_without_counting_twice(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitcount.ingest.replay import replay
    from hitcount.persist.stores import redis_append

    source = tmp_path / "web.ndjson"
    source.write_bytes((SAMPLES / "web.ndjson").read_bytes() * 5)  # 100k lines, ~8 blocks
    store = store_from_url(redis_url, namespace=fresh_namespace())
    assert isinstance(store, RedisStore)
    save_counter(store, HitCounter("sliding", max_window_s=1e7))
    monkeypatch.setattr(redis_append, "FLUSH_HITS", 3000)
    create = lambda: HitCounter("sliding")  # noqa: E731
    flushes = {"n": 0}
    real_flush = redis_append.RedisAppend._flush

    def flaky(self: redis_append.RedisAppend, source: str | None) -> None:
        flushes["n"] += 1
        if flushes["n"] == 3:
            raise StoreUnavailableError("redis://x: cannot reach the server: connection lost")
        real_flush(self, source)

    monkeypatch.setattr(redis_append.RedisAppend, "_flush", flaky)
    cut = r"hits of this replay were written \(through line"
    with (
        pytest.raises(StoreUnavailableError, match=cut) as cut_error,
        appending(store, create) as session,
    ):
        replay(session.counter, [str(source)], on_checkpoint=session.checkpoint)
    written = load_counter(store).metrics.total_hits
    assert 0 < written < 100_000
    said = re.search(
        r"(\d+) hits of this replay were written \(through line (\d+) of", str(cut_error.value)
    )
    assert said is not None
    assert int(said.group(1)) == written == int(said.group(2))  # every line of web.ndjson is a hit
    monkeypatch.setattr(redis_append.RedisAppend, "_flush", real_flush)
    notes: list[str] = []
    with appending(store, create) as session:
        saved = session.saved_positions()
        starts = plan_starts(saved, [str(source)], resume=True, again=False, note=notes.append)
        replay(session.counter, [str(source)], on_checkpoint=session.checkpoint, starts=starts)
    assert notes == [f"{source}: resuming after line {starts[str(source)].lines}"]
    whole = HitCounter("sliding", max_window_s=1e7)
    replay(whole, [str(source)])
    resumed = load_counter(store)
    assert resumed.metrics.total_hits == whole.metrics.total_hits == 100_000
    assert resumed.top(1e7, limit=100) == whole.top(1e7, limit=100)


def test_resume_after_kill_9_counts_every_line_once(redis_url: str, tmp_path: Path) -> None:
    big = tmp_path / "big.ndjson"
    lines = (SAMPLES / "web.ndjson").read_bytes().splitlines(keepends=True)
    big.write_bytes(b"".join(lines) * 15)  # 300k lines: several flushes
    store = f"{redis_url}?namespace={fresh_namespace()}"
    hitcount(store, "replay", "-s", "fixed", "--retention", "1e7", str(SAMPLES / "late.ndjson"))
    base = hitcount(store, "metrics", "--json")["total_hits"]
    command = [sys.executable, "-m", "hitcount.cli", "--store", store, "replay", "--append",
               str(big)]  # fmt: skip
    writer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while hitcount(store, "metrics", "--json")["total_hits"] == base:
        assert time.monotonic() < deadline and writer.poll() is None, "no flush landed"
        time.sleep(0.05)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    partial = hitcount(store, "metrics", "--json")["total_hits"] - base
    result = hitcount(store, "replay", "--append", "--resume", str(big))
    assert "resuming after line" in result.stderr
    total = hitcount(store, "metrics", "--json")["total_hits"] - base
    assert total == len(lines) * 15, (partial, total)


def test_unreachable_server_and_wrong_password_are_clear_errors(tmp_path: Path) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    result = run(["--store", nobody, "query", "/", "--last", "1m"])
    assert result.exit_code == 5
    assert "cannot reach the server" in result.stderr and "redis-server running" in result.stderr
    with redis_server(tmp_path / "auth", "--requirepass", "s3cret") as (port, _):
        for url, hint in ((f"redis://127.0.0.1:{port}/0", "password"),
                          (f"redis://:wrong@127.0.0.1:{port}/0", "password")):  # fmt: skip
            result = run(["--store", url, "query", "/", "--last", "1m"])
            assert result.exit_code == 5, result.stderr
            assert "authentication" in result.stderr and hint in result.stderr
            assert "wrong" not in result.stderr  # the password is never printed
        good = f"redis://:s3cret@127.0.0.1:{port}/0"
        hitcount(good, "replay", str(SAMPLES / "web.ndjson"))
        assert hitcount(good, "metrics", "--json")["total_hits"] == 20_000


def test_state_replaced_during_an_append_is_reported(redis_url: str) -> None:
    store = store_from_url(redis_url, namespace=fresh_namespace())
    save_counter(store, HitCounter("fixed"))
    create = lambda: HitCounter("fixed")  # noqa: E731
    with pytest.raises(StateError, match="replaced"), appending(store, create) as session:
        session.counter.record("/a", 1e9)
        save_counter(store, HitCounter("fixed"))  # a restore by someone else
    assert load_counter(store).metrics.total_hits == 0


def test_namespaces_are_separate_and_validated(redis_url: str) -> None:
    one, two = (f"{redis_url}?namespace={fresh_namespace()}" for _ in range(2))
    hitcount(one, "replay", str(SAMPLES / "web.ndjson"))
    assert run(["--store", two, "metrics"]).exit_code == 4
    with pytest.raises(ConfigurationError, match="namespace"):
        store_from_url(redis_url, namespace="a{b}")


def _append_at_once(url: str, paths: list[Path], *options: str) -> None:
    """`hitcount replay --append` of each file, all processes running at the same time."""
    env = {**os.environ, "HITCOUNT_STORE": url}
    command = [sys.executable, "-m", "hitcount.cli", "replay", "--append", *options]
    writers = [
        subprocess.Popen(
            [*command, str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for path in paths
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()


def _namespace_keys(store_url: str) -> list[bytes]:
    import redis

    base, _, query = store_url.partition("?")
    namespace = query.removeprefix("namespace=")
    client = redis.Redis.from_url(base)
    return sorted(client.scan_iter(match=f"*{namespace}*"))


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HITCOUNT_STORE", raising=False)
    monkeypatch.delenv("HITCOUNT_STATE", raising=False)
    monkeypatch.delenv("HITCOUNT_NAMESPACE", raising=False)
    yield


def test_fixed_keeps_the_bucket_convention_of_the_stored_state(
    redis_url: str, tmp_path: Path
) -> None:
    """New states say `(lo, hi]` in the meta hash; one written before (no field) keeps
    `[lo, hi)` buckets, in what is appended to it too."""  # noqa: D205, D209
    from redis import Redis

    url = f"{redis_url}?namespace={fresh_namespace()}"
    log = tmp_path / "hits.ndjson"
    log.write_text("".join(f'{{"endpoint": "/a", "ts": {ts}}}\n' for ts in (0, 30, 90)))
    hitcount(url, "replay", "-s", "fixed", str(log))
    aligned = hitcount(url, "query", "/a", "--now", "60", "--last", "60", "--json")
    assert (aligned["count"], aligned["exact"]) == (1, True)
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    generation = store.current_generation()
    assert generation is not None
    meta = store.gen_key(generation, "meta")
    client = Redis.from_url(redis_url)
    assert client.hget(meta, "x:closed_right") == b"1.0"
    client.hdel(meta, "x:closed_right")  # as the old hitcount left it
    for bucket, count in ((0, 2), (1, 1)):  # [0, 60) holds 0 and 30, [60, 120) holds 90
        client.hset(store.endpoint_key(generation, "/a"), str(bucket), count)
    client.hdel(store.endpoint_key(generation, "/a"), "-1")
    more = tmp_path / "more.ndjson"
    more.write_text('{"endpoint": "/a", "ts": 120}\n')
    hitcount(url, "replay", "--append", str(more))
    strategy = load_counter(store).strategy
    assert strategy.to_state()["edges"] == "[lo, hi)"
    assert strategy.to_state()["buckets"]["/a"] == {0: 2, 1: 1, 2: 1}  # 120 starts [120, 180)
    assert client.hget(meta, "x:closed_right") is None


def test_a_redis_store_remembers_the_last_200_events_and_says_so(redis_url: str) -> None:
    store = f"{redis_url}?namespace={fresh_namespace()}"
    hitcount(store, "replay", str(SAMPLES / "web.ndjson"), "--alert", "/*>2/10s")
    result = run(["--store", store, "events", "-n", "100000", "--json"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 200
    text = run(["--store", store, "events", "-n", "100000"])
    assert "this state (JSON or Redis) keeps only its last 200" in text.stderr


def test_a_capped_snapshot_is_refused_by_a_redis_store(redis_url: str, tmp_path: Path) -> None:
    state = str(tmp_path / "capped.db")
    hitcount(state, "replay", str(SAMPLES / "web.ndjson"), "--max-endpoints", "10")
    snapshot = tmp_path / "snap.json"
    hitcount(state, "snapshot", "save", str(snapshot))
    store = f"{redis_url}?namespace={fresh_namespace()}"
    result = run(["--store", store, "snapshot", "restore", str(snapshot)])
    assert result.exit_code == 2 and "cannot be kept in a Redis store yet" in result.stderr
    assert "no saved state" in run(["--store", store, "metrics"]).stderr


def test_a_snapshot_of_a_redis_state_carries_its_inputs_and_alerts(
    redis_url: str, tmp_path: Path
) -> None:
    hits = tmp_path / "hits.ndjson"
    hits.write_text('{"endpoint": "/a", "ts": 1700000000}\n{"endpoint": "/a", "ts": 1700000030}\n')
    store = f"{redis_url}?namespace={fresh_namespace()}"
    hitcount(store, "replay", str(hits), "--alert", "/a>0/1h")
    snapshot = tmp_path / "snap.json"
    hitcount(store, "snapshot", "save", str(snapshot))
    document = json.loads(snapshot.read_text())
    assert [item["path"] for item in document["inputs"]] == [str(hits.resolve())]
    assert document["alerts"] and document["alerts"][0]["firing"]
    moved = str(tmp_path / "moved.db")
    hitcount(moved, "snapshot", "restore", str(snapshot))
    refused = run(["--state", moved, "replay", "--append", str(hits)])
    assert refused.exit_code == 3 and "already read whole" in refused.stderr


def test_a_sweep_keeps_listed_an_endpoint_a_writer_recreates_meanwhile(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep unlists an endpoint whose key its pruning emptied; when another writer
    writes that endpoint between the check and the removal, it is listed again."""  # noqa: D205, D209
    url = f"{redis_url}?namespace={fresh_namespace()}"
    old, new = tmp_path / "old.ndjson", tmp_path / "new.ndjson"
    old.write_text('{"endpoint": "/a", "ts": 1000}\n{"endpoint": "/b", "ts": 1000}\n')
    new.write_text('{"endpoint": "/c", "ts": 100000}\n')
    hitcount(url, "replay", "-s", "sliding", "--max-window", "60", str(old))
    store, generation = _live(url)
    recreated = store.endpoint_key(generation, "/a")
    real_srem = store.client.srem

    def srem_then_write(listing: str, *names: str) -> Any:
        replied = real_srem(listing, *names)
        store.client.zadd(recreated, {b"other-writer": 99999.0})  # lands after the check
        return replied

    client_type = type(store.client)
    monkeypatch.setattr(client_type, "srem", lambda _client, *args: srem_then_write(*args))
    hitcount(url, "replay", "--append", str(new))  # in-process: its client is patched too
    monkeypatch.undo()
    listed = set(store.endpoints_in(generation, None))
    assert listed == {"/a", "/c"}  # /b was swept and unlisted, /a put back


@pytest.mark.parametrize(
    "other", [["-s", "tiered"], ["-s", "fixed", "--window", "5"], ["--max-window", "10"]]
)
def test_an_append_cannot_change_the_strategy(url: str, other: list[str]) -> None:
    """As on a state file: exit 2, nothing written (it was taken and ignored)."""
    sample = str(SAMPLES / "web.ndjson")
    hitcount(url, "replay", "-s", "sliding", "--max-window", "2d", sample)
    before = _answers(url)
    result = run(["--store", url, "replay", "--append", "--again", sample, *other])
    assert result.exit_code == 2, result.stderr
    assert "--append cannot change the strategy" in result.stderr
    assert _answers(url) == before
    hitcount(url, "replay", "--append", "--again", sample, "--max-window", "2d")  # the same: fine


def test_an_append_cannot_change_the_lateness_allowance(url: str) -> None:
    """A file state takes a new --max-lateness on --append; Redis refused nothing and used
    the old one silently (QA E8): now it says so, exit 2, nothing written."""  # noqa: D205, D209
    sample = str(SAMPLES / "web.ndjson")
    hitcount(url, "replay", "-s", "sliding", "--max-window", "2d", sample)
    before = _answers(url)
    result = run(["--store", url, "replay", "--append", "--again", sample, "--max-lateness", "5m"])
    assert result.exit_code == 2, result.stderr
    assert "cannot change --max-lateness" in result.stderr
    assert _answers(url) == before
    hitcount(url, "replay", "--append", "--again", sample, "--max-lateness", "60")  # the same


_SMALL_BATCHES = (
    "import sys, hitcount.persist.stores.redis_append as a; a.FLUSH_HITS = 1500;"
    " from hitcount.__main__ import main; sys.argv[0] = 'hitcount'; main()"
)


def test_a_snapshot_taken_while_appends_run_is_one_moment(redis_url: str, tmp_path: Path) -> None:
    """Four writers append in small batches while snapshots are saved: every snapshot's
    counts, metrics and input positions agree (a position ahead of the data would make
    `--resume` skip hits, one behind would count them twice). A single server only: on a
    cluster a batch is not one transaction, and one under way may land mid-read."""  # noqa: D205, D209
    url = f"{redis_url}?namespace={fresh_namespace()}"
    hitcount(url, "replay", "-s", "sliding", "--max-window", "1e9", str(SAMPLES / "web.ndjson"))
    parts = []
    for i in range(4):
        parts.append(tmp_path / f"p{i}.ndjson")
        lines = (
            f'{{"endpoint": "/w{i}/{j % 50}", "ts": {1795824000 + j}}}\n' for j in range(30_000)
        )
        parts[-1].write_text("".join(lines))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    command = [sys.executable, "-c", _SMALL_BATCHES, "--store", url, "replay", "--append"]
    writers = [
        subprocess.Popen(
            [*command, str(part)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for part in parts
    ]
    try:
        snapshots = 0
        while any(writer.poll() is None for writer in writers) or snapshots < 3:
            target = tmp_path / f"s{snapshots}.json"
            hitcount(url, "snapshot", "save", str(target))
            saved = json.loads(target.read_text())
            held = sum(len(stamps) for stamps in saved["state"]["timestamps"].values())
            read = sum(position["lines"] for position in saved["inputs"])  # the sample's too
            assert saved["metrics"]["total_hits"] == held == read, snapshots
            snapshots += 1
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    assert all(writer.wait() == 0 for writer in writers)
    assert hitcount(url, "metrics", "--json")["total_hits"] == 20_000 + 4 * 30_000


@pytest.mark.parametrize(
    "asked",
    [["query", "*", "--last", "1h", "--distinct"], ["plot", "*", "--last", "1h", "--step", "10m"],
     ["top", "--last", "10m"]],
)  # fmt: skip
def test_a_batch_landing_mid_read_does_not_make_the_state_look_damaged(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, asked: list[str]
) -> None:
    """A batch lands between a read's header and its data: the data read is newer than the
    clock it started from, which must not read as hits after the clock (exit 4)."""  # noqa: D205, D209
    first, later = tmp_path / "first.ndjson", tmp_path / "later.ndjson"
    first.write_text("".join(f'{{"endpoint": "/r/{j % 7}", "ts": {T_REAL + j}, "user": "u{j}"}}\n'
                             for j in range(300)))  # fmt: skip
    later.write_text("".join(f'{{"endpoint": "/r/{j % 7}", "ts": {T_REAL + 600 + j}, '
                             f'"user": "v{j}"}}\n' for j in range(300)))  # fmt: skip
    hitcount(url, "replay", "-s", "sliding", "--max-window", "2h", str(first))
    real_read = RedisStore._read_parts
    landed = []

    def read_while_a_batch_lands(self: RedisStore, *args: Any) -> Any:
        if not landed:  # another writer's batch, after this read took the header
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
            command = [sys.executable, "-m", "hitcount", "--store", url, "replay", "--append"]
            landed.append(subprocess.run([*command, str(later)], env=env, capture_output=True))
        return real_read(self, *args)

    monkeypatch.setattr(RedisStore, "_read_parts", read_while_a_batch_lands)
    result = run(["--store", url, *asked])
    assert landed and landed[0].returncode == 0, landed
    assert result.exit_code == 0, result.stderr


T_REAL = 1_795_824_000


def test_an_append_remembers_its_alerts_and_switches(url: str, tmp_path: Path) -> None:
    """As a state file does (a switch dated at the hit that passed the budget)."""
    lines = (SAMPLES / "web.ndjson").read_bytes().splitlines(keepends=True)
    first, rest = tmp_path / "first.ndjson", tmp_path / "rest.ndjson"
    first.write_bytes(lines[0])
    rest.write_bytes(b"".join(lines[1:]))
    remembered = []
    for store in (url, str(tmp_path / "s.db")):
        hitcount(store, "replay", "-s", "auto", "--memory-budget", "50", str(first))
        hitcount(store, "replay", "--append", str(rest), "--alert", "/api/login>20/1m")
        events = hitcount(store, "events", "--json")
        remembered.append(sorted((event["event"], event.get("endpoint")) for event in events))
    assert remembered[0] == remembered[1]
    assert {"threshold_exceeded", "threshold_cleared", "endpoint_switched"} <= {
        name for name, _ in remembered[0]
    }


@pytest.mark.parametrize("now", ["2026-11-26T23:00:00Z", "2025-01-01T00:00:00Z"])
def test_a_distinct_read_before_the_sketches_kept_answers_as_a_state_file(
    url: str, tmp_path: Path, now: str
) -> None:
    """A window ending before the sketches' horizon reads no sketch (it read them all and
    failed to match them to the window's buckets)."""  # noqa: D205, D209
    file_state = str(tmp_path / "s.db")
    for store in (url, file_state):
        hitcount(
            store, "replay", "-s", "sliding", "--max-window", "1d", str(SAMPLES / "web.ndjson")
        )
    for asked in (["query", "/", "--distinct", "--now", now], ["top", "--by", "distinct", "--now",
                  now, "--limit", "5"]):  # fmt: skip
        assert hitcount(url, *asked, "--json") == hitcount(file_state, *asked, "--json"), asked


def test_a_batch_held_back_by_a_whole_read_says_it_waits(redis_url: str, tmp_path: Path) -> None:
    """A killed `snapshot save` leaves its pause until the lease lapses; the append says so."""
    import redis

    from hitcount.persist.stores.redis_lock import LEASE_MS

    url = f"{redis_url}?namespace={fresh_namespace()}"
    hitcount(url, "replay", "-s", "sliding", "--max-window", "1d", str(SAMPLES / "web.ndjson"))
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    client = redis.Redis.from_url(redis_url)
    client.set(store.root_key("pause"), "a killed reader's token", px=2500)  # lapses in 2.5 s
    assert LEASE_MS >= 2500
    started = time.monotonic()
    result = run(["--store", url, "replay", "--append", "--again", str(SAMPLES / "web.ndjson")])
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started >= 2.0
    assert "waiting while a whole-state read or change holds the appends back" in result.stderr


def test_whole_reads_back_to_back_do_not_starve_the_appends(redis_url: str, tmp_path: Path) -> None:
    """Two `snapshot save` loops pause the appends in turn; a held-back writer goes first."""
    url = f"{redis_url}?namespace={fresh_namespace()}"
    big = tmp_path / "big.ndjson"
    big.write_text("".join(f'{{"endpoint": "/b/{j % 300}", "ts": {1795824000 + j * 0.01}}}\n'
                           for j in range(150_000)))  # fmt: skip
    hitcount(url, "replay", "-s", "sliding", "--max-window", "1e9", str(big))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    save = f"while true; do {sys.executable} -m hitcount --store '{url}' snapshot save -; done"
    savers = [
        subprocess.Popen(
            save,
            shell=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    try:
        time.sleep(1.0)  # both loops saving
        started = time.monotonic()
        result = run(["--store", url, "replay", "--append", "--again", str(SAMPLES / "web.ndjson")])
        took = time.monotonic() - started
    finally:
        for saver in savers:
            os.killpg(saver.pid, signal.SIGKILL)
            saver.wait()
    assert result.exit_code == 0, result.stderr
    assert took < 60, took
    assert hitcount(url, "metrics", "--json")["total_hits"] == 150_000 + 20_000


def test_a_sweep_of_a_replaced_generation_writes_nothing_to_it(
    redis_url: str, tmp_path: Path
) -> None:
    """A restore or replay replaced the generation a sweep started on: nothing of the old
    one is written again (its keys are being deleted; a counted meta hash would stay)."""  # noqa: D205, D209
    from hitcount.persist.stores.redis_layouts import layout_for as redis_layout_for
    from hitcount.persist.stores.redis_sweep import sweep_if_due

    url = f"{redis_url}?namespace={fresh_namespace()}"
    old = tmp_path / "old.ndjson"
    old.write_text("".join(f'{{"endpoint": "/o/{i}", "ts": {T_REAL + i}}}\n' for i in range(50)))
    hitcount(url, "replay", "-s", "fixed", "--retention", "600", str(old))
    store, generation = _live(url)
    meta_key = store.gen_key(generation, "meta")
    store.client.hdel(meta_key, "swept")  # due at once
    store.client.hset(meta_key, "horizon", repr(T_REAL + 5_000.0))  # past every bucket
    store.client.set(store.root_key("current"), "999")  # replaced, as by a restore
    layout = redis_layout_for("fixed", {"window_s": 60.0, "retention_s": 600.0}, store.scripts)
    assert sweep_if_due(store, generation, layout, T_REAL + 10_000.0, 600.0) == 0
    assert int(store.client.hget(meta_key, "m:pruned_events") or 0) == 0
    assert store.client.scard(store.gen_key(generation, "endpoints")) == 50  # untouched


def test_a_batch_held_back_by_a_swap_finds_the_state_replaced_not_lost(redis_url: str) -> None:
    """A swap reads the whole state, converts it, writes a new generation: an append's batch
    held back meanwhile must not land in the generation about to be replaced (it was lost,
    and the append said it was saved); it waits, then finds the state replaced (QA E4)."""  # noqa: D205, D209
    import threading

    from hitcount.persist.state import updating
    from hitcount.persist.stores import redis_append

    url = f"{redis_url}?namespace={fresh_namespace()}"
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    create = lambda: HitCounter("sliding", max_window_s=1e7)  # noqa: E731
    save_counter(store, create())
    read, release = threading.Event(), threading.Event()

    def swap() -> None:
        swapper = store_from_url(url)
        with updating(swapper) as counter:  # the lock, the whole read: the appends paused
            read.set()
            release.wait(10)
            counter.swap_strategy("sliding", max_window_s=2e7)
        swapper.close()

    writer = redis_append.RedisAppend(store, str(store.current_generation()))
    writer.counter.record_many([("/a", 1e9 + 1), ("/a", 1e9 + 2)])
    writer.flush()  # the first batch lands before the swap reads
    swapper = threading.Thread(target=swap)
    swapper.start()
    assert read.wait(10)
    writer.counter.record_many([("/a", 1e9 + 3)])
    threading.Timer(0.5, release.set).start()  # the swap converts while it waits
    try:
        with pytest.raises(StateError, match="the state was replaced"):
            writer.flush()  # held back until the swap is through, then refused
    finally:
        swapper.join(10)
    counter = load_counter(store)
    assert counter.strategy.params["max_window_s"] == 2e7  # the swap's state
    assert counter.query("/a", 1e8).answer.count == counter.metrics.total_hits == 2


def test_each_batch_commits_the_lines_it_read(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lines_read` goes in with each batch's hits and position, so an append that dies
    after a batch leaves the state's metrics agreeing with what it holds (QA E5)."""  # noqa: D205, D209
    from hitcount import replay
    from hitcount.persist.stores import redis_append

    monkeypatch.setattr(redis_append, "FLUSH_HITS", 1000)  # a batch per block of lines

    url = f"{redis_url}?namespace={fresh_namespace()}"
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    create = lambda: HitCounter("sliding", max_window_s=1e7)  # noqa: E731
    save_counter(store, create())
    path = write_ndjson(tmp_path / "h.ndjson", [("/a", 1e9 + i / 100) for i in range(80_000)])

    class KilledError(Exception):
        """The process dies right after its first batch landed."""

    def die() -> None:
        raise KilledError

    with pytest.raises(KilledError), appending(store, create) as session:
        session.on_flush = die
        replay(session.counter, [str(path)], on_checkpoint=session.checkpoint)
    metrics = load_counter(store).metrics
    assert 0 < metrics.total_hits < 80_000
    assert metrics.lines_read == metrics.total_hits


def test_a_gzip_file_appended_with_another_is_recorded_as_read_whole(
    url: str, tmp_path: Path
) -> None:
    """A gzip file's end offset is known only once it is read to its end: the position sent
    with its last batch said 0, so a later append of it was not refused (QA E7)."""  # noqa: D205, D209
    import gzip

    hits = [("/g", 1e9 + i) for i in range(50)]
    plain = write_ndjson(tmp_path / "g.ndjson", hits)
    packed = tmp_path / "g.ndjson.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    other = write_ndjson(tmp_path / "o.ndjson", [("/o", 1e9 + 60 + i) for i in range(50)])
    hitcount(url, "replay", "-s", "sliding", "--max-window", "1d", str(other))
    hitcount(url, "replay", "--append", "--again", str(packed), str(other))
    again = run(["--store", url, "replay", "--append", str(packed)])
    assert again.exit_code == 3, again.stderr
    assert "already read whole" in again.stderr
    assert hitcount(url, "metrics", "--json")["total_hits"] == 150


def test_a_strict_bad_line_after_some_batches_says_what_was_written(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches landed before the bad line: "nothing was saved" was false, and running the
    same --append again counted them twice (QA E9). It says how to go on instead."""  # noqa: D205, D209
    from hitcount.persist.stores import redis_append

    monkeypatch.setattr(redis_append, "FLUSH_HITS", 1000)  # a batch per block of lines
    url = f"{redis_url}?namespace={fresh_namespace()}"
    good = [json.dumps({"endpoint": f"/e{i % 7}", "ts": 1e9 + i / 10}) for i in range(40_000)]
    path = tmp_path / "s.ndjson"  # the bad line after the first block (1 MiB) of lines
    path.write_text("\n".join([*good[:30_000], "garbage", *good[30_000:]]) + "\n")
    seed = write_ndjson(tmp_path / "seed.ndjson", [("/seed", 1e9)])
    hitcount(url, "replay", "-s", "sliding", "--max-window", "1d", str(seed))
    result = run(["--store", url, "replay", "--append", "--strict", str(path)])
    assert result.exit_code == 3, result.stderr
    assert "s.ndjson:30001: invalid JSON" in result.stderr
    assert "nothing was saved" not in result.stderr
    assert "hits of this replay were written (through line" in result.stderr
    assert "--append --resume" in result.stderr
    path.write_text("\n".join(good) + "\n")  # the line fixed (removed)
    ok(["--store", url, "replay", "--append", "--resume", "--strict", str(path)])
    metrics = hitcount(url, "metrics", "--json")
    assert metrics["total_hits"] == metrics["lines_read"] == 40_001


def test_a_read_that_a_swap_switched_under_reads_the_new_state(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A swap switches generations and deletes the old keys; a reader that had read the old
    header then found no data ("damaged") or none of its hits. It reads again (QA E10)."""  # noqa: D205, D209
    from hitcount.persist.state import updating

    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    counter = HitCounter("sliding", max_window_s=1e7)
    counter.record_many([("/a", 1e9 + i) for i in range(10)])
    save_counter(store, counter)
    real_read = RedisStore._read_parts
    swapped: list[bool] = []

    def read_after_a_swap(self: RedisStore, *args: Any) -> Any:
        if not swapped:
            swapped.append(True)
            swapper = store_from_url(url)
            with updating(swapper) as live:
                live.swap_strategy("sliding", max_window_s=2e7)
            swapper.close()
        return real_read(self, *args)

    monkeypatch.setattr(RedisStore, "_read_parts", read_after_a_swap)
    scoped = load_counter(store, scope=Scope(patterns=("/a",), last_s=1e8))
    assert swapped
    assert scoped.strategy.params["max_window_s"] == 2e7
    assert scoped.query("/a", 1e8).answer.count == 10


def test_a_follower_cannot_fold_the_shared_state(url: str, tmp_path: Path) -> None:
    """A fold rewrites the whole state; a follower doing it held every other writer back
    for as long as it ran (QA F3). It is refused, exit 2, nothing written."""  # noqa: D205, D209
    first = write_ndjson(tmp_path / "a.ndjson", [("/a", 1e9 + i) for i in range(10)])
    hitcount(url, "replay", "-s", "sliding", "--max-window", "1d", str(first))
    before = _answers(url)
    command = ["--store", url, "replay", "--append", "--follow", "--distinct-precision", "10"]
    result = run([*command, str(first)])
    assert result.exit_code == 2, result.stderr
    assert "cannot lower --distinct-precision on Redis" in result.stderr
    assert _answers(url) == before


def test_a_stream_cut_after_some_batches_says_which_lines_to_give_again(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stdin is never resumed, so "--append --resume" (E9's hint for files) would count the
    written batches twice (QA H4): the hint names the lines to give again instead."""  # noqa: D205, D209
    from hitcount.persist.stores import redis_append

    monkeypatch.setattr(redis_append, "FLUSH_HITS", 1000)  # a batch per block of lines
    url = f"{redis_url}?namespace={fresh_namespace()}"
    good = [json.dumps({"endpoint": f"/e{i % 7}", "ts": 1e9 + i / 10}) for i in range(40_000)]
    seed = write_ndjson(tmp_path / "seed.ndjson", [("/seed", 1e9)])
    hitcount(url, "replay", "-s", "sliding", "--max-window", "1d", str(seed))
    text = "\n".join([*good[:30_000], "garbage", *good[30_000:]]) + "\n"
    result = run(["--store", url, "replay", "--append", "--strict", "-"], input=text)
    assert result.exit_code == 3, result.stderr
    found = re.search(
        r"(\d+) hits of this replay were written \(through line (\d+) of <stdin>\)", result.stderr
    )
    assert found is not None, result.stderr
    assert "--resume" not in result.stderr and "cannot be resumed" in result.stderr
    written, through = int(found[1]), int(found[2])
    assert f"give replay --append only the lines after line {through}" in result.stderr
    assert written == through and hitcount(url, "metrics", "--json")["total_hits"] == 1 + written
    rest = "\n".join(good[through:]) + "\n"  # as told: the lines after it, the bad one fixed
    ok(["--store", url, "replay", "--append", "--strict", "-"], input=rest)
    assert hitcount(url, "metrics", "--json")["total_hits"] == 40_001

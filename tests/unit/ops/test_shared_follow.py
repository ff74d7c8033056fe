"""A `replay --follow` without `--append` on Redis: its first commit replaces the state, then
it appends beside the other writers instead of holding them back for as long as it runs (QA
F1). The oracle is the count of each endpoint in the hits each writer was given."""  # noqa: D205, D209

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from hitcount import HitCounter, available_strategies, load_counter, save_counter
from hitcount.live.follow import top_rows
from hitcount.ops.shared_follow import ReplacingFollower
from hitcount.persist.stores import store_from_url
from hitcount.persist.stores.redis import RedisStore
from hitcount.persist.stores.redis_append import appending
from tests.cli_helpers import assert_error, ok, ok_json, run
from tests.conftest import fresh_namespace

pytestmark = pytest.mark.redis

EXACT = ("fixed", "sliding", "tiered")
T0 = 1_700_000_000.0


def _hits(prefix: str, start: int, count: int) -> list[tuple[str, float]]:
    return [(f"/{prefix}{i % 3}", T0 + start + i * 0.5) for i in range(count)]


def _record(counter: HitCounter, hits: list[tuple[str, float]]) -> None:
    for endpoint, ts in hits:
        counter.record(endpoint, ts, user=f"u{int(ts) % 7}")


def _params(strategy: str) -> dict[str, float]:
    return {"sliding": {"max_window_s": 1e6}, "fixed": {"retention_s": 1e6}}.get(strategy, {})


@pytest.fixture
def store(redis_url: str) -> RedisStore:
    made = store_from_url(f"{redis_url}?namespace={fresh_namespace()}")
    assert isinstance(made, RedisStore)
    return made


@pytest.mark.parametrize("strategy", available_strategies())
def test_a_follower_replaces_the_state_once_then_appends_beside_other_writers(
    store: RedisStore, strategy: str
) -> None:
    old = HitCounter(strategy, **_params(strategy))
    _record(old, _hits("old", 0, 40))
    save_counter(store, old)
    follower = ReplacingFollower(store)
    counter = HitCounter(strategy, **_params(strategy))
    first, other, later = _hits("a", 100, 30), _hits("b", 110, 20), _hits("a", 200, 25)
    _record(counter, first)
    follower.commit(counter)  # replaces: the old hits are gone
    assert load_counter(store).metrics.total_hits == len(first)

    def append_other() -> None:  # would wait for as long as the follower runs before
        with appending(store, lambda: HitCounter(strategy)) as session:
            _record(session.counter, other)

    started = time.monotonic()
    writer = threading.Thread(target=append_other)
    writer.start()
    writer.join(timeout=20)
    assert not writer.is_alive() and time.monotonic() - started < 10
    _record(counter, later)
    shown = {row.result.endpoint: row.result.answer.count for row in top_rows(counter, 1e6, 10)}
    assert shown == dict(Counter(endpoint for endpoint, _ in later))  # the interval's hits (H1)
    follower.commit(counter)
    follower.commit(counter)  # nothing new: nothing sent twice

    saved = load_counter(store)
    everything = Counter(endpoint for endpoint, _ in first + other + later)
    assert saved.metrics.total_hits == sum(everything.values())
    assert set(saved.endpoints()) == set(everything)
    if strategy in EXACT:
        counts = {ep: saved.query(ep, 1e6).answer.count for ep in saved.endpoints()}
        assert counts == dict(everything)


def test_a_plain_follow_on_redis_from_the_cli_replaces_then_counts_every_line(
    redis_url: str,
) -> None:
    url = f"{redis_url}?namespace={fresh_namespace()}"
    ok(["--store", url, "replay", "-", "-s", "sliding"], input='{"endpoint":"/old","ts":5}\n')
    lines = "".join(f'{{"endpoint":"/e{i % 4}","ts":{T0 + i}}}\n' for i in range(300))
    command = ["--store", url, "replay", "-", "--follow", "-s", "sliding", "--max-window", "1d"]
    ok([*command, "--commit-every", "0.01"], input=lines)
    top = ok_json(["--store", url, "top", "--last", "1d", "--json", "--limit", "10"])
    assert {row["endpoint"]: row["count"] for row in top} == {f"/e{i}": 75 for i in range(4)}
    empty = run([*command], input="")  # nothing read: the state stays
    assert_error(empty, 3, "")
    assert ok_json(["--store", url, "metrics", "--json"])["total_hits"] == 300

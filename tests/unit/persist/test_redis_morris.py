"""Morris counters appended to Redis by many writers keep the coverage of their intervals.

Each append opens its own store, as a new process does. The oracle is the true number of
hits appended; the bound is binomial: 160 independent trials of a 95% interval hold about
152 times (sd 2.8), and fewer than 90% of them is more than 2.8 sd off.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from hitcount import HitCounter, load_counter, save_counter
from hitcount.model.columns import Columns
from hitcount.persist.stores import store_from_url
from hitcount.persist.stores.redis import RedisStore
from hitcount.persist.stores.redis_append import appending
from tests.conftest import fresh_namespace

pytestmark = pytest.mark.redis

T0 = 1_767_225_600.0
TRIALS = 160


@pytest.mark.parametrize("draw", [1, 2])
def test_intervals_hold_about_95_percent_over_many_appends(redis_url: str, draw: int) -> None:
    rng = random.Random(draw)
    held = 0
    for _ in range(TRIALS):
        params = {"base": rng.choice([1.5, 2.0, 3.0]), "counters": rng.choice([2, 4, 8]),
                  "seed": rng.randrange(2**32)}  # fmt: skip
        appends, hits = rng.randint(2, 10), rng.randint(50, 3000)
        namespace = fresh_namespace()
        save_counter(store_from_url(redis_url, namespace=namespace), HitCounter("morris", **params))
        for _ in range(appends):  # the same traffic, appended again and again
            _append(store_from_url(redis_url, namespace=namespace), hits)
        answer = load_counter(store_from_url(redis_url, namespace=namespace)).query("/a", 1e9)
        held += answer.answer.low <= hits * appends <= answer.answer.high
    assert held >= 0.90 * TRIALS, held


def _append(store: object, hits: int) -> None:
    """One writer (its own store, as in a new process) appends `hits` hits of `/a`."""
    assert isinstance(store, RedisStore)
    with appending(store, lambda: HitCounter("morris")) as session:
        stamps = T0 + np.arange(hits, dtype=np.float64)
        session.counter.record_columns(Columns(["/a"], np.zeros(hits, np.int32), stamps))
    store.close()


@pytest.mark.redis
def test_a_state_read_back_from_redis_draws_on_a_stream_of_its_own(redis_url: str) -> None:
    """Redis keeps no generator state: a state read back (a snapshot of it) must not start
    again from the seed's first stream, which the replay that made it drew on."""  # noqa: D205, D209
    counter = HitCounter("morris", base=1.5, counters=4, seed=5)
    counter.record_many([("/a", 1_000.0 + i) for i in range(300)])
    store = store_from_url(f"{redis_url}?namespace={fresh_namespace()}")
    save_counter(store, counter)
    first, again = load_counter(store), load_counter(store)
    fresh = HitCounter("morris", base=1.5, counters=4, seed=5).strategy
    assert first.strategy.generator_state() == again.strategy.generator_state()  # type: ignore[attr-defined]
    assert first.strategy.generator_state() != fresh.generator_state()  # type: ignore[attr-defined]
    assert first.strategy.levels("/a") == counter.strategy.levels("/a")  # type: ignore[attr-defined]

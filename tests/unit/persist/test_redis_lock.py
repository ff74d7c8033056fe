"""The Redis whole-state lock: a short lease, renewed while its owner works, freed when it dies.

Real processes hold the lock; the oracle is the clock and the key's own time to live.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from hitcount.errors import StoreUnavailableError
from hitcount.persist.stores import redis_lock, store_from_url
from hitcount.persist.stores.redis import RedisStore
from tests.conftest import fresh_namespace

pytestmark = pytest.mark.redis

#: The holder's lease: short, so a test waits seconds for it to lapse (the code's is 10 s).
HOLDER_LEASE_MS = 2_000
HOLDER = f"""
import sys, time
from hitcount.persist.stores import redis_lock, store_from_url
redis_lock.LEASE_MS = {HOLDER_LEASE_MS}
store = store_from_url(sys.argv[1], namespace=sys.argv[2])
with store.locked():
    print("locked", flush=True)
    time.sleep(600)
"""


@pytest.fixture(params=["server", "cluster"])
def redis_base(request: pytest.FixtureRequest) -> str:
    """A single server's URL, then a cluster's."""
    return str(
        request.getfixturevalue("redis_url" if request.param == "server" else "redis_cluster_url")
    )


def _store(url: str, namespace: str) -> RedisStore:
    store = store_from_url(url, namespace=namespace)
    assert isinstance(store, RedisStore)
    return store


def test_a_lock_whose_owner_was_killed_is_free_within_one_lease(redis_base: str) -> None:
    redis_url = redis_base
    namespace = fresh_namespace()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_url, namespace], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        store = _store(redis_url, namespace)
        key = store.root_key("lock")
        time.sleep(HOLDER_LEASE_MS / 1000 * 1.6)  # the owner renews it while alive
        assert HOLDER_LEASE_MS / 2 < store.client.pttl(key) <= HOLDER_LEASE_MS
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    killed = time.monotonic()
    with store.locked():
        waited = time.monotonic() - killed
    assert waited <= HOLDER_LEASE_MS / 1000 + 1.0, waited
    assert store.client.exists(key) == 0  # released behind it


def test_a_live_owner_keeps_the_lock_for_many_leases(
    redis_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_url = redis_base
    monkeypatch.setattr(redis_lock, "LEASE_MS", 300)
    monkeypatch.setenv("HITCOUNT_LOCK_TIMEOUT", "0.2")  # the same variable as the file stores
    namespace = fresh_namespace()
    owner, other = _store(redis_url, namespace), _store(redis_url, namespace)
    refused = []
    with owner.locked():
        for _ in range(8):  # 2.4 s: eight leases
            time.sleep(0.3)
            held_too_long = r"held the state lock for 0\.2 s"
            with pytest.raises(StoreUnavailableError, match=held_too_long) as err, other.locked():
                pass
            refused.append(err.value)
    assert "free within 0.3 s" in str(refused[0].hint)
    with other.locked():
        # two renewers: the lock, and the pause that holds the appends back meanwhile
        assert [t.name for t in threading.enumerate()].count("hitcount-lock") == 2
    assert "hitcount-lock" not in [t.name for t in threading.enumerate()]


def test_a_waiting_writer_says_so_and_gives_up_after_the_lock_timeout(
    redis_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITCOUNT_LOCK_TIMEOUT", "1.5")
    namespace = fresh_namespace()
    owner, other = _store(redis_base, namespace), _store(redis_base, namespace)
    told: list[str] = []
    other.on_wait = told.append
    with owner.locked():
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as err, other.locked():
            pass
        waited = time.monotonic() - started
    assert 1.5 <= waited < 3.0
    assert len(told) == 1 and "waiting for another hitcount process" in told[0]
    assert "HITCOUNT_LOCK_TIMEOUT=600" in str(err.value.hint)

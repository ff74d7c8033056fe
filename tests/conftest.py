"""Shared fixtures: every strategy and every store from the registries, and an exact oracle."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from hitcount import HitCounter, available_strategies, store_from_url
from hitcount.persist.stores import Store
from tests.redis_servers import redis_cluster, redis_server

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_traffic"


def _find_real_logs() -> Path:
    """shared/data/real: from $HITCOUNT_REAL_LOGS, beside the checkout, or in /work/shared."""
    candidates = [os.environ.get("HITCOUNT_REAL_LOGS"), ROOT.parent / "shared" / "data" / "real"]
    candidates.append("/work/shared/data/real")
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return ROOT.parent / "shared" / "data" / "real"


REAL_LOGS = _find_real_logs()

#: Parameters that keep every retained hit for the spans tests use (no pruning surprises).
ROOMY_PARAMS: dict[str, dict[str, object]] = {
    "fixed": {"window_s": 10, "retention_s": 10**7},
    "sliding": {"max_window_s": 10**7},
    "morris": {"base": 1.5, "counters": 16, "seed": 7},
    "ehist": {"max_window_s": 10**7, "epsilon": 0.1, "buffer_s": 10**4},
    "auto": {"max_window_s": 10**7, "epsilon": 0.1, "buffer_s": 10**4, "memory_budget": 50},
    "tiered": {
        "fine_retention_s": 10**7,
        "mid_retention_s": 2 * 10**7,
        "coarse_retention_s": 3 * 10**7,
    },
}


class Oracle:
    """Brute force: every hit kept in a list, every query a full scan."""

    def __init__(self, hits: Iterable[tuple[str, float]] = ()) -> None:
        self.hits: list[tuple[str, float]] = list(hits)

    def count(self, endpoint: str, start: float, end: float) -> int:
        """Hits of `endpoint` with start < ts <= end."""
        return sum(1 for ep, ts in self.hits if ep == endpoint and start < ts <= end)

    def total(self, endpoint: str) -> int:
        """All hits of `endpoint`."""
        return sum(1 for ep, _ in self.hits if ep == endpoint)


@pytest.fixture(params=available_strategies())
def strategy_name(request: pytest.FixtureRequest) -> str:
    """Each registered strategy, by name."""
    return str(request.param)


@pytest.fixture
def roomy_counter(strategy_name: str) -> HitCounter:
    """A counter of each strategy with parameters that retain everything tests record."""
    return HitCounter(strategy_name, **ROOMY_PARAMS.get(strategy_name, {}))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, for the whole session."""
    with redis_server(tmp_path_factory.mktemp("redis")) as (port, _):
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real three-node Redis Cluster, for the whole session."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as ports:
        yield f"redis://127.0.0.1:{ports[0]}/0"


_namespaces = itertools.count()


def fresh_namespace() -> str:
    """A namespace no other test uses (tests share one server)."""
    return f"t{os.getpid()}-{next(_namespaces)}"


_REDIS_FIXTURES = frozenset({"redis_url", "redis_cluster_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every case that needs a real redis-server carries the `redis` marker (`-m "not redis"`)."""
    for item in items:
        params = getattr(item, "callspec", None)
        on_redis = params is not None and str(params.params.get("store", "")).startswith("redis")
        if on_redis or _REDIS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)


@pytest.fixture(params=["memory", "file", "sqlite", "redis", "redis-cluster"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each store kind: in memory, a state file, SQLite, a Redis server and a Redis Cluster."""
    if request.param.startswith("redis"):
        server = "redis_url" if request.param == "redis" else "redis_cluster_url"
        url = request.getfixturevalue(server)
        opened = store_from_url(url, namespace=fresh_namespace())
        yield opened
        opened.close()
        return
    paths = {"file": "state.json", "sqlite": "state.db"}
    (tmp_path / "state").mkdir()  # a named state's directory must exist
    url = (
        "memory://" if request.param == "memory" else str(tmp_path / "state" / paths[request.param])
    )
    opened = store_from_url(url)
    yield opened
    opened.close()


@pytest.fixture
def state_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh state file path, exported as HITCOUNT_STATE for CLI tests."""
    path = tmp_path / "state.json"
    monkeypatch.setenv("HITCOUNT_STATE", str(path))
    monkeypatch.delenv("HITCOUNT_STORE", raising=False)
    return path

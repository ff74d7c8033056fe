"""`replay --append --resume` on Redis is idempotent: run again, it counts nothing twice.

The oracle is the number of lines of the inputs (every line of the samples is one hit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import ok
from tests.conftest import SAMPLES, fresh_namespace

pytestmark = pytest.mark.redis


def _metrics(store: str) -> Any:
    return json.loads(ok(["--store", store, "metrics", "--json"]).stdout)


def _positions(url: str) -> dict[str, int]:
    """The recorded positions (lines) by file name, read with the store's own client."""
    from hitcount.persist.stores import store_from_url
    from hitcount.persist.stores.redis import RedisStore

    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    generation = store.current_generation()
    assert generation is not None
    raw = store.client.hgetall(store.gen_key(generation, "inputs"))
    return {Path(k.decode()).name: json.loads(v)["lines"] for k, v in raw.items()}


@pytest.fixture(params=["server", "cluster"])
def url(request: pytest.FixtureRequest) -> str:
    """A Redis URL with a fresh namespace: a single server, then a cluster."""
    server = "redis_url" if request.param == "server" else "redis_cluster_url"
    base = request.getfixturevalue(server)
    return f"{base}?namespace={fresh_namespace()}"


@pytest.mark.parametrize("runs", [3, 5])
def test_resume_run_again_and_again_counts_each_line_once(
    url: str, tmp_path: Path, runs: int
) -> None:
    lines = (SAMPLES / "web.ndjson").read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(b"".join(lines[:7000]))
    second.write_bytes(b"".join(lines[7000:12345]))
    store = url
    for run in range(runs):
        result = ok(["--store", store, "replay", "--append", "--resume", "-s", "fixed",
                     "--retention", "1e7", str(first), str(second)])  # fmt: skip
        if run:
            assert "a.ndjson: already read whole (7,000 lines)" in result.stderr
            assert "b.ndjson: already read whole (5,345 lines)" in result.stderr
        assert _metrics(store)["total_hits"] == 12345, f"after run {run + 1}"
        assert _positions(store) == {"a.ndjson": 7000, "b.ndjson": 5345}


def test_a_file_grown_since_resumes_after_its_old_end(url: str, tmp_path: Path) -> None:
    lines = (SAMPLES / "web.ndjson").read_bytes().splitlines(keepends=True)
    log = tmp_path / "grow.ndjson"
    store = url
    command = ["--store", store, "replay", "--append", "--resume", "-s", "fixed",
               "--retention", "1e7", str(log)]  # fmt: skip
    for end in (3000, 3000, 9000, 9000, 20000):
        log.write_bytes(b"".join(lines[:end]))
        ok(command)
        assert _metrics(store)["total_hits"] == end
        assert _positions(store) == {"grow.ndjson": end}


def test_checkpoints_name_each_source_with_its_own_line_count(tmp_path: Path) -> None:
    from hitcount import HitCounter
    from hitcount.ingest.replay import replay

    lines = (SAMPLES / "web.ndjson").read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(b"".join(lines[:300]))
    second.write_bytes(b"".join(lines[300:420]))
    whole = HitCounter("fixed")
    replay(whole, [str(first), str(second)])
    ends = {Path(p.path).name: p for p in whole.inputs.values()}
    assert {name: p.lines for name, p in ends.items()} == {"a.ndjson": 300, "b.ndjson": 120}
    a_end, b_end = ends["a.ndjson"], ends["b.ndjson"]
    for skips in ({}, {str(second): b_end}, {str(first): a_end, str(second): b_end}):
        seen: dict[str, int] = {}

        def note(source: str, lines: int, final: bool, seen: dict[str, int] = seen) -> None:
            seen[source] = lines

        replay(HitCounter("fixed"), [str(first), str(second)], starts=skips,
               on_checkpoint=note)  # fmt: skip
        assert seen.get(str(second)) == 120, skips  # a source skipped whole stays at its end


def test_a_position_never_moves_back_for_the_same_file(url: str, tmp_path: Path) -> None:
    from hitcount import HitCounter
    from hitcount.persist.stores import store_from_url
    from hitcount.persist.stores.redis import RedisStore
    from hitcount.persist.stores.redis_append import appending

    log = tmp_path / "web.ndjson"
    log.write_bytes((SAMPLES / "web.ndjson").read_bytes())
    store = url
    ok(["--store", store, "replay", "--append", "-s", "fixed", str(log)])
    opened = store_from_url(store)
    assert isinstance(opened, RedisStore)
    with appending(opened, lambda: HitCounter("fixed")) as session:
        # a writer that read 30 lines of it (past the first KiB: the heads compare), again
        session.checkpoint(str(log), 30, True)
    assert _positions(store) == {"web.ndjson": 20_000}
    log.write_bytes(b"{}\n" + log.read_bytes())  # another head: another file, position reset
    with appending(opened, lambda: HitCounter("fixed")) as session:
        session.checkpoint(str(log), 10, True)
    assert _positions(store) == {"web.ndjson": 10}

"""Redis errors as the user sees them: one line with the cause, one hint with the fix.

Real servers: one that asks for a password, one with a tiny `maxmemory`.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.conftest import REAL_LOGS, fresh_namespace
from tests.redis_servers import redis_server

pytestmark = pytest.mark.redis

RAW = ("HELLO", "NOAUTH", "WRONGPASS", "Command #", "EVALSHA", "ZADD", "pipeline", "\\x")


def _one_line_error(stderr: str) -> tuple[str, str]:
    lines = [line for line in stderr.splitlines() if not line.startswith("hitcount: warning")]
    assert len(lines) == 2, stderr
    error, hint = lines
    assert error.startswith("hitcount: error: ") and hint.startswith("hint: "), stderr
    for raw in RAW:
        assert raw not in stderr, (raw, stderr)
    assert error.isprintable() and hint.isprintable(), stderr
    return error, hint


def test_no_password_and_a_wrong_one_say_which(tmp_path: Path) -> None:
    with redis_server(tmp_path / "auth", "--requirepass", "s3cret") as (port, _):
        none = run(["--store", f"redis://127.0.0.1:{port}/0", "query", "/", "--last", "1m"])
        assert none.exit_code == 5
        error, hint = _one_line_error(none.stderr)
        assert "needs a password and the URL has none" in error and "HITCOUNT_STORE" in hint
        for url in (f"redis://:wrong@127.0.0.1:{port}/0", f"redis://bob:s3cret@127.0.0.1:{port}/0"):
            wrong = run(["--store", url, "query", "/", "--last", "1m"])
            assert wrong.exit_code == 5
            error, hint = _one_line_error(wrong.stderr)
            assert "refused the user or password" in error and "wrong" not in wrong.stderr


def test_out_of_memory_is_said_without_the_command(tmp_path: Path) -> None:
    log = REAL_LOGS / "elastic_nginx_logs_2015-05.log.gz"
    head = tmp_path / "head.log"
    with gzip.open(log) as lines:
        head.write_bytes(b"".join(lines.readlines()[:500]))
    limits = ("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    with redis_server(tmp_path / "oom", *limits) as (port, _):
        store = f"redis://127.0.0.1:{port}/0"
        sliding = ["replay", "-s", "sliding", "--max-window", "1e8"]
        for command in ([*sliding, str(log)], ["replay", "--append", "--again", str(log)]):
            # a whole state that does not fit; then batches onto a small one that did
            result = run(["--store", store, *command])
            assert result.exit_code == 5, result.stderr
            error, hint = _one_line_error(result.stderr)
            assert "out of memory" in error and "maxmemory" in hint
            import redis

            client = redis.Redis(port=port)
            generations = set(client.scan_iter("{hitcount}:g*:meta"))
            assert len(generations) <= 1  # a whole write that failed left nothing behind
            assert run(["--store", store, *sliding, str(head)]).exit_code == 0


def test_namespaces_named_twice_or_unknown_url_parameters_are_usage_errors(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hits = tmp_path / "hits.ndjson"
    hits.write_text('{"endpoint": "/e", "ts": 1700000000}\n')
    name = fresh_namespace()
    in_url = f"{redis_url}?namespace={name}"
    for extra in ([], ["--namespace", name]):  # once, or twice alike
        assert run(["--store", in_url, *extra, "replay", str(hits)]).exit_code == 0
    monkeypatch.setenv("HITCOUNT_NAMESPACE", "from-the-environment")
    found = run(["--store", in_url, "query", "/e", "--last", "1d"])  # the URL's beats it
    assert found.exit_code == 0 and "1 hit" in found.stdout
    clash = run(["--store", in_url, "--namespace", "other", "query", "/e", "--last", "1d"])
    assert clash.exit_code == 2
    assert "name two namespaces" in _one_line_error(clash.stderr)[0]
    for parameter in ("bogus=1", "socket_timeout=abc"):
        bad = run(["--store", f"{redis_url}?{parameter}", "query", "/e", "--last", "1d"])
        assert bad.exit_code == 2
        assert "invalid Redis store URL" in _one_line_error(bad.stderr)[0]


def test_an_empty_namespace_is_a_usage_error_not_the_shared_default(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`?namespace=$TEAM` with TEAM unset must not replace the default namespace's state."""
    hits = tmp_path / "hits.ndjson"
    hits.write_text('{"endpoint": "/e", "ts": 1700000000}\n')
    shared = f"{redis_url}?namespace={fresh_namespace()}"
    monkeypatch.setenv("HITCOUNT_NAMESPACE", shared.rpartition("=")[2])  # the shared default
    assert run(["--store", redis_url, "replay", str(hits)]).exit_code == 0
    for given in ([f"{redis_url}?namespace="], [redis_url, "--namespace", ""]):
        empty = run(["--store", *given, "replay", str(hits), str(hits), "--again"])
        assert empty.exit_code == 2
        assert "namespace" in _one_line_error(empty.stderr)[0] and "is empty" in empty.stderr
    assert "1 hit" in run(["--store", shared, "query", "/e", "--last", "1d"]).stdout


def test_a_cluster_that_went_away_is_a_store_error_not_an_internal_one(redis_url: str) -> None:
    """redis-py's cluster errors are not RedisErrors: they too become exit 5 with a hint."""
    import redis.exceptions as rex

    from hitcount.errors import StoreUnavailableError
    from hitcount.persist.stores.redis import RedisStore

    store = RedisStore(redis_url)
    gone = rex.RedisClusterUnreachableError("Redis Cluster cannot be connected")
    unreachable = pytest.raises(StoreUnavailableError, match="cannot reach the server")
    with unreachable as caught, store.errors("reading the state"):
        raise gone
    assert caught.value.exit_code == 5 and caught.value.hint

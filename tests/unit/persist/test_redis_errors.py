"""Redis errors as the user sees them: one line with the cause, one hint with the fix.

Real servers: one that asks for a password, one with a tiny `maxmemory`.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.conftest import REAL_LOGS
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
        for command in ([*sliding, str(log)], ["replay", "--append", str(log)]):
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

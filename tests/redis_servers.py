"""Real redis-server processes for the tests: one server, and a three-node cluster.

Started on free loopback ports in a temporary directory and stopped at the end of the
session. Without `redis-server` the Redis tests skip, except under CI=true, where a
missing server is a failure (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def require_redis_server() -> str:
    """The path of redis-server, or skip (fail under CI)."""
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    """A TCP port nobody listens on now, whose cluster bus port (+10000) is free too."""
    rng = random.Random()
    while True:
        port = rng.randrange(20000, 45000)
        if _free(port) and _free(port + 10000):
            return port


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith((b"+PONG", b"-NOAUTH")):  # up (maybe locked)
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not start")


@contextmanager
def redis_server(directory: Path, *extra: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """One redis-server in `directory`, no persistence; yields (port, process)."""
    binary = require_redis_server()
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(directory), *extra]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, process)
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def redis_cluster(directory: Path, nodes: int = 3) -> Iterator[list[int]]:
    """A cluster of `nodes` primaries (no replicas) that owns all 16384 slots."""
    with _servers(directory, nodes) as ports:
        cli = shutil.which("redis-cli")
        assert cli is not None, "redis-cli comes with redis-server"
        addresses = [f"127.0.0.1:{port}" for port in ports]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _wait_cluster_ok(cli, ports)
        yield ports


@contextmanager
def _servers(directory: Path, count: int) -> Iterator[list[int]]:
    if count == 0:
        yield []
        return
    node = directory / f"node{count}"
    options = ("--cluster-enabled", "yes", "--cluster-config-file", str(node / "nodes.conf"))
    with redis_server(node, *options) as (port, _), _servers(directory, count - 1) as others:
        yield [port, *others]


def _wait_cluster_ok(cli: str, ports: list[int], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = [
            subprocess.run(
                [cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True
            ).stdout
            for port in ports
        ]
        if all("cluster_state:ok" in state for state in states):
            return
        time.sleep(0.2)
    raise RuntimeError("the test cluster did not reach cluster_state:ok")

"""Fixtures and constants shared by the CLI tests; every test gets its own state file."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import ok, ok_json, plain_output_env, write_ndjson
from tests.conftest import Oracle

SLIDING = ["--strategy", "sliding", "--max-window", "3600"]
ANSI = re.compile(r"\x1b|\x9b")
QUERY_KEYS = {"endpoint", "last", "now", "count", "low", "high", "exact"}


@pytest.fixture(autouse=True)
def _isolated(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test: its own HITCOUNT_STATE, plain (uncoloured) output, cwd = tmp_path."""
    plain_output_env(monkeypatch)
    monkeypatch.chdir(state_env.parent)


def oracle_count(oracle: Oracle, pattern: str, last: float, now: float) -> int:
    """Brute force: hits of every endpoint matching `pattern` with now - last < ts <= now."""
    endpoints = {ep for ep, _ in oracle.hits if fnmatch.fnmatchcase(ep, pattern)}
    return sum(oracle.count(ep, now - last, now) for ep in endpoints)


def metrics() -> dict[str, Any]:
    result: dict[str, Any] = ok_json(["metrics", "--json"])
    return result


# Hand-made hits. The replay clock ("now" by default) is the latest timestamp: 2000.
HAND_HITS: list[tuple[str, float]] = [
    ("/api/login", 0.0),  # epoch 0 is a real timestamp, not "missing"
    ("/api/login", 1000.0),
    ("/api/login", 1700.0),  # exactly now - 300: outside --last 300, inside --last 301
    ("/api/users", 1750.0),  # exactly now - 250
    ("/api/login", 1800.0),
    ("/static/app.js", 1900.0),
    ("/api/login", 2000.0),  # exactly now: inside every window ending now
]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def _damaged_documents() -> dict[str, Callable[[bytes], bytes]]:
    def with_field(path: list[str], value: object) -> Callable[[bytes], bytes]:
        def change(good: bytes) -> bytes:
            document = json.loads(good)
            target = document
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            return json.dumps(document).encode()

        return change

    return {
        "truncated": lambda good: good[: len(good) // 2],
        "empty": lambda good: b"",
        "foreign": lambda good: b'{"a": 1}',
        "not-an-object": lambda good: b"[1, 2]",
        "newer-version": with_field(["version"], 99),
        "clock-is-text": with_field(["clock"], "soon"),
        "total-is-text": with_field(["metrics", "total_hits"], "many"),
        "negative-total": with_field(["metrics", "total_hits"], -1),
        "state-is-list": with_field(["state"], [1]),
        "unknown-strategy": with_field(["strategy", "name"], "bogus"),
        # Each field valid on its own, but not together (HAND_HITS: 7 hits, clock 2000):
        "more-hits-than-recorded": with_field(["metrics", "total_hits"], 6),
        "data-after-the-clock": with_field(["clock"], 1000.0),
        "data-before-the-horizon": with_field(["horizon"], 1500.0),
    }


DAMAGE = _damaged_documents()


@pytest.fixture
def good_state(tmp_path: Path, state_env: Path) -> bytes:
    ok(["replay", str(write_ndjson(tmp_path / "good.ndjson", HAND_HITS)), *SLIDING])
    return state_env.read_bytes()


HOSTILE = [
    "\x1b[2J",
    "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\",
    "[bold red]x[/]",
    "[link=http://evil]y[/link]",
    "/rtl\u202eevil",
    "/bell\x07",
]


@pytest.fixture
def hostile_state(tmp_path: Path) -> None:
    hits = [(endpoint, 100.0 + i) for i, endpoint in enumerate(HOSTILE)]
    ok(["replay", str(write_ndjson(tmp_path / "hostile.ndjson", hits)), *SLIDING])


def assert_inert(text: str) -> None:
    assert not ANSI.search(text), repr(text)
    assert "\x07" not in text
    assert "\u202e" not in text

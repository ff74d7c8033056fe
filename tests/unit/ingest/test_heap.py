"""`keep_freed_memory`: malloc's thresholds raised on glibc, left alone elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hitcount.ingest import heap

_GLIBC = sys.platform.startswith("linux") and bool(
    getattr(os, "confstr", lambda _: None)("CS_GNU_LIBC_VERSION")
)


def _run_in_fresh_process(env: dict[str, str]) -> str:
    code = "from hitcount.ingest.heap import keep_freed_memory; print(keep_freed_memory())"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.mark.skipif(not _GLIBC, reason="glibc only")
def test_glibc_takes_both_thresholds() -> None:
    assert _run_in_fresh_process({}) == "True"


def test_the_environments_malloc_tuning_wins() -> None:
    assert _run_in_fresh_process({"MALLOC_ARENA_MAX": "2"}) == "False"


def test_another_c_library_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_glibc(name: str) -> str:
        raise ValueError(f"unrecognized configuration name {name!r}")

    for variable in [k for k in os.environ if k.startswith("MALLOC_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setattr(heap.os, "confstr", not_glibc)
    assert heap.keep_freed_memory() is False
    monkeypatch.setattr(heap.os, "confstr", lambda name: None)
    assert heap.keep_freed_memory() is False

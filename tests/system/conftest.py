"""Shared by the system tests: generated traffic files for crash tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

T0 = 1_767_225_600.0


def write_traffic(path: Path, lines: int, seed: int, start: float = T0) -> None:
    """`lines` NDJSON hits over 50 endpoints, 100 a second from `start`, up to 2 s late."""
    rng = random.Random(seed)
    with path.open("w") as out:
        for i in range(lines):
            ts = start + i * 0.01 + rng.uniform(-2, 0)
            out.write(json.dumps({"endpoint": f"/e{rng.randrange(50)}", "ts": ts}) + "\n")


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small (2,000 hits) and a big (150,000 hits, after the small one) traffic file."""
    folder = tmp_path_factory.mktemp("traffic")
    files = {"small": folder / "small.ndjson", "big": folder / "big.ndjson"}
    write_traffic(files["small"], 2_000, seed=1)
    write_traffic(files["big"], 150_000, seed=2, start=T0 + 100)
    return files

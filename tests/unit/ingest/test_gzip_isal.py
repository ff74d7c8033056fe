"""gzip input is inflated by ISA-L when python-isal imports, by zlib when it does not: the
same counts either way, and a damaged file is one clear error either way."""  # noqa: D205, D209

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from hitcount import HitCounter, replay
from hitcount.ingest import reader
from tests.cli_helpers import assert_error, run


@pytest.fixture(params=["isal", "zlib"])
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which library inflates: `zlib` hides python-isal as if it were not installed."""
    if request.param == "zlib":
        for name in ("isal.igzip", "isal.igzip_lib"):
            monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    return str(request.param)


def _gzip_file(path: Path, count: int) -> list[tuple[str, float]]:
    hits = [(f"/e{i % 5}", 1_767_225_600 + i * 0.9) for i in range(count)]
    text = "".join(json.dumps({"endpoint": e, "ts": ts}) + "\n" for e, ts in hits)
    path.write_bytes(gzip.compress(text.encode()))
    return hits


def test_gzip_replay_counts_like_hit_by_hit_with_either_inflater(
    tmp_path: Path, inflater: str
) -> None:
    path = tmp_path / "hits.ndjson.gz"
    hits = _gzip_file(path, 3_000)
    with reader.open_input(str(path)) as stream:
        used = type(stream).__module__
    assert used == ("isal.igzip" if inflater == "isal" else "gzip")
    counter = HitCounter("fixed", window_s=60, retention_s=86_400, max_lateness_s=0)
    replay(counter, [str(path)])
    oracle = HitCounter("fixed", window_s=60, retention_s=86_400, max_lateness_s=0)
    for endpoint, ts in hits:
        oracle.record(endpoint, ts)
    assert counter.strategy.to_state() == oracle.strategy.to_state()


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_gzip_is_one_clear_error_with_either_inflater(
    tmp_path: Path, inflater: str, damage: str
) -> None:
    path = tmp_path / "hits.ndjson.gz"
    _gzip_file(path, 3_000)
    data = path.read_bytes()
    cut = len(data) // 2
    path.write_bytes(data[:cut] if damage == "truncated" else data[:20] + bytes(60) + data[80:])
    state = tmp_path / "state.json"
    result = run(["--state", str(state), "replay", str(path)])
    assert_error(result, 3, "cannot read")
    assert not state.exists()  # nothing saved

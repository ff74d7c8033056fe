"""A small input is read line by line, hit by hit, while numpy is not loaded.

It gives the same state, answers and report as the block path, and numpy is never imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter
from hitcount.ingest import replay as replay_module
from hitcount.ingest import workers
from hitcount.ingest.replay import replay
from hitcount.strategies import available_strategies
from tests.conftest import ROOMY_PARAMS

LINES = st.lists(
    st.tuples(
        st.sampled_from(["/a", "/b", "/api/c"]),
        st.floats(1e9, 1e9 + 5_000, allow_nan=False),
        st.one_of(st.none(), st.sampled_from(["u1", "u2", "u3", "u4"])),
    ),
    min_size=1,
    max_size=150,
)


def _write(path: Path, hits: list[tuple[str, float, str | None]], bad_at: int | None) -> Path:
    rows = [json.dumps({"endpoint": e, "ts": t, **({"user": u} if u else {})}) for e, t, u in hits]
    if bad_at is not None:
        rows.insert(min(bad_at, len(rows)), '{"endpoint": "/a", "ts": "soon"}')
    path.write_text("\n".join(rows) + "\n")
    return path


def _replayed(
    path: Path, name: str, lateness: float, by_line: bool, windows: list[float]
) -> object:
    """What a replay of `path` reports and answers, line by line or in blocks."""
    counter = HitCounter(name, max_lateness_s=lateness, **ROOMY_PARAMS[name])
    bad: list[tuple[int, str]] = []
    original = workers.small_without_numpy
    replay_module.small_without_numpy = lambda *_: by_line  # type: ignore[assignment]
    try:
        report = replay(counter, [str(path)], on_bad_line=lambda b: bad.append((b.line, b.reason)))
    finally:
        replay_module.small_without_numpy = original
    answers = [counter.query("*", last).answer for last in windows]
    with_users = counter.metrics.as_dict()
    users = [counter.query_distinct("*", last).answer for last in windows] if any(
        "user" in line for line in path.read_text().splitlines()) else []  # fmt: skip
    return report.hits_read, report.hits_kept, bad, answers, users, with_users


@settings(max_examples=60, deadline=None)
@given(
    hits=LINES,
    name=st.sampled_from(available_strategies()),
    lateness=st.sampled_from([0.0, 5.0, 60.0, 3_000.0]),
    bad_at=st.none() | st.integers(0, 200),
    windows=st.lists(st.floats(0.5, 6_000), min_size=1, max_size=4),
)
def test_line_by_line_equals_the_block_path(
    tmp_path_factory: pytest.TempPathFactory,
    hits: list[tuple[str, float, str | None]],
    name: str,
    lateness: float,
    bad_at: int | None,
    windows: list[float],
) -> None:
    path = _write(tmp_path_factory.mktemp("small") / "in.ndjson", hits, bad_at)
    blocks = _replayed(path, name, lateness, False, windows)
    assert _replayed(path, name, lateness, True, windows) == blocks


def test_a_small_append_never_imports_numpy(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    big = _write(
        tmp_path / "big.ndjson", [("/a", 1e9 + k, f"u{k % 9}") for k in range(3_000)], None
    )
    small = _write(
        tmp_path / "small.ndjson", [("/b", 1e9 + 3_000 + k, "u1") for k in range(500)], None
    )
    hitcount = [sys.executable, "-m", "hitcount", "--state", str(state)]
    subprocess.run([*hitcount, "replay", str(big), "-s", "sliding", "--max-window", "1d"],
                   check=True, capture_output=True)  # fmt: skip
    code = (
        "import sys\nfrom hitcount.__main__ import main\ntry:\n"
        f"    main({['--state', str(state), 'replay', '--append', str(small)]!r})\n"
        "except SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "print('numpy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "False", done.stderr
    query = [*hitcount, "query", "*", "--last", "1d", "--json"]
    answer = json.loads(subprocess.run(query, check=True, capture_output=True, text=True).stdout)
    assert answer["count"] == 3_500  # every line of both files, by hand


def test_the_rule_counts_bytes_and_refuses_gzip_and_stdin(tmp_path: Path) -> None:
    plain = tmp_path / "a.ndjson"
    plain.write_bytes(b'{"endpoint": "/a", "ts": 1}\n')
    packed = tmp_path / "a.ndjson.gz"
    packed.write_bytes(b"\x1f\x8b" + b"\0" * 20)
    small = workers.small_without_numpy
    loaded = sys.modules.pop("numpy")
    try:
        assert small([str(plain)], 28)
        assert not small([str(plain)], workers.SMALL_INPUT_BYTES)
        assert not small([str(plain), str(packed)], 50)
        assert not small(["-"], None)
    finally:
        sys.modules["numpy"] = loaded
    assert not small([str(plain)], 28)  # numpy loaded already: blocks cost nothing more

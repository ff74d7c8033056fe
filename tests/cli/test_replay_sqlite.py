"""`replay --append` into a SQLite state adds rows; it keeps what a JSON state keeps.

The oracle is the same replays into a `.json` state (each rewritten whole), and for the
counts a brute-force tally of the input lines.
"""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hitcount import load_counter
from hitcount.persist.document import to_document
from hitcount.persist.stores import store_from_url
from tests.cli_helpers import ok, ok_json

T0 = 1_767_225_600.0


def _write(path: Path, rows: list[tuple[str, float, str]]) -> Path:
    lines = [json.dumps({"endpoint": e, "ts": ts, "user": u}) for e, ts, u in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _document(path: Path) -> dict[str, Any]:
    store = store_from_url(str(path))
    try:
        document = to_document(load_counter(store))
    finally:
        store.close()
    document.pop("created_at")
    return document


def _batches(seed: int, count: int) -> list[list[tuple[str, float, str]]]:
    rng = random.Random(seed)
    batches, start = [], T0
    for _ in range(count):
        size = rng.randint(1, 300)
        batch = [
            (
                rng.choice(["/a", "/b", "/api/x"]),
                start + rng.uniform(-90, 400),
                f"u{rng.randint(1, 50)}",
            )
            for _ in range(size)
        ]
        batches.append(batch)
        start += rng.uniform(0, 600)
    return batches


@pytest.mark.parametrize(
    ("strategy", "options"),
    [
        ("sliding", ["--max-window", "600"]),
        ("sliding", ["--max-window", "86400"]),
        ("fixed", ["--window", "10", "--retention", "900"]),
        ("fixed", ["--window", "60", "--retention", "86400"]),
        ("tiered", []),
        ("ehist", []),
    ],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_appends_into_sqlite_keep_what_a_json_state_keeps(
    tmp_path: Path, strategy: str, options: list[str], seed: int
) -> None:
    batches = _batches(seed, 6)
    states = {kind: tmp_path / f"state.{kind}" for kind in ("json", "db")}
    for state in states.values():
        for index, batch in enumerate(batches):
            source = _write(tmp_path / f"b{index}.ndjson", batch)
            first = ["--strategy", strategy, *options] if index == 0 else ["--append"]
            ok(["--state", str(state), "replay", str(source), *first])
    assert _document(states["db"]) == _document(states["json"])
    kept = _document(states["db"])["metrics"]
    total = sum(len(batch) for batch in batches)
    assert kept["total_hits"] + kept["late_hits"] == total
    for args in (
        ["/a", "--last", "300"],
        ["/api/*", "--last", "120", "--distinct"],
        ["*", "--last", "1h", "--distinct"],
    ):
        asked = ["query", *args, "--json"]
        answers = [ok_json(["--state", str(state), *asked]) for state in states.values()]
        assert answers[0] == answers[1], args


def test_sliding_append_counts_every_new_line_once(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    hits = [("/a", T0 + i * 0.5, "u") for i in range(2000)]
    first = str(_write(tmp_path / "0.ndjson", hits[:1000]))
    ok(["--state", str(state), "replay", first, "--strategy", "sliding"])
    ok(
        [
            "--state",
            str(state),
            "replay",
            "--append",
            str(_write(tmp_path / "1.ndjson", hits[1000:])),
        ]
    )
    answer = ok_json(["--state", str(state), "query", "/a", "--last", "100", "--json"])
    # brute force: hits with clock - 100 < ts <= clock
    clock = hits[-1][1]
    assert answer["count"] == sum(1 for _, ts, _ in hits if clock - 100 < ts <= clock)


def test_appended_late_hits_never_leave_overlapping_chunks(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    for index, batch in enumerate(_batches(7, 8)):  # each batch reaches back up to 90 s
        source = _write(tmp_path / f"b{index}.ndjson", batch)
        first = ["--strategy", "sliding", "--max-window", "1e6"] if index == 0 else ["--append"]
        ok(["--state", str(state), "replay", str(source), *first])
    with sqlite3.connect(state) as db:
        chunks = db.execute(
            "SELECT endpoint, first, last FROM sliding_chunks ORDER BY endpoint, first"
        ).fetchall()
    db.close()
    assert len(chunks) > 3
    for (endpoint, _, last), (following, first, _) in itertools.pairwise(chunks):
        assert endpoint != following or last <= first

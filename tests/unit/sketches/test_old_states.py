"""States saved before the sparse registers moved to precision 25 load and answer as before.

`data/` holds a state written by the previous version (`hitcount replay hits.ndjson -s
fixed --window 60`: 18 sketches with 30 to 900 users a minute and 1,080 with a few, so the
JSON store packed them), the same replay in SQLite, its `snapshot save`, and what the
previous version answered (`old-answers.json`) to 21 `query --distinct` windows of each,
before and after `replay more.ndjson --append` (400 more hits in the last minute). The
oracle is the previous version's own answers: the registers are the same, so every figure
must be too, also after appending (new users fold into the old sketches' precision).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hitcount.model.answers import settled
from hitcount.sketches.hll import HyperLogLog
from tests.cli_helpers import assert_error, gunzip, ok, run

DATA = Path(__file__).parent / "data"
ANSWERS: dict[str, list[dict[str, Any]]] = json.loads((DATA / "old-answers.json").read_text())
NOW = "2026-11-27T00:06:00Z"


def _unpack(name: str, target: Path) -> Path:
    return gunzip(DATA / f"{name}.gz", target)


def _answers(state: Path, expected: list[dict[str, Any]]) -> None:
    for case in expected:
        args = ["--state", str(state), "query", *case["query"], "--now", NOW, "--distinct"]
        got = json.loads(ok([*args, "--json"]).stdout)
        old = dict(case["answer"])  # written by the previous version, before estimates settled
        old["distinct"] = settled(old["distinct"], old["distinct_low"], old["distinct_high"])
        assert {key: got[key] for key in old} == old, case["query"]


@pytest.mark.parametrize("name", ["old.json", "old.db"])
def test_an_old_state_answers_as_before_and_after_an_append(tmp_path: Path, name: str) -> None:
    state = _unpack(name, tmp_path / name)
    _answers(state, ANSWERS[name])
    more = _unpack("more.ndjson", tmp_path / "more.ndjson")
    ok(["--state", str(state), "replay", str(more), "--append"])
    _answers(state, ANSWERS[name.replace("old", "appended")])
    assert _saved_edges(state) == "[lo, hi)"  # appended hits kept the old buckets


def _saved_edges(state: Path) -> object:
    if state.suffix == ".db":
        with sqlite3.connect(state) as db:
            (text,) = db.execute("SELECT value FROM meta WHERE key = 'distinct'").fetchone()
        return json.loads(text).get("edges", "[lo, hi)")  # absent: the rule before
    return json.loads(state.read_text())["distinct"]["edges"]


def test_an_old_snapshot_restores_and_answers_as_before(tmp_path: Path) -> None:
    snapshot = _unpack("old-snapshot.json", tmp_path / "old-snapshot.json")
    state = tmp_path / "restored.json"
    ok(["--state", str(state), "snapshot", "restore", str(snapshot)])
    _answers(state, ANSWERS["old.json"])
    resaved = tmp_path / "again.json"
    ok(["--state", str(state), "snapshot", "save", str(resaved)])
    old, again = json.loads(snapshot.read_text()), json.loads(resaved.read_text())
    assert again["distinct"].pop("edges") == "[lo, hi)"  # says which buckets it keeps
    old_sketches, new_sketches = (
        old["distinct"].pop("endpoints"),
        again["distinct"].pop("endpoints"),
    )
    assert again["distinct"] == old["distinct"]
    assert new_sketches.keys() == old_sketches.keys()
    for endpoint, buckets in old_sketches.items():  # the same registers; sparse ones as saved
        assert new_sketches[endpoint].keys() == buckets.keys()
        for bucket, text in buckets.items():
            before, after = (
                HyperLogLog.from_base64(t) for t in (text, new_sketches[endpoint][bucket])
            )
            assert after.registers() == before.registers()
            assert after.sparse_registers() == before.sparse_registers()
            if before.is_sparse:
                assert new_sketches[endpoint][bucket] == text
            else:  # dense registers are saved at 6 bits now (kind 3), 3/4 of the bytes
                assert len(after.to_bytes()) == 6 + 3 * before.m // 4


def test_old_snapshots_merge_with_each_other_and_refuse_new_ones(tmp_path: Path) -> None:
    """Two snapshots with `[lo, hi)` minutes merge as before (the union of a state with
    itself answers what it did); a snapshot with `(lo, hi]` minutes is refused, exit 4."""  # noqa: D205, D209
    snapshot = _unpack("old-snapshot.json", tmp_path / "old-snapshot.json")
    merged, twin = tmp_path / "merged.json", tmp_path / "twin.json"
    shutil.copyfile(snapshot, twin)  # the same shard twice: hits double, users do not
    ok(["merge", str(snapshot), str(twin), "-o", str(merged)])
    state = tmp_path / "merged-state.json"
    ok(["--state", str(state), "snapshot", "restore", str(merged)])
    _answers(state, ANSWERS["old.json"])
    hits = _unpack("more.ndjson", tmp_path / "more.ndjson")
    fresh, new = tmp_path / "fresh.json", tmp_path / "new.json"
    ok(["--state", str(fresh), "replay", str(hits), "-s", "fixed", "--window", "60"])
    ok(["--state", str(fresh), "snapshot", "save", str(new)])
    result = run(["merge", str(snapshot), str(new), "-o", str(tmp_path / "mixed.json")])
    assert_error(result, 4, "[lo, hi)")

"""`hitcount merge` end to end: shards replayed into their own states, merged, restored.

Expectations are brute-force counts over the union of the shard files, read with the json
module (tests/cli_helpers.py).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.cli_helpers import assert_error, ok, ok_json, pairs, read_ndjson, run, write_ndjson
from tests.conftest import SAMPLES, Oracle

START = 1_700_000_000.0


@pytest.fixture(autouse=True)
def _isolated(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(state_env.parent)


def _shard_files(tmp_path: Path, parts: int = 3) -> list[Path]:
    """Shard NDJSON files of one random, slightly out-of-order stream over two hours."""
    rng = random.Random(11)
    shards: list[list[tuple[str, float]]] = [[] for _ in range(parts)]
    for i in range(3000):
        ts = round(START + i * 2.4 - rng.uniform(0, 40), 3)
        shards[rng.randrange(parts)].append((rng.choice(["/a", "/b", "/api/x"]), ts))
    return [write_ndjson(tmp_path / f"shard{i}.ndjson", s) for i, s in enumerate(shards)]


def _snapshots(files: list[Path], *strategy: str) -> list[Path]:
    """Each file replayed into its own state, then saved as `<name>.snap.json`."""
    snapshots = []
    for file in files:
        state, snapshot = file.with_suffix(".state"), file.with_suffix(".snap.json")
        ok(["--state", str(state), "replay", str(file), *strategy])
        ok(["--state", str(state), "snapshot", "save", str(snapshot)])
        snapshots.append(snapshot)
    return snapshots


def test_merged_snapshot_restores_to_the_counts_of_the_whole_stream(tmp_path: Path) -> None:
    files = _shard_files(tmp_path)
    snapshots = _snapshots(files, "-s", "sliding", "--max-window", "3600")
    summary = ok_json(["merge", *map(str, snapshots), "-o", "all.json", "--json"])
    oracle = Oracle(pairs(hit for file in files for hit in read_ndjson(file)))
    clock = max(ts for _, ts in oracle.hits)
    assert summary["sources"] == [str(s) for s in snapshots]
    assert summary["metrics"]["total_hits"] == len(oracle.hits)
    assert summary["clock"] == clock
    ok(["snapshot", "restore", "all.json"])
    for endpoint in ("/a", "/api/x"):
        for last in (60, 1800, 3600):
            answer = ok_json(["query", endpoint, "--last", str(last), "--json"])
            assert answer["count"] == oracle.count(endpoint, clock - last, clock)
            assert answer["exact"] and answer["complete"]


def test_text_summary_and_state_files_as_inputs(tmp_path: Path) -> None:
    files = _shard_files(tmp_path, parts=2)
    _snapshots(files)
    states = [str(file.with_suffix(".state")) for file in files]  # compact state files
    out = ok(["merge", *states, "-o", "all.json"]).stdout
    assert out.startswith("merged 2 snapshots into all.json: fixed(window_s=60")
    assert "3000 hits" in out
    shown = ok_json(["snapshot", "show", "all.json", "--json"])
    assert shown["metrics"]["total_hits"] == 3000


def test_dash_writes_the_snapshot_to_stdout(tmp_path: Path) -> None:
    snapshots = _snapshots(_shard_files(tmp_path, parts=2))
    document = ok(["merge", *map(str, snapshots), "-o", "-"]).stdout
    assert json.loads(document)["format"] == "hitcount-snapshot"
    ok(["snapshot", "restore", "-"], input=document)
    assert ok_json(["metrics", "--json"])["total_hits"] == 3000


def test_mismatching_strategies_are_refused_naming_the_file(tmp_path: Path) -> None:
    files = _shard_files(tmp_path, parts=2)
    fixed = _snapshots(files[:1])
    sliding = _snapshots(files[1:], "-s", "sliding")
    result = run(["merge", str(fixed[0]), str(sliding[0]), "-o", "all.json"])
    assert_error(result, 4, f"{sliding[0]} holds sliding(max_window_s=3600), but {fixed[0]}")
    assert "hitcount swap" in result.stderr
    assert not Path("all.json").exists()


def test_a_damaged_input_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    snapshots = _snapshots(_shard_files(tmp_path, parts=2))
    snapshots[1].write_bytes(snapshots[1].read_bytes()[:200])
    assert_error(run(["merge", *map(str, snapshots), "-o", "all.json"]), 4, str(snapshots[1]))
    assert not Path("all.json").exists()


def test_output_onto_a_foreign_file_is_refused(tmp_path: Path) -> None:
    snapshots = _snapshots(_shard_files(tmp_path, parts=2))
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = run(["merge", *map(str, snapshots), "-o", str(notes)])
    assert_error(result, 4, "is not a hitcount state file; refusing to overwrite it")
    assert notes.read_text() == "my notes\n"


def test_output_onto_a_sqlite_state_is_refused_saying_what_it_is(tmp_path: Path) -> None:
    snapshots = _snapshots(_shard_files(tmp_path, parts=2))
    state = tmp_path / "state.db"
    ok(["--state", str(state), "replay", str(SAMPLES / "web.ndjson")])
    kept = state.read_bytes()
    for command in (["merge", *map(str, snapshots), "-o", str(state)],
                    ["--state", str(state), "snapshot", "save", str(state)]):  # fmt: skip
        result = run(command)
        assert_error(result, 4, "is a SQLite database (a state?)")
        assert "snapshot restore" in result.stderr
        assert state.read_bytes() == kept


def test_an_input_given_twice_and_json_with_dash_are_usage_errors(tmp_path: Path) -> None:
    snapshots = _snapshots(_shard_files(tmp_path, parts=2))
    assert_error(run(["merge", str(snapshots[0]), str(snapshots[0]), "-o", "x.json"]), 2, "twice")
    assert_error(run(["merge", str(snapshots[0]), "-o", "-", "--json"]), 2, "--json")


def test_morris_shards_sharing_a_seed_are_merged_with_a_warning(tmp_path: Path) -> None:
    files = _shard_files(tmp_path, parts=3)
    morris = ["-s", "morris", "--base", "1.1", "--counters", "8"]
    same = _snapshots(files[:2], *morris, "--seed", "4")
    other = _snapshots(files[2:], *morris, "--seed", "5")
    result = ok(["merge", *map(str, [other[0], *same]), "-o", "all.json"])
    assert result.stderr.startswith(
        f"hitcount: warning: {same[0]} and {same[1]} were counted with the same --seed 4"
    )
    assert "3000 hits" in result.stdout
    separate = ok(["merge", str(other[0]), str(same[0]), "-o", "two.json"])
    assert separate.stderr == ""


def test_merge_output_into_a_missing_directory_exits_8_and_creates_nothing(
    tmp_path: Path, state_env: Path
) -> None:
    shard = tmp_path / "shard.ndjson"
    shard.write_text('{"endpoint": "/a", "ts": 1767225600}\n')
    ok(["replay", str(shard)])
    snap = tmp_path / "a.json"
    ok(["snapshot", "save", str(snap)])
    result = run(["merge", str(snap), "-o", str(tmp_path / "missing" / "m.json")])
    assert result.exit_code == 8
    assert "cannot write the snapshot" in result.stderr
    assert not (tmp_path / "missing").exists()


def test_shards_that_read_the_same_file_are_merged_with_a_warning(tmp_path: Path) -> None:
    files = _shard_files(tmp_path, parts=2)
    first, second, copy = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "copy.db"
    ok(["--state", str(first), "replay", str(files[0])])
    ok(["--state", str(second), "replay", str(files[1])])
    copy.write_bytes(first.read_bytes())  # the same state twice, by another name
    apart = ok(["merge", str(first), str(second), "-o", "apart.json"])
    assert apart.stderr == ""  # shards of one stream: no file read twice
    twice = ok(["merge", str(first), str(copy), "-o", "twice.json"])
    assert f"{first} and {copy} both read {files[0].resolve()}" in twice.stderr
    assert "its hits count twice in the merge" in twice.stderr


def test_the_readme_morris_merge_example(tmp_path: Path) -> None:
    """The commands of the README's Morris paragraph print what it says; the interval holds
    the true count, and the merged state keeps each shard's input position."""  # noqa: D205, D209
    lines = (SAMPLES / "web.ndjson").read_text().splitlines(keepends=True)
    shards = []
    for parity, seed in ((1, "1"), (0, "2")):
        part = tmp_path / f"w{2 - parity}.ndjson"
        part.write_text("".join(line for n, line in enumerate(lines, 1) if n % 2 == parity))
        state = tmp_path / f"m{2 - parity}.db"
        ok(["--state", str(state), "replay", str(part), "-s", "morris", "--base", "1.1",
            "--counters", "8", "--seed", seed])  # fmt: skip
        shards.append(str(state))
    merged = tmp_path / "merged.json"
    ok(["merge", *shards, "-o", str(merged)])
    saved = json.loads(merged.read_text())["inputs"]
    assert {p["path"].rpartition("/")[2]: p["lines"] for p in saved} == {
        "w1.ndjson": 10_000,
        "w2.ndjson": 10_000,
    }  # each shard's position: its file is not counted twice
    again = run(["--state", str(merged), "replay", "--append", str(tmp_path / "w1.ndjson")])
    assert again.exit_code == 3 and "already" in again.stderr
    answer = ok(["--state", str(merged), "query", "/api/login"]).stdout.splitlines()[0]
    assert answer == "/api/login: ~1520.5 hits over all time (1317..1799, 95% interval)"
    assert 1317 <= sum('"/api/login"' in line for line in lines) == 1600 <= 1799


def test_a_file_shards_read_to_different_lines_keeps_no_position(tmp_path: Path) -> None:
    """One shard read a file before it grew, the other after: neither position holds."""
    log = tmp_path / "grows.ndjson"
    log.write_text("".join(f'{{"endpoint": "/a", "ts": {1_000 + i}}}\n' for i in range(100)))
    ok(["--state", str(tmp_path / "one.db"), "replay", str(log), "-s", "sliding"])
    with log.open("a") as more:
        more.write("".join(f'{{"endpoint": "/b", "ts": {1_100 + i}}}\n' for i in range(50)))
    ok(["--state", str(tmp_path / "two.db"), "replay", str(log), "-s", "sliding"])
    merged = tmp_path / "merged.json"
    ok(["merge", str(tmp_path / "one.db"), str(tmp_path / "two.db"), "-o", str(merged)])
    assert not json.loads(merged.read_text()).get("inputs")


def test_one_path_naming_two_files_keeps_no_position(tmp_path: Path) -> None:
    """Each machine's `log.ndjson`: one path, two files. Keeping either position would pass
    the other file off as read (its --append would be refused, or not counted)."""  # noqa: D205, D209
    log = tmp_path / "log.ndjson"
    for name, start in (("a.db", 1_000), ("b.db", 5_000)):
        log.write_text("".join(f'{{"endpoint": "/m", "ts": {start + i}}}\n' for i in range(50)))
        ok(["--state", str(tmp_path / name), "replay", str(log), "-s", "sliding"])
        log.unlink()
    merged = tmp_path / "merged.json"
    ok(["merge", str(tmp_path / "a.db"), str(tmp_path / "b.db"), "-o", str(merged)])
    assert not json.loads(merged.read_text()).get("inputs")


def test_a_redis_url_given_to_merge_says_to_save_it_first() -> None:
    error = run(["merge", "redis://127.0.0.1:1/0?namespace=a", "b.json", "-o", "out.json"])
    assert_error(error, 2, "redis://127.0.0.1:1/0?namespace=a: merge reads snapshot or state")
    assert "snapshot save FILE --store URL" in error.stderr


def test_a_merge_keeps_no_alert_tracks(tmp_path: Path) -> None:
    """As the README's merge table says: each shard watched its own share of the hits."""
    shards = []
    for name in ("a", "b"):
        source = tmp_path / f"{name}.ndjson"
        source.write_text("".join(f'{{"endpoint": "/x", "ts": {t}}}\n' for t in (1, 2, 3)))
        state = ["--state", str(tmp_path / f"{name}.json")]
        ok([*state, "replay", str(source), "-s", "sliding", "--alert", "/x>2/60s"])
        assert json.loads((tmp_path / f"{name}.json").read_text())["alerts"]  # a burst on
        shards.append(str(tmp_path / f"{name}.json"))
    ok(["merge", *shards, "-o", str(tmp_path / "m.json")])
    assert not json.loads((tmp_path / "m.json").read_text()).get("alerts")

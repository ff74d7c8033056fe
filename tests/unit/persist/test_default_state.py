"""The default state is SQLite (`state.db`); `.json` paths keep the JSON file.

The old default `state.json` is imported once, never changed, and refused when damaged.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from hitcount.persist.stores import FileStore, SqliteStore, default_store, store_from_url
from hitcount.persist.stores.sqlite import SQLITE_MAGIC
from tests.cli_helpers import assert_error, ok, run

T0 = 1_767_225_600.0


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No HITCOUNT_STATE/STORE; `$XDG_STATE_HOME` is `tmp_path/xdg`."""
    for name in ("HITCOUNT_STATE", "HITCOUNT_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "hitcount"


def _hits(tmp_path: Path, seed: int) -> tuple[Path, dict[str, list[float]]]:
    """Random hits on a few endpoints, and what they are (the oracle)."""
    rng = random.Random(seed)
    truth: dict[str, list[float]] = {}
    lines = []
    for _ in range(rng.randint(20, 200)):
        endpoint, ts = f"/e{rng.randint(0, 4)}", T0 + rng.uniform(0, 3000)
        truth.setdefault(endpoint, []).append(ts)
        lines.append(json.dumps({"endpoint": endpoint, "ts": ts}))
    path = tmp_path / f"hits{seed}.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path, truth


def _exact(args: list[str], endpoint: str) -> float:
    answer = json.loads(ok([*args, "query", endpoint, "--last", "1d", "--json"]).stdout)
    return float(answer["count"])


def test_the_default_state_is_a_sqlite_database_under_xdg_state_home(
    home: Path, tmp_path: Path
) -> None:
    hits, truth = _hits(tmp_path, 1)
    ok(["replay", str(hits), "-s", "sliding", "--max-window", "1d"])
    assert (home / "state.db").read_bytes()[:16] == SQLITE_MAGIC
    assert not (home / "state.json").exists()
    for endpoint, stamps in truth.items():
        assert _exact([], endpoint) == len(stamps)


def test_without_xdg_state_home_the_default_is_under_local_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HITCOUNT_STATE", "HITCOUNT_STORE", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    store = default_store()
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / ".local" / "state" / "hitcount" / "state.db"


def test_paths_choose_their_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(store_from_url(str(tmp_path / "s.json")), FileStore)
    assert isinstance(store_from_url(str(tmp_path / "s.JSON")), FileStore)
    assert isinstance(store_from_url(str(tmp_path / "new-state")), SqliteStore)
    # an existing JSON state under another name keeps working as a JSON file
    old = tmp_path / "old-state"
    ok(["--state", str(tmp_path / "made.json"), "replay", str(_hits(tmp_path, 2)[0])])
    old.write_bytes((tmp_path / "made.json").read_bytes())
    assert isinstance(store_from_url(str(old)), FileStore)
    monkeypatch.setenv("HITCOUNT_STATE", str(tmp_path / "env.json"))
    assert isinstance(default_store(), FileStore)
    assert isinstance(store_from_url(None), FileStore)


@pytest.mark.parametrize("strategy", ["fixed", "sliding", "morris", "ehist", "tiered", "auto"])
def test_the_old_default_state_json_is_imported_once_and_left_as_it_is(
    home: Path, tmp_path: Path, strategy: str
) -> None:
    old = home / "state.json"
    hits, truth = _hits(tmp_path, 3)
    home.mkdir(parents=True)
    ok(["--state", str(old), "replay", str(hits), "-s", strategy])
    before, mtime = old.read_bytes(), old.stat().st_mtime_ns
    first = run(["query", "/e1", "--last", "1d", "--json"])
    assert first.exit_code == 0, first.stderr
    assert f"note: imported the old state {old}" in first.stderr
    assert (home / "state.db").read_bytes()[:16] == SQLITE_MAGIC
    again = run(["query", "/e1", "--last", "1d", "--json"])
    assert "imported" not in again.stderr
    # the imported state answers as the JSON state does, and as the hits say where exact
    for endpoint, stamps in truth.items():
        asked = ["query", endpoint, "--last", "1d", "--json"]
        via_db = json.loads(ok(asked).stdout)
        via_json = json.loads(ok(["--state", str(old), *asked]).stdout)
        assert via_db == via_json
        if via_db["exact"]:
            assert via_db["count"] == len(stamps)
    assert old.read_bytes() == before and old.stat().st_mtime_ns == mtime
    # appends go to the database; the old file stays as it was
    ok(["replay", "--append", str(_hits(tmp_path, 4)[0])])
    assert old.read_bytes() == before


def test_an_existing_state_db_is_not_overwritten_by_the_old_json(
    home: Path, tmp_path: Path
) -> None:
    hits, truth = _hits(tmp_path, 5)
    ok(["replay", str(hits), "-s", "sliding"])
    ok(["--state", str(home / "state.json"), "replay", str(_hits(tmp_path, 6)[0])])
    result = run(["query", "/e0", "--last", "1d", "--json"])
    assert "imported" not in result.stderr
    assert json.loads(result.stdout)["count"] == len(truth.get("/e0", []))


@pytest.mark.parametrize(
    "damage", [b"{not json", b'{"format": "something-else"}', b"", b'{"format": "hitcount-state"}']
)
def test_a_damaged_old_state_json_is_refused_and_nothing_is_written(
    home: Path, damage: bytes
) -> None:
    home.mkdir(parents=True)
    old = home / "state.json"
    old.write_bytes(damage)
    result = run(["query", "/a", "--last", "1h"])
    assert_error(result, 4, str(old))
    assert "cannot be imported" in result.stderr
    assert "--state" in result.stderr  # the hint names a way on
    assert old.read_bytes() == damage
    assert sorted(p.name for p in home.iterdir()) == ["state.json"]


_IMPORTER = """
import sys
from hitcount.persist.stores import default_store
from hitcount import load_counter
store = default_store()
notes = []
store.on_note = notes.append
counter = load_counter(store)
print(counter.metrics.total_hits, len(notes))
"""


@pytest.mark.slow
def test_processes_importing_at_once_make_one_whole_database(home: Path, tmp_path: Path) -> None:
    old = home / "state.json"
    hits, truth = _hits(tmp_path, 7)
    home.mkdir(parents=True)
    ok(["--state", str(old), "replay", str(hits), "-s", "fixed"])
    env = {**os.environ, "XDG_STATE_HOME": str(home.parent)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _IMPORTER], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=60)[0].split() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    total = sum(len(v) for v in truth.values())
    assert {int(out[0]) for out in outputs} == {total}
    assert sum(int(out[1]) for out in outputs) >= 1
    assert not [p.name for p in home.iterdir() if ".import-" in p.name]  # no temporaries


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["state", "state.db"])
def test_a_fifo_named_as_the_state_is_refused_without_waiting(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    result = run(["--state", str(fifo), "query", "/a", "--last", "1h"])
    assert_error(result, 4, "not a regular file")


@pytest.mark.parametrize("strategy", ["fixed", "sliding"])
def test_sqlite_states_merge_and_show_as_their_snapshots_do(tmp_path: Path, strategy: str) -> None:
    states, snapshots = [], []
    for seed in (11, 12):
        hits, _ = _hits(tmp_path, seed)
        state, snapshot = tmp_path / f"shard{seed}.db", tmp_path / f"shard{seed}.json"
        ok(["--state", str(state), "replay", str(hits), "-s", strategy])
        ok(["--state", str(state), "snapshot", "save", str(snapshot)])
        states.append(str(state))
        snapshots.append(str(snapshot))
    ok(["merge", *states, "-o", str(tmp_path / "from-db.json")])
    ok(["merge", *snapshots, "-o", str(tmp_path / "from-snap.json")])
    shown = [_shown(tmp_path / name) for name in ("from-db.json", "from-snap.json")]
    assert shown[0] == shown[1] and shown[0]["metrics"]["total_hits"] > 0
    assert _shown(Path(states[0])) == _shown(Path(snapshots[0]))


def _shown(path: Path) -> dict[str, object]:
    """`snapshot show --json` without the file's own name."""
    shown = json.loads(ok(["snapshot", "show", str(path), "--json"]).stdout)
    shown.pop("file")
    return dict(shown)


@pytest.mark.parametrize(
    ("how", "name"),
    [("--state", "s.db"), ("--state", "s.json"), ("HITCOUNT_STATE", "s.db"),
     ("HITCOUNT_STATE", "s.json"), ("--store sqlite://", "s.db")],
)  # fmt: skip
def test_a_named_state_in_a_missing_directory_is_refused_and_nothing_is_made(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, how: str
) -> None:
    """A path the user named must be in a directory that exists (a typo would hide the
    state); the default location is made when missing."""  # noqa: D205, D209
    log, truth = _hits(tmp_path, 7)
    missing = tmp_path / "typo" / "deeper"
    path = missing / name
    if how == "HITCOUNT_STATE":
        monkeypatch.setenv("HITCOUNT_STATE", str(path))
        chosen: list[str] = []
    elif how == "--state":
        chosen = ["--state", str(path)]
    else:
        chosen = ["--store", f"sqlite://{path}"]
    result = run([*chosen, "replay", str(log)])
    assert_error(result, 5, f"{missing}: no such directory for the state {name}")
    assert f"mkdir -p {missing}" in result.stderr
    assert not (tmp_path / "typo").exists()
    missing.mkdir(parents=True)
    ok([*chosen, "replay", str(log)])
    total = ok([*chosen, "metrics", "--json"]).stdout
    assert json.loads(total)["total_hits"] == sum(map(len, truth.values()))
    monkeypatch.delenv("HITCOUNT_STATE", raising=False)
    assert not home.exists()
    ok(["replay", str(log)])  # the default location is made
    assert (home / "state.db").exists()

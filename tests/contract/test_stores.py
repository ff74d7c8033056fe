"""State stores: round trips, all-or-nothing updates, atomic files, concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hitcount import (
    ConfigurationError,
    FileStore,
    HitCounter,
    StateError,
    load_counter,
    save_counter,
    store_from_url,
    updating,
)
from hitcount.persist.stores import MemoryStore, Store, default_state_path

T0 = 1_767_225_600.0


def test_empty_store_has_no_state(store: Store) -> None:
    assert store.load() is None
    with pytest.raises(StateError, match="no saved state"):
        load_counter(store)


def test_save_and_load_round_trip(store: Store, strategy_name: str) -> None:
    counter = HitCounter(strategy_name)
    counter.record_many(("/a", T0 + i) for i in range(20))
    save_counter(store, counter)
    loaded = load_counter(store)
    assert loaded.metrics == counter.metrics
    assert loaded.query("/a", 60) == counter.query("/a", 60)


def test_update_saves_on_success_and_keeps_old_state_on_error(store: Store) -> None:
    with updating(store, lambda: HitCounter("sliding")) as counter:
        counter.record("/a", T0)
    before = store.load()
    with pytest.raises(RuntimeError), updating(store) as counter:
        counter.record("/a", T0 + 1)
        raise RuntimeError("crash in the middle")
    assert store.load() == before
    assert load_counter(store).metrics.total_hits == 1


def test_file_store_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "s.json")
    for i in range(5):
        save_counter(store, HitCounter(window_s=10 + i))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_file_store_reports_a_directory_as_state_error(tmp_path: Path) -> None:
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(StateError, match="is a directory"):
        FileStore(tmp_path / "dir.json").load()


def test_store_urls() -> None:
    assert isinstance(store_from_url("memory://"), MemoryStore)
    assert isinstance(store_from_url("/tmp/x.json"), FileStore)
    file_store = store_from_url("file:///tmp/y.json")
    assert isinstance(file_store, FileStore) and str(file_store.path) == "/tmp/y.json"
    with pytest.raises(ConfigurationError) as info:
        store_from_url("ftp://host/state")
    assert "memory://" in (info.value.hint or "")


def test_default_state_path_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HITCOUNT_STATE", str(tmp_path / "a.json"))
    assert default_state_path() == tmp_path / "a.json"
    monkeypatch.delenv("HITCOUNT_STATE")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_path() == tmp_path / "hitcount" / "state.db"


_WRITER = textwrap.dedent(
    """
    import sys
    from hitcount import FileStore, HitCounter, updating
    store = FileStore(sys.argv[1])
    endpoint = sys.argv[2]
    for i in range(int(sys.argv[3])):
        with updating(store, lambda: HitCounter("fixed")) as counter:
            counter.record(endpoint, 1767225600.0 + i)
    """
)


@pytest.mark.slow
def test_two_processes_writing_one_state_file_lose_no_update(tmp_path: Path) -> None:
    state = tmp_path / "shared.json"
    rounds = 40
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(state), endpoint, str(rounds)])
        for endpoint in ("/one", "/two", "/three")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    counter = load_counter(FileStore(state))
    assert counter.metrics.total_hits == 3 * rounds
    assert counter.strategy.totals() == {"/one": rounds, "/two": rounds, "/three": rounds}


def test_a_file_that_is_not_a_state_is_never_overwritten(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hitcount.cli import app
    from tests.conftest import SAMPLES

    precious = tmp_path / "notes.txt"
    precious.write_text("do not lose me\n")
    runner = CliRunner()
    sample = str(SAMPLES / "web.csv")
    replayed = runner.invoke(app, ["--state", str(precious), "replay", sample])
    assert replayed.exit_code == 4
    assert "not a hitcount state file" in replayed.stderr
    assert precious.read_text() == "do not lose me\n"

    state = tmp_path / "state.json"
    assert runner.invoke(app, ["--state", str(state), "replay", sample]).exit_code == 0
    saved = runner.invoke(app, ["--state", str(state), "snapshot", "save", str(precious)])
    assert saved.exit_code == 4
    assert precious.read_text() == "do not lose me\n"
    snapshot = tmp_path / "snap.json"
    for _ in range(2):  # an existing snapshot may be replaced
        assert (
            runner.invoke(app, ["--state", str(state), "snapshot", "save", str(snapshot)]).exit_code
            == 0
        )


def test_a_replay_of_nothing_leaves_the_saved_state_alone(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hitcount.cli import app
    from tests.conftest import SAMPLES

    state = tmp_path / "state.json"
    runner = CliRunner()
    assert (
        runner.invoke(app, ["--state", str(state), "replay", str(SAMPLES / "web.csv")]).exit_code
        == 0
    )
    before = state.read_bytes()
    wrong_format = [
        "--state",
        str(state),
        "replay",
        str(SAMPLES / "web.csv"),
        "--format",
        "combined",
    ]
    result = runner.invoke(app, wrong_format)
    assert result.exit_code == 3
    assert "no hits" in result.stderr
    empty_pipe = runner.invoke(app, ["--state", str(state), "replay", "-"], input="")
    assert empty_pipe.exit_code == 3
    assert state.read_bytes() == before


def test_queries_decode_distinct_sketches_only_when_asked(tmp_path: Path) -> None:
    import msgspec
    from typer.testing import CliRunner

    from hitcount.cli import app
    from tests.conftest import SAMPLES

    state = tmp_path / "state.json"
    runner = CliRunner()
    args = ["--state", str(state)]
    assert runner.invoke(app, [*args, "replay", str(SAMPLES / "web.ndjson")]).exit_code == 0
    document = msgspec.json.decode(state.read_bytes())
    document["distinct"]["sketches"] = {"/": {"0": "not base64!"}}  # damaged sketches
    state.write_bytes(msgspec.json.encode(document))
    plain = runner.invoke(app, [*args, "query", "/", "--last", "1h"])
    assert plain.exit_code == 0  # the hit counts do not need the sketches
    distinct = runner.invoke(app, [*args, "query", "/", "--last", "1h", "--distinct"])
    assert distinct.exit_code == 4
    assert "invalid snapshot" in distinct.stderr and "Traceback" not in distinct.output
    swap = runner.invoke(app, [*args, "swap", "fixed", "--window", "120"])
    assert swap.exit_code == 4  # writers still check everything before saving


def test_append_cannot_silently_drop_distinct_sketches(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hitcount.cli import app
    from tests.conftest import SAMPLES

    state = tmp_path / "state.json"
    runner = CliRunner()
    args = ["--state", str(state), "replay"]
    assert runner.invoke(app, [*args, str(SAMPLES / "web.ndjson")]).exit_code == 0
    before = state.read_bytes()
    dropped = runner.invoke(app, [*args, str(SAMPLES / "late.ndjson"), "--append", "--no-distinct"])
    assert dropped.exit_code == 2
    assert "--no-distinct" in dropped.stderr
    assert state.read_bytes() == before


def test_only_hitcount_temporaries_are_removed_as_stale(tmp_path: Path) -> None:
    import os
    import time

    from hitcount.persist.atomic import remove_stale_temporaries, write_output

    state = tmp_path / "state.json"
    mine = tmp_path / ".state.json.abc123.hitcount-tmp"  # left by a killed writer
    users = [tmp_path / ".state.json.backup-2026", tmp_path / ".state.json.old"]
    for path in [mine, *users]:
        path.write_text("x")
    store = FileStore(state)
    with updating(store, lambda: HitCounter("fixed")) as counter:
        counter.record("/a", 1_767_225_600.0)
    assert not mine.exists()
    assert all(path.exists() for path in users)
    # An output file's temporaries go only once they are old: a writer may be at work.
    out = tmp_path / "snap.json"
    fresh, old = tmp_path / ".snap.json.f.hitcount-tmp", tmp_path / ".snap.json.o.hitcount-tmp"
    fresh.write_text("x")
    old.write_text("x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    write_output(out, [b"{}"], what="snapshot")
    assert fresh.exists() and not old.exists()
    remove_stale_temporaries(out)
    assert not fresh.exists()


def test_a_fifo_or_a_device_as_state_is_refused_without_reading(tmp_path: Path) -> None:
    import os

    from hitcount.persist.reading import read_document_file

    fifo = tmp_path / "state.fifo"
    os.mkfifo(fifo)  # opened for reading, it would block every command
    for path in (fifo, Path("/dev/zero")):  # /dev/zero would be read without end
        with pytest.raises(StateError, match="not a regular file"):
            FileStore(path).load()
        with pytest.raises(StateError, match="not a regular file"):
            read_document_file(path, "snapshot")


def test_a_file_larger_than_the_cap_is_refused_after_cap_plus_one_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitcount.persist import reading

    big = tmp_path / "state.json"
    big.write_bytes(b"x" * 1000)
    monkeypatch.setattr(reading, "MAX_DOCUMENT_BYTES", 999)
    with pytest.raises(StateError, match="larger than any hitcount state"):
        FileStore(big).load()
    monkeypatch.setattr(reading, "MAX_DOCUMENT_BYTES", 1000)
    assert FileStore(big).load() == b"x" * 1000


def test_a_directory_as_state_is_refused_without_a_lock_file_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    with pytest.raises(StateError, match="is a directory"), updating(FileStore(folder)):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]

"""The replay service (`hitcount.ops.replaying`) as a library: hooks instead of printing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hitcount import MemoryStore
from hitcount.errors import ConfigurationError
from hitcount.ingest.replay import FIRST_BAD_LINES, BadLineInfo
from hitcount.ops.replaying import ReplayHooks, ReplaySettings, is_ndjson, replay_into_store
from hitcount.persist.state import load_counter


def _write(path: Path, lines: list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_replay_saves_the_state_and_reports_through_hooks(tmp_path: Path) -> None:
    lines = [f'{{"endpoint": "/a", "ts": {1000 + i}}}' for i in range(3)] + ["not json"] * 9
    source = _write(tmp_path / "hits.ndjson", lines)
    store, bad, saved = MemoryStore(), list[BadLineInfo](), list[bool]()
    hooks = ReplayHooks(on_bad_line=bad.append, on_saved=lambda: saved.append(True))
    outcome = replay_into_store(store, [source], ReplaySettings(strategy="sliding"), hooks)
    assert (outcome.report.hits_kept, outcome.report.bad_lines) == (3, 9)
    assert len(bad) == FIRST_BAD_LINES and saved == [True]
    assert outcome.metrics["strategy"] == load_counter(store).metrics_dict()["strategy"]


def test_append_refuses_another_strategy_and_keeps_the_state(tmp_path: Path) -> None:
    source = _write(tmp_path / "hits.ndjson", ['{"endpoint": "/a", "ts": 1000}'])
    store = MemoryStore()
    replay_into_store(store, [source], ReplaySettings(strategy="sliding"), ReplayHooks())
    before = store.load()
    with pytest.raises(ConfigurationError, match="cannot change the strategy"):
        settings = ReplaySettings(strategy="fixed", append=True)
        replay_into_store(store, [source], settings, ReplayHooks())
    assert store.load() == before


def test_resume_needs_append_and_works_on_every_store(tmp_path: Path) -> None:
    source = _write(tmp_path / "hits.ndjson", ['{"endpoint": "/a", "ts": 1000}'])
    with pytest.raises(ConfigurationError, match="goes with"):
        replay_into_store(MemoryStore(), [source], ReplaySettings(resume=True), ReplayHooks())
    store, settings = MemoryStore(), ReplaySettings(resume=True, append=True)
    for _ in range(3):
        outcome = replay_into_store(store, [source], settings, ReplayHooks())
        assert outcome.metrics["total_hits"] == 1


def test_ndjson_is_known_by_format_name_or_first_byte(tmp_path: Path) -> None:
    sniffed = _write(tmp_path / "hits.log", ['{"endpoint": "/a", "ts": 1}'])
    assert is_ndjson(sniffed, None) and not is_ndjson(sniffed, "csv")
    assert is_ndjson(str(tmp_path / "x.ndjson"), None)
    assert not is_ndjson(str(tmp_path / "missing.log"), None)

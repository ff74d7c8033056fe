"""`hitcount snapshot save|restore|show`.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.conftest import DAMAGE, HAND_HITS, HOSTILE, SLIDING, assert_inert, metrics
from tests.cli_helpers import assert_error, ok, ok_json, query, run, write_ndjson
from tests.conftest import SAMPLES

HAND_NOW = 2000.0


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_restoring_a_damaged_snapshot_exits_4_and_keeps_the_state(
    good_state: bytes, state_env: Path, tmp_path: Path, damage: str
) -> None:
    (tmp_path / "snap.json").write_bytes(DAMAGE[damage](good_state))
    assert_error(run(["snapshot", "restore", "snap.json"]), 4, "snap.json")
    assert_error(run(["snapshot", "show", "snap.json"]), 4, "snap.json")
    assert state_env.read_bytes() == good_state


def test_a_snapshot_whose_clock_is_a_century_ahead_is_not_restored_or_merged(
    good_state: bytes, state_env: Path, tmp_path: Path
) -> None:
    """Replay and --now refuse times more than a year ahead; a snapshot shifted there took
    no real hit again ("20000 too late"): restore and merge refuse it (QA G9)."""  # noqa: D205, D209
    century = 100 * 365 * 86400.0
    shifted = ["--state", str(tmp_path / "shift.json"), "replay", str(SAMPLES / "web.ndjson")]
    ok([*shifted, "-s", "sliding", "--no-distinct"])
    document = json.loads((tmp_path / "shift.json").read_text())
    document["clock"] += century
    document["horizon"] += century
    packed = document["state"]["timestamps_f8"]  # base64 of little-endian float64s
    document["state"]["timestamps_f8"] = {
        endpoint: base64.b64encode(
            (np.frombuffer(base64.b64decode(text), "<f8") + century).tobytes()
        ).decode()
        for endpoint, text in packed.items()
    }
    (tmp_path / "ahead.json").write_text(json.dumps(document))
    said = "ahead.json: its clock (2126-"
    assert_error(run(["snapshot", "restore", str(tmp_path / "ahead.json")]), 4, said)
    merged = ["merge", str(tmp_path / "ahead.json"), str(tmp_path / "shift.json")]
    assert_error(run([*merged, "-o", str(tmp_path / "m.json")]), 4, said)
    assert state_env.read_bytes() == good_state and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        ("more-hits-than-recorded", "hold 7 hits together, more than the 6 ever recorded"),
        ("data-after-the-clock", "holds hits at 1970-01-01T00:33:20Z, after its clock"),
        ("data-before-the-horizon", "holds hits at 1970-01-01T00:00:00Z, before its horizon"),
    ],
)
def test_a_forged_state_file_is_refused_by_every_command_and_left_alone(
    good_state: bytes, state_env: Path, tmp_path: Path, damage: str, why: str
) -> None:
    forged = DAMAGE[damage](good_state)
    state_env.write_bytes(forged)
    log = write_ndjson(tmp_path / "more.ndjson", [("/x", 2001.0)])
    for args in (["query", "/api/login", "--last", "1h"], ["replay", str(log), "--append"]):
        assert_error(run(args), 4, why)
    assert state_env.read_bytes() == forged  # nothing saved over it


def test_restoring_a_missing_snapshot_exits_4(good_state: bytes, state_env: Path) -> None:
    assert_error(run(["snapshot", "restore", "nope.json"]), 4, "nope.json")
    assert state_env.read_bytes() == good_state


@pytest.mark.usefixtures("hostile_state")
def test_snapshot_show_and_errors_keep_hostile_text_inert(tmp_path: Path) -> None:
    ok(["snapshot", "save", "snap.json"])
    shown = ok(["snapshot", "show", "snap.json"])
    assert_inert(shown.stdout + shown.stderr)
    assert "[bold red]x[/]" in shown.stdout
    document = ok_json(["snapshot", "show", "snap.json", "--json"])
    assert sorted(row["endpoint"] for row in document["endpoints"]) == sorted(HOSTILE)
    failed = run(["query", "/a", "--last", "5", "--now", "\x1b[2J[bold]"])
    assert failed.exit_code == 2
    assert_inert(failed.stderr)
    assert "[bold]" in failed.stderr


def test_snapshot_save_replay_restore_returns_to_the_saved_state(
    tmp_path: Path, state_env: Path
) -> None:
    ok(["replay", str(SAMPLES / "late.ndjson"), *SLIDING])
    saved_metrics = metrics()
    questions = [("/api/login", "1h"), ("/api/*", "10m"), ("/", "60")]
    saved_answers = [query(ep, last) for ep, last in questions]
    saved = ok_json(["snapshot", "save", "snap.json", "--json"])
    assert saved["endpoints_count"] == saved_metrics["endpoints_count"]
    assert saved["strategy"].startswith("sliding")

    more = write_ndjson(
        tmp_path / "more.ndjson", [("/api/login", 1795791700.0 + i) for i in range(9)]
    )
    ok(["replay", str(more), "--append"])
    assert metrics()["total_hits"] == saved_metrics["total_hits"] + 9

    restored = ok_json(["snapshot", "restore", "snap.json", "--json"])
    assert restored["metrics"] == saved_metrics
    assert metrics() == saved_metrics
    assert [query(ep, last) for ep, last in questions] == saved_answers
    assert ok_json(["events", "--json"])[-1]["event"] == "snapshot_restored"


def test_snapshot_show_reports_the_strategy(good_state: bytes) -> None:
    ok(["snapshot", "save", "snap.json", "--compact"])
    assert len(Path("snap.json").read_bytes().splitlines()) == 1
    shown = ok_json(["snapshot", "show", "snap.json", "--json"])
    assert shown["strategy"] == "sliding(max_window_s=3600)"
    assert shown["format"] == "hitcount-snapshot"
    assert shown["metrics"]["total_hits"] == len(HAND_HITS)
    assert shown["clock"] == HAND_NOW
    assert shown["endpoints"][0] == {"endpoint": "/api/login", "retained": 5}
    text = ok(["snapshot", "show", "snap.json"]).stdout
    assert "sliding(max_window_s=3600)" in text
    assert "/api/login" in text


def test_snapshot_file_is_a_self_describing_json_document(good_state: bytes) -> None:
    ok(["snapshot", "save", "snap.json"])
    document = json.loads(Path("snap.json").read_text(encoding="utf-8"))
    assert document["format"] == "hitcount-snapshot"
    assert document["version"] == 1
    assert document["strategy"] == {"name": "sliding", "params": {"max_window_s": 3600.0}}
    assert document["clock"] == HAND_NOW
    assert document["metrics"]["total_hits"] == len(HAND_HITS)


def test_snapshot_save_into_a_missing_directory_exits_8_and_creates_nothing(
    good_state: bytes, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "dir" / "snap.json"
    result = run(["snapshot", "save", str(target)])
    assert result.exit_code == 8
    assert "cannot write the snapshot" in result.stderr
    assert not (tmp_path / "missing").exists()

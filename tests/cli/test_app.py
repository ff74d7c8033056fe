"""The app as a whole: global options, errors and exit codes, --help, --version, the script.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from hitcount.cli import app
from hitcount.cli.argv import globals_first
from hitcount.cli.flags import message_with_flag
from hitcount.errors import ConfigurationError
from tests.cli.conftest import ANSI, DAMAGE, HAND_HITS, SLIDING, metrics
from tests.cli_helpers import (
    COLOUR_FORCING_ENV,
    assert_error,
    ok,
    ok_json,
    read_ndjson,
    run,
    write_ndjson,
)
from tests.conftest import SAMPLES


@pytest.mark.parametrize("command", ["replay", "swap"])
def test_unknown_strategy_exits_6_and_lists_the_valid_ones(tmp_path: Path, command: str) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    ok(["replay", str(good)])
    args = (
        ["replay", str(good), "--strategy", "bogus"] if command == "replay" else ["swap", "bogus"]
    )
    result = run(args)
    assert_error(result, 6, "unknown strategy 'bogus'")
    for name in ("fixed", "sliding", "morris"):
        assert name in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["query", "/a", "--last", "abc"], "--last must be a duration"),
        (["query", "/a", "--last", "-5"], "--last must be a duration"),
        (["query", "/a", "--last", "0"], "--last must be greater than 0"),
        (["top", "--last", "abc"], "--last must be a duration"),
        (["query", "/a", "--last", "5", "--now", "garbage"], "--now: "),
        (["query", "/a", "--last", "5", "--now", "nan"], "--now: "),
        (["top", "--last", "5", "--limit", "0"], "--limit must be >= 1"),
        (["replay", "good.ndjson", "--window", "-1"], "--window must be >= "),
        (["replay", "good.ndjson", "-s", "sliding", "--max-window", "-3"], "--max-window"),
        (["replay", "good.ndjson", "--max-lateness", "-1"], "--max-lateness"),
        (["replay", "good.ndjson", "-s", "morris", "--base", "1"], "--base must be > 1"),
        (["replay", "good.ndjson", "--format", "xml"], "unknown format 'xml'"),
        (["replay", "good.ndjson", "-p", "nonsense"], "--param must look like NAME=VALUE"),
        (["swap", "fixed", "--window", "-1"], "--window must be >= "),
        (["demo", "--scenario", "9"], "no scenario 9"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bad_option_values_exit_2_with_one_error_line(
    tmp_path: Path, state_env: Path, args: list[str], fragment: str
) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "good.ndjson", HAND_HITS))])
    before = state_env.read_bytes()
    assert_error(run(args), 2, fragment)
    assert state_env.read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ["query", "/a", "--last", "abc"],
        ["top", "--last", "-5"],
        ["swap", "fixed", "--window", "-1"],
    ],
)
def test_usage_errors_do_not_depend_on_saved_state(args: list[str]) -> None:
    assert run(args).exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["query", "/a", "--last", "5"],
        ["top", "--last", "5"],
        ["metrics"],
        ["events"],
        ["swap", "morris"],
        ["snapshot", "save", "snap.json"],
    ],
    ids=lambda args: args[0] if args[0] != "snapshot" else "snapshot save",
)
def test_commands_without_saved_state_exit_4(state_env: Path, args: list[str]) -> None:
    assert_error(run(args), 4, "no saved state")
    assert not state_env.exists()
    assert not Path("snap.json").exists()


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_state_file_exits_4_and_is_left_alone(
    good_state: bytes, state_env: Path, damage: str
) -> None:
    damaged = DAMAGE[damage](good_state)
    state_env.write_bytes(damaged)
    for args in (
        ["query", "/api/login", "--last", "60"],
        ["top", "--last", "60"],
        ["metrics"],
        ["events"],
        ["swap", "fixed"],
        ["snapshot", "save", "snap.json"],
        ["replay", "good.ndjson", "--append"],
    ):
        result = run(args)
        assert_error(result, 4, str(state_env))
        assert state_env.read_bytes() == damaged, args
    assert not Path("snap.json").exists()
    if damage == "newer-version":
        assert "newer than this hitcount understands" in run(["metrics"]).stderr


def test_version_is_the_installed_distribution_version() -> None:
    assert ok(["--version"]).stdout.strip() == f"hitcount {version('hitcount')}"


def _command_paths() -> list[list[str]]:
    """Every command and subcommand registered on the app, found by walking it."""
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]

    def walk(command: Any, prefix: list[str]) -> None:
        if not hasattr(command, "list_commands"):
            return
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):  # built on demand: the Click API, not .commands
            paths.append([*prefix, name])
            walk(command.get_command(ctx, name), [*prefix, name])

    walk(root, [])
    return paths


HELP_PATHS = _command_paths()


def test_help_covers_the_documented_commands() -> None:
    names = {" ".join(path) for path in HELP_PATHS}
    expected = {"replay", "query", "top", "metrics", "events", "swap", "strategies", "demo"}
    assert expected | {"snapshot", "snapshot save", "snapshot restore", "snapshot show"} <= names


@pytest.mark.parametrize("path", HELP_PATHS, ids=lambda path: " ".join(path) or "hitcount")
def test_every_help_has_an_example(path: list[str]) -> None:
    for flag in ("--help", "-h"):
        result = ok([*path, flag])
        assert "Usage:" in result.stdout
        assert "Example:" in result.stdout, result.stdout


def test_help_shows_the_defaults_written_in_brackets() -> None:
    assert "XDG_STATE_HOME" in ok(["--help"]).stdout
    replay_help = ok(["replay", "--help"]).stdout
    assert "default: fixed" in " ".join(replay_help.split())
    assert "sniffed" in replay_help


def test_store_option_overrides_the_state_environment_variable(
    tmp_path: Path, state_env: Path
) -> None:
    other = tmp_path / "other.json"
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    ok(["--store", str(other), "replay", str(good)])
    assert other.exists()
    assert not state_env.exists()


def test_state_option_and_env_select_the_state_file(tmp_path: Path, state_env: Path) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    ok(["replay", str(good)])
    assert state_env.exists()
    other = tmp_path / "sub" / "other.json"
    result = run(["--state", str(other), "replay", str(good), *SLIDING])
    assert result.exit_code == 5 and "mkdir -p" in result.stderr  # a named path's directory
    other.parent.mkdir()
    ok(["--state", str(other), "replay", str(good), *SLIDING])
    assert other.exists()
    assert metrics()["strategy"] == "fixed"  # HITCOUNT_STATE's file is untouched
    assert ok_json(["--state", str(other), "metrics", "--json"])["strategy"] == "sliding"


def test_text_output_has_no_ansi_codes_when_not_a_terminal(good_state: bytes) -> None:
    for args in (["top", "--last", "1h"], ["metrics"], ["query", "/api/*", "--last", "1h"],
                 ["strategies"], ["events"], ["demo", "--scenario", "1"]):  # fmt: skip
        result = ok(args)
        assert not ANSI.search(result.stdout + result.stderr), args


@pytest.mark.slow
def test_installed_console_script_end_to_end(tmp_path: Path) -> None:
    script = shutil.which("hitcount")
    assert script is not None, "the hitcount console script is not installed (pip install -e .)"
    env = {k: v for k, v in os.environ.items() if k not in COLOUR_FORCING_ENV}
    env.pop("HITCOUNT_STORE", None)
    env["HITCOUNT_STATE"] = str(tmp_path / "state.json")
    path = SAMPLES / "web.ndjson"

    def hitcount(*args: str) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [script, *args], env=env, capture_output=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        assert b"Traceback" not in done.stdout + done.stderr
        assert b"\x1b" not in done.stdout, "ANSI escape codes in piped stdout"
        return done

    hitcount("replay", str(path), *SLIDING)
    answer = json.loads(hitcount("query", "/api/login", "--last", "1h", "--json").stdout)
    hits = read_ndjson(path)
    clock = max(hit.ts for hit in hits)
    expected = sum(
        1 for hit in hits if hit.endpoint == "/api/login" and clock - 3600 < hit.ts <= clock
    )
    assert expected > 0
    assert answer["count"] == expected
    assert answer["now"] == clock
    text = hitcount("top", "--last", "1h", "--limit", "3").stdout.decode()
    assert "/api/login" in text


def test_library_parameter_names_become_flags_in_messages() -> None:
    assert_error(run(["query", "/a", "--last", "-1"]), 2, "--last must be a duration")
    assert_error(run(["replay", "x.ndjson", "--window", "0"]), 2, "--window must be >=")
    ok(["replay", "-"], input='{"endpoint": "/a", "ts": 1000}\n')  # report checks after loading
    assert_error(run(["report", "r.html", "--top", "0"]), 2, "--top must be between 1 and")
    err = ConfigurationError("last_s must be a positive number of seconds", param="last_s")
    assert message_with_flag(err) == "--last must be a positive number of seconds"
    assert message_with_flag(err, "report") == "--last must be a positive number of seconds"
    other = ConfigurationError("limit must be between 1 and 100, got 0", param="limit")
    assert message_with_flag(other, "report").startswith("--top must")
    assert message_with_flag(other, "top").startswith("--limit must")
    unknown = ConfigurationError("widget must be round", param="widget")
    assert message_with_flag(unknown) == "widget must be round"


def test_state_option_beats_the_store_environment_variable(
    tmp_path: Path, state_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared.json"
    monkeypatch.setenv("HITCOUNT_STORE", str(shared))
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    local = tmp_path / "local.json"
    ok(["--state", str(local), "replay", str(good)])
    assert local.exists()
    assert not shared.exists()  # the environment's store is left alone


def test_two_environment_variables_naming_different_stores_are_refused(
    tmp_path: Path, state_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITCOUNT_STORE", str(tmp_path / "shared.json"))
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    result = run(["replay", str(good)])
    assert result.exit_code == 2
    assert "HITCOUNT_STATE and HITCOUNT_STORE choose two different stores" in result.stderr
    assert not state_env.exists() and not (tmp_path / "shared.json").exists()


def test_debug_shows_the_chained_cause_and_keeps_the_exit_code(tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    missing = str(tmp_path / "missing.ndjson")
    result = CliRunner().invoke(app, ["--state", state, "--debug", "replay", missing])
    assert result.exit_code == 3
    assert "FileNotFoundError" in result.stderr
    assert "direct cause of the following exception" in result.stderr
    assert result.stderr.rstrip().endswith("hint: check the path")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["replay", "f", "--state", "x"], ["--state", "x", "replay", "f"]),
        (["replay", "f", "--state=x", "--debug"], ["--state=x", "--debug", "replay", "f"]),
        (
            ["--store", "y", "query", "/a", "--namespace", "n"],
            ["--namespace", "n", "--store", "y", "query", "/a"],
        ),
        (
            ["snapshot", "save", "s.json", "--state", "x"],
            ["--state", "x", "snapshot", "save", "s.json"],
        ),
        (["replay", "--", "--state"], ["replay", "--", "--state"]),  # a file named --state
        (["--state", "x", "metrics"], ["--state", "x", "metrics"]),
        (["--version"], ["--version"]),
    ],
)  # fmt: skip
def test_global_options_may_follow_the_command(argv: list[str], expected: list[str]) -> None:
    assert globals_first(argv) == expected


def test_global_options_after_the_command_work_from_the_shell(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    good = write_ndjson(tmp_path / "good.ndjson", HAND_HITS)
    env = {key: value for key, value in os.environ.items() if not key.startswith("HITCOUNT_")}
    command = [sys.executable, "-m", "hitcount"]
    subprocess.run([*command, "replay", str(good), "--state", str(state)], env=env, check=True)
    shown = subprocess.run(
        [*command, "metrics", "--json", "--state", str(state)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(shown.stdout)["total_hits"] == len(HAND_HITS)


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["query", "--bogus"], "No such option: --bogus", "see 'hitcount query -h'"),
        (["--bogus"], "No such option: --bogus", "see 'hitcount -h'"),
        (["query", "/a", "--last"], "Option '--last' requires an argument.", "'hitcount query -h'"),
        (["snapshot", "save"], "Missing argument 'file'.", "see 'hitcount snapshot save -h'"),
    ],
)
def test_usage_errors_read_like_every_other_error(args: list[str], message: str, hint: str) -> None:
    result = run(args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"hitcount: error: {message}")
    assert hint in result.stderr
    assert "Usage:" not in result.stderr


def test_a_redis_store_without_the_redis_extra_says_what_to_install() -> None:
    probe = (
        "import sys; sys.modules['redis'] = None\n"  # as if the extra were not installed
        "from hitcount.cli import main\n"
        "main(['--store', 'redis://127.0.0.1:1/0', 'metrics'])\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 2
    assert "pip install 'hitcount[redis]'" in result.stderr
    assert "internal error" not in result.stderr


def test_a_password_typed_in_store_is_warned_about_and_the_environment_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HITCOUNT_STATE", raising=False)
    url = "redis://user:secret@127.0.0.1:1/0"  # nothing listens: exit 5 after the warning
    typed = run(["--store", url, "metrics"])
    assert typed.exit_code == 5
    assert "a password in --store is visible to every user in `ps`" in typed.stderr
    assert "secret" not in typed.stderr
    monkeypatch.setenv("HITCOUNT_STORE", url)
    from_env = run(["metrics"])
    assert from_env.exit_code == 5
    assert "visible to every user" not in from_env.stderr

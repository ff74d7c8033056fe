"""Start-up: commands load lazily, and a Ctrl-C while hitcount is loading exits cleanly."""

from __future__ import annotations

import builtins
import gc
import inspect
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer

import hitcount.__main__ as entry
from hitcount.cli.commands import COMMANDS


def _modules_loaded_by(*argv: str, prefix: str = "hitcount") -> set[str]:
    """The modules (under `prefix`) a fresh interpreter has imported after running `argv`,
    its stdout a pipe (as a script reads it)."""  # noqa: D205, D209
    code = (
        "import sys\nfrom hitcount.__main__ import main\ntry:\n"
        f"    main({list(argv)!r})\nexcept SystemExit:\n    pass\n"
        f"print(' '.join(m for m in sys.modules if m.startswith({prefix!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split("\n")[-2].split())


def test_version_loads_no_command_and_no_engine() -> None:
    loaded = _modules_loaded_by("--version")
    assert "hitcount.cli.app" in loaded
    assert not [m for m in loaded if m.startswith(("hitcount.engine", "hitcount.cli.commands."))]


def test_start_up_objects_are_frozen_and_the_command_keeps_pythons_thresholds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[tuple[int, ...], int]] = []

    def command(argv: object) -> None:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))

    monkeypatch.setattr("hitcount.cli.main", command)
    before = gc.get_threshold()
    try:
        entry.main([])
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
    assert len(seen) == 1 and seen[0][0] == before and seen[0][1] > 0
    assert before[0] < entry.START_YOUNG_OBJECTS


def test_a_command_loads_only_its_own_module() -> None:
    loaded = _modules_loaded_by("strategies")
    commands = {m for m in loaded if m.startswith("hitcount.cli.commands.")}
    assert commands == {"hitcount.cli.commands.strategies"}


@pytest.mark.parametrize("store", ["state.db", "state.json"])
@pytest.mark.parametrize("asked", [[], ["--json"], ["--distinct"]])
def test_a_piped_query_loads_no_rich_no_numpy_and_not_every_strategy(
    tmp_path: Path, store: str, asked: list[str]
) -> None:
    """What a `query` costs at start-up: it prints plain lines without Rich, reads the state
    without numpy, and loads no strategy but the state's (and the store's table layouts)."""  # noqa: D205, D209
    state = str(tmp_path / store)
    traffic = tmp_path / "hits.ndjson"
    traffic.write_text("".join(f'{{"endpoint": "/a", "ts": {t}, "user": "u{t % 7}"}}\n'
                               for t in range(500)))  # fmt: skip
    subprocess.run([sys.executable, "-m", "hitcount", "--state", state, "replay", str(traffic)],
                   check=True, capture_output=True)  # fmt: skip
    argv = ["--state", state, "query", "/a", "--last", "1m", *asked]
    assert not _modules_loaded_by(*argv, prefix="rich")
    assert not _modules_loaded_by(*argv, prefix="numpy")
    loaded = _modules_loaded_by(*argv)
    others = ("sliding", "morris", "ehist", "auto")  # the state is `fixed`
    assert not loaded & {f"hitcount.strategies.{name}" for name in others}
    assert not [m for m in loaded if m.startswith(("hitcount.live", "hitcount.ingest.replay"))]


def _typer_functions() -> list[Any]:
    """The main callback and every command function (each subcommand of a group)."""
    from hitcount.cli import completion
    from hitcount.cli.app import _version, main_options
    from hitcount.cli.commands import load

    functions: list[Any] = [main_options, _version]
    functions += [
        f
        for name, f in vars(completion).items()
        if inspect.isfunction(f) and f.__module__ == completion.__name__ and name[0] != "_"
    ]
    for name in COMMANDS:
        loaded = load(name)
        if isinstance(loaded, typer.Typer):
            functions += [command.callback for command in loaded.registered_commands]
        else:
            functions.append(loaded)
    return functions


@pytest.mark.parametrize("function", _typer_functions(), ids=lambda f: f.__qualname__)
def test_typer_reads_annotations_already_evaluated(function: Any) -> None:
    """Typer reads every parameter annotation of a command at each start: a string one
    (`from __future__ import annotations`) costs a compile and an eval each time (about
    1.5 ms of a `query`'s start-up), so the command modules keep them evaluated."""  # noqa: D205, D209
    strings = {
        name: kind for name, kind in function.__annotations__.items() if isinstance(kind, str)
    }
    typer_params = {name for name in strings if name != "return"}
    assert not typer_params, f"{function.__qualname__} has string annotations: {strings}"


def test_help_lists_every_registered_command_in_order(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hitcount", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    listed = [
        line.split()[0]
        for line in done.stdout.split("Commands:", 1)[1].splitlines()
        if line.startswith("  ")
    ]
    assert listed == list(COMMANDS)


def test_a_ctrl_c_while_loading_exits_130_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_import = builtins.__import__

    def interrupted(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("hitcount.cli"):
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "hitcount.cli", raising=False)
    monkeypatch.delitem(sys.modules, "hitcount.cli.app", raising=False)
    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as stopped:
        entry.main(["--version"])
    assert stopped.value.code == 130
    assert capsys.readouterr().err == (
        "hitcount: error: interrupted while starting; nothing was read or saved\n"
    )


@pytest.mark.parametrize("delay_s", [0.02, 0.05, 0.08, 0.12, 0.18, 0.25, 0.4])
def test_a_real_ctrl_c_at_any_moment_of_start_up_prints_no_traceback(
    tmp_path: Path, delay_s: float
) -> None:
    executable = shutil.which("hitcount")
    assert executable is not None
    state = tmp_path / "state.json"
    traffic = tmp_path / "hits.ndjson"
    traffic.write_text("".join(f'{{"endpoint": "/a", "ts": {t}}}\n' for t in range(2000)))
    process = subprocess.Popen(
        [executable, "--state", str(state), "replay", str(traffic)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay_s)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    # Before Python installs its handler, or once the work is done and saved, SIGINT ends
    # the process by the signal (-2). Python's own start and `import hitcount` (a few ms,
    # before `main` runs) print its traceback; from `main` on, hitcount answers for it.
    if _python_still_starting(err):
        return
    assert process.returncode in (0, 130, -signal.SIGINT), err
    assert "Traceback" not in err, err
    if process.returncode == 130 and err.endswith("interrupted; the new state was saved\n"):
        assert state.exists()  # caught after the save (a fast machine): it says so
    elif process.returncode == 130:
        assert err.endswith("interrupted while starting; nothing was read or saved\n") or (
            err.endswith("interrupted; the saved state is unchanged\n")
        )
        assert not state.exists()


def _python_still_starting(err: str) -> bool:
    """Interrupted before hitcount's `main` ran: in the interpreter's start, its `site`, or
    `import hitcount` (the package's light `__init__`)."""  # noqa: D205, D209
    frames = re.findall(r'File "([^"]+)"', err)
    ours = [f for f in frames if "/hitcount/" in f and not f.endswith("/hitcount/__init__.py")]
    return "Traceback" in err and not ours


def _all_modules_loaded_by(*argv: str) -> tuple[set[str], str]:
    """Every module a fresh interpreter has imported after running `argv`, and its stdout."""
    code = (
        "import io, sys\nfrom contextlib import redirect_stdout\n"
        "from hitcount.__main__ import main\nout = io.StringIO()\n"
        "try:\n    with redirect_stdout(out):\n"
        f"        main({list(argv)!r})\nexcept SystemExit:\n    pass\n"
        "print(out.getvalue(), end='')\nprint(' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    *printed, modules = done.stdout.rstrip("\n").split("\n")
    return set(modules.split()), "\n".join(printed)


#: What a piped one-endpoint `query` never needs: Rich, numpy, OpenSSL (hashlib, hmac), the
#: follow loop, replay and its progress, the Redis store's modules, plot series, comparisons,
#: strategies other than the state's, and the counter's recording half (it answers from a
#: `SavedState`: no HitCounter, alerts, swaps, events, change tracking, snapshot document
#: code, temporary files nor HyperLogLog sketches), nor `tiered` for a `sliding` state; nor
#: the `json` module (msgspec reads the rows' JSON), base64, SHA-256 (positions are read, not
#: checked), the SQLite store's writers (`sqlite_writes`, the old state's import).
_NOT_FOR_QUERY = (
    "numpy",
    "rich",
    "_hashlib",
    "hmac",
    "hitcount.engine.counter",
    "hitcount.engine.swaps",
    "hitcount.engine.batches",
    "hitcount.persist.document",
    "hitcount.persist.state",
    "hitcount.sketches.hll",
    "hitcount.live.follow",
    "hitcount.ingest.replay",
    "hitcount.ingest.progress",
    "hitcount.persist.stores.redis",
    "hitcount.views.series",
    "hitcount.ops.compare",
    "hitcount.strategies.morris",
    "hitcount.strategies.auto",
    "hitcount.model.events",
    "hitcount.persist.stores.sqlite_changes",
    "tempfile",
    "hitcount.strategies.tiered",
    "json",
    "base64",
    "_sha256",
    "hitcount.model.digests",
    "hitcount.persist.stores.sqlite_writes",
    "hitcount.persist.stores.sqlite_import",
)


@pytest.mark.parametrize("suffix", [".db", ".json"])
@pytest.mark.parametrize("form", [(), ("--json",), ("--csv",)])
def test_query_on_a_saved_state_loads_only_what_it_answers_with(
    tmp_path: Path, suffix: str, form: tuple[str, ...]
) -> None:
    state = tmp_path / f"state{suffix}"
    traffic = tmp_path / "hits.ndjson"
    times = [1_700_000_000 + 7 * i for i in range(300)]
    endpoints = ["/api/login" if i % 3 else "/api/other" for i in range(300)]
    traffic.write_text(
        "".join(
            f'{{"endpoint": "{e}", "ts": {t}}}\n' for e, t in zip(endpoints, times, strict=True)
        )
    )
    subprocess.run(
        [sys.executable, "-m", "hitcount", "--state", str(state), "replay", str(traffic),
         "--strategy", "sliding", "--max-window", "86400"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    argv = ("--state", str(state), "query", "/api/login", "--last", "600", *form)
    loaded, printed = _all_modules_loaded_by(*argv)
    assert not [m for m in loaded if m.startswith(_NOT_FOR_QUERY)]
    assert ("csv" in loaded) == ("--csv" in form)  # the csv module for CSV output only
    end = times[-1]  # brute force: hits of /api/login in (end - 600, end]
    exact = sum(
        e == "/api/login" and end - 600 < t <= end for e, t in zip(endpoints, times, strict=True)
    )
    assert str(exact) in printed and exact > 0


@pytest.mark.parametrize("suffix", [".db", ".json"])
def test_a_piped_top_loads_neither_rich_nor_the_counter(tmp_path: Path, suffix: str) -> None:
    """`top` answers from the saved state as `query` does, and a piped table is plain text."""
    state = tmp_path / f"state{suffix}"
    traffic = tmp_path / "hits.ndjson"
    hits = [("/api/login" if i % 3 else "/api/other", 1_700_000_000 + 7 * i) for i in range(300)]
    traffic.write_text("".join(f'{{"endpoint": "{e}", "ts": {t}}}\n' for e, t in hits))
    subprocess.run(
        [sys.executable, "-m", "hitcount", "--state", str(state), "replay", str(traffic),
         "--strategy", "sliding", "--max-window", "86400"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    loaded, printed = _all_modules_loaded_by("--state", str(state), "top", "--last", "600")
    assert not [m for m in loaded if m.startswith(_NOT_FOR_QUERY)]
    end = hits[-1][1]  # brute force: hits of each endpoint in (end - 600, end]
    counts = {e: sum(x == e and end - 600 < t <= end for x, t in hits) for e, _ in hits}
    for endpoint, count in counts.items():
        assert re.search(rf"^{endpoint} +{count} ", printed, re.MULTILINE)


#: What `replay --append` of a small file onto a file or SQLite state never needs (nor numpy):
#: the follow loop and its live view, tables, the Redis store (and the Redis layouts' modules),
#: plot series, OpenSSL (hashlib), `statistics`, the --alert-exec runner, ISA-L (plain input).
#: (Every strategy still loads: `replay` builds its options from each strategy's parameters.)
_NOT_FOR_APPEND = (
    "rich.table",
    "rich.live",
    "hitcount.cli.live",
    "hitcount.live.follow",
    "hitcount.persist.stores.redis",
    "hitcount.persist.stores.redis_append",
    "hitcount.persist.stores.redis_documents",
    "hitcount.persist.stores.redis_layout",
    "hitcount.views.series",
    "_hashlib",
    "statistics",
    "hitcount.ops.hooks",
    "concurrent.futures",
    "isal.igzip",
    "isal.igzip_lib",
)


@pytest.mark.parametrize("suffix", [".db", ".json"])
def test_an_append_loads_neither_follow_nor_redis_and_counts_every_line(
    tmp_path: Path, suffix: str
) -> None:
    state = tmp_path / f"state{suffix}"
    first, added = tmp_path / "first.ndjson", tmp_path / "added.ndjson"
    first.write_text(
        "".join(f'{{"endpoint": "/a", "ts": {1_700_000_000 + i}}}\n' for i in range(50))
    )
    added.write_text(
        "".join(f'{{"endpoint": "/b", "ts": {1_700_000_050 + i}}}\n' for i in range(20))
    )
    subprocess.run(
        [sys.executable, "-m", "hitcount", "--state", str(state), "replay", str(first),
         "--strategy", "sliding", "--max-window", "86400"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    loaded, _ = _all_modules_loaded_by("--state", str(state), "replay", "--append", str(added))
    assert not [m for m in loaded if m in _NOT_FOR_APPEND or m.partition(".")[0] == "numpy"]
    _, printed = _all_modules_loaded_by("--state", str(state), "query", "/*", "--last", "1000")
    assert "70 hits" in printed  # 50 + 20 lines, all inside the window

"""`replay --alert-exec`: a real hook script gets each alert on stdin and in its environment."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import assert_error, ok, run, write_ndjson
from tests.conftest import SAMPLES

# /p gets 3 hits in (92, 102]: above 2 at 102; the hit at 100 leaves at 110, so the count
# is <= 2 from 110 and stays so for a full window until 120, which /q's hit at 200 reveals.
HITS = [("/p", 100.0), ("/p", 101.0), ("/p", 102.0), ("/q", 200.0)]
HOOK = """#!{python}
import json, os, sys, time
event = json.loads(sys.stdin.read())
env = {{k: v for k, v in os.environ.items() if k.startswith("HITCOUNT_")}}
with open({out!r}, "a") as out:
    out.write(json.dumps({{"stdin": event, "env": env, "argv": sys.argv[1:]}}) + "\\n")
if {fail}:
    print("paging failed: no route to pager", file=sys.stderr)
    sys.exit(3)
time.sleep({sleep})
"""


def hook(tmp_path: Path, *, fail: bool = False, sleep: float = 0) -> tuple[Path, Path]:
    out = tmp_path / "received.ndjson"
    script = tmp_path / "hook.py"
    script.write_text(HOOK.format(python=sys.executable, out=str(out), fail=fail, sleep=sleep))
    script.chmod(0o755)
    return script, out


def received(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_each_alert_runs_the_hook_with_the_event(tmp_path: Path) -> None:
    script, out = hook(tmp_path)
    source = write_ndjson(tmp_path / "p.ndjson", HITS)
    ok(["replay", str(source), "--alert", "/p>2/10s", "--alert-exec",
        f"{script} 'two words' $HOME"])  # fmt: skip
    runs = sorted(received(out), key=lambda run: run["stdin"]["ts"])
    assert [(r["stdin"]["event"], r["stdin"]["count"], r["stdin"]["ts"]) for r in runs] == [
        ("threshold_exceeded", 3, 102), ("threshold_cleared", 0, 120),
    ]  # fmt: skip
    env = {k: v for k, v in runs[0]["env"].items() if k != "HITCOUNT_STATE"}
    assert env == {
        "HITCOUNT_EVENT": "threshold_exceeded", "HITCOUNT_ENDPOINT": "/p",
        "HITCOUNT_COUNT": "3", "HITCOUNT_LIMIT": "2", "HITCOUNT_WINDOW": "10",
        "HITCOUNT_TS": "102", "HITCOUNT_TS_ISO": "1970-01-01T00:01:42Z",
        "HITCOUNT_RULE": "/p>2/10s",
    }  # fmt: skip
    assert runs[0]["argv"] == ["two words", "$HOME"]  # no shell: nothing expanded


def test_the_hook_sees_what_trace_json_records(tmp_path: Path) -> None:
    script, out = hook(tmp_path)
    trace = tmp_path / "trace.ndjson"
    ok(["replay", str(SAMPLES / "web.ndjson"), "--alert", "/api/*>4/60s",
        "--alert-exec", str(script), "--trace-json", str(trace)])  # fmt: skip
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    alerts = [e for e in events if e["event"].startswith("threshold_")]
    assert len(alerts) > 10
    key = lambda e: (e["ts"], e["endpoint"], e["event"])  # noqa: E731
    assert sorted((r["stdin"] for r in received(out)), key=key) == sorted(alerts, key=key)


def test_a_failing_or_slow_hook_is_reported_and_counting_goes_on(tmp_path: Path) -> None:
    source = write_ndjson(tmp_path / "p.ndjson", HITS)
    script, out = hook(tmp_path, fail=True)
    result = ok(["replay", str(source), "--alert", "/p>2/10s", "--alert-exec", str(script),
                 "--json"])  # fmt: skip
    assert json.loads(result.stdout)["hits_kept"] == 4
    assert "exited 3 for threshold_exceeded of '/p': paging failed: no route" in result.stderr
    assert len(received(out)) == 2
    slow, _ = hook(tmp_path, sleep=30)
    started = time.monotonic()
    result = ok(["replay", str(source), "--alert", "/p>2/10s", "--alert-exec", str(slow),
                 "--alert-exec-timeout", "0.5"])  # fmt: skip
    assert time.monotonic() - started < 20
    assert result.stderr.count("took more than 0.5s") == 2
    assert "4 hits kept" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--alert-exec", "true"], "--alert-exec needs at least one --alert"),
        (["--alert", "/p>1/1s", "--alert-exec", "/no/such/hook"], "is not an executable"),
        (["--alert", "/p>1/1s", "--alert-exec", "'unclosed"], "cannot split"),
        (["--alert", "/p>1/1s", "--alert-exec", ""], "--alert-exec needs a command"),
        (["--alert", "/p>1/1s", "--alert-exec", "true", "--alert-exec-timeout", "0"],
         "--alert-exec-timeout must be > 0"),
    ],
)  # fmt: skip
def test_bad_hooks_are_refused_before_any_work(
    tmp_path: Path, state_env: Path, args: list[str], fragment: str
) -> None:
    source = write_ndjson(tmp_path / "p.ndjson", HITS)
    assert_error(run(["replay", str(source), *args]), 2, fragment)
    assert not state_env.exists()  # nothing saved
    assert os.environ.get("HITCOUNT_EVENT") is None

"""Helpers for the CLI tests: invoking `hitcount` in-process, and brute-force input readers.

Expectations in the CLI tests never come from hitcount's own parsers: the readers below use
only `json`, `csv` and `datetime`.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from hitcount.cli import app

#: Environment variables that would make Rich or Click emit colour into a pipe.
COLOUR_FORCING_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE")
#: Latest timestamp hitcount accepts (9999-12-31T23:59:59Z), from SPEC's "absurd timestamp".
MAX_TS = 253402300799.0

_RUNNER = CliRunner()


@dataclass(frozen=True)
class Hit:
    """One input hit, as the test itself understands it."""

    endpoint: str
    ts: float


def run(args: Sequence[str], *, input: str | bytes | None = None) -> Result:
    """Invoke `hitcount ARGS` in-process; fail on any traceback or unexpected exception."""
    result = _RUNNER.invoke(app, list(args), input=input)
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        assert "Traceback" not in text, f"traceback on {name} of hitcount {args}:\n{text}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"hitcount {list(args)} raised {result.exception!r}\n{result.output}"
        ) from result.exception
    return result


def ok(args: Sequence[str], *, input: str | bytes | None = None) -> Result:
    """Invoke `hitcount ARGS` and require exit status 0."""
    result = run(args, input=input)
    assert result.exit_code == 0, (
        f"hitcount {list(args)} exited {result.exit_code}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def ok_json(args: Sequence[str], *, input: str | bytes | None = None) -> Any:
    """Invoke `hitcount ARGS` (which must include --json) and parse its stdout as JSON."""
    assert "--json" in args
    return json.loads(ok(args, input=input).stdout)


def assert_error(result: Result, code: int, fragment: str) -> None:
    """A clean failure: `code`, nothing on stdout, one `hitcount: error:` line (+ hints)."""
    assert result.exit_code == code, (
        f"expected exit {code}, got {result.exit_code}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines, "no message on stderr"
    assert lines[0].startswith("hitcount: error: "), result.stderr
    assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert all(line.startswith("hint: ") for line in lines[1:]), result.stderr


def query(endpoint: str, last: str, now: str | None = None) -> dict[str, Any]:
    """`hitcount query ENDPOINT --last LAST [--now NOW] --json`, parsed."""
    args = ["query", endpoint, "--last", last, "--json"]
    if now is not None:
        args += ["--now", now]
    result: dict[str, Any] = ok_json(args)
    return result


def write_ndjson(path: Path, hits: Iterable[tuple[str, float]]) -> Path:
    """Write `{"endpoint": ..., "ts": ...}` lines with the json module."""
    lines = [json.dumps({"endpoint": endpoint, "ts": ts}) for endpoint, ts in hits]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def ts_value(value: object) -> float | None:
    """Epoch seconds the way SPEC.md defines `ts`, or None when the value is not valid.

    Numbers (and numeric strings) are seconds, or milliseconds above 1e11; other strings are
    ISO 8601 (UTC when it has no offset). Valid means finite and within 1970..9999.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value
        try:
            value = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            except ValueError:
                return None
            if moment.tzinfo is None:  # documented in hitcount.ingest.formats.ndjson: read as UTC
                moment = moment.replace(tzinfo=timezone.utc)
            value = moment.timestamp()
    if not isinstance(value, (int, float)):
        return None
    seconds = float(value)
    if seconds > 1e11:
        seconds /= 1000.0
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_TS:
        return None
    return seconds


def ndjson_hit(line: str) -> Hit | None:
    """The hit on an NDJSON line, by SPEC.md's rules; None for a bad line."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    endpoint = record.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 4096:
        return None
    if not _valid_unicode(endpoint) or not _valid_user(record.get("user")):
        return None
    ts = ts_value(record.get("ts", record.get("timestamp")))
    return None if ts is None else Hit(endpoint, ts)


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _valid_user(user: object) -> bool:
    if user is None:
        return True
    if isinstance(user, bool) or not isinstance(user, (str, int)):
        return False
    return len(str(user)) <= 1024


def read_ndjson(path: Path) -> list[Hit]:
    """Every good hit of an NDJSON file, read with the json module."""
    with path.open(encoding="utf-8") as handle:
        hits = [ndjson_hit(line) for line in handle if line.strip()]
    return [hit for hit in hits if hit is not None]


def read_csv(path: Path) -> list[Hit]:
    """Every hit of a CSV file with an `endpoint,timestamp[,user]` header (csv module)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [Hit(row["endpoint"], float(row["timestamp"])) for row in rows]


def pairs(hits: Iterable[Hit]) -> list[tuple[str, float]]:
    """Hits as `(endpoint, ts)` pairs, the shape conftest's Oracle takes."""
    return [(hit.endpoint, hit.ts) for hit in hits]


def plain_output_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour forced by the environment, and a wide console so table rows never fold."""
    for name in COLOUR_FORCING_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def gunzip(packed: Path, target: Path) -> Path:
    """Write the gzip file `packed` inflated to `target` (a saved state or input the tests keep
    compressed)."""  # noqa: D205, D209
    import gzip
    import shutil

    with gzip.open(packed, "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out)
    return target

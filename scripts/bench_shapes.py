#!/usr/bin/env python3
r"""Benchmark replays of every input shape against DuckDB and the previous hitcount.

One run measures, for each size (``--sizes``) and each of three generated inputs:

* ``plain``: NDJSON, epoch-second ``ts``, a user on every line;
* ``mixed``: NDJSON of mixed shapes: 60% ``ts`` epoch seconds, 15% a ``timestamp`` key, 10%
  epoch milliseconds, 15% ISO 8601 with a UTC offset; 3% of lines up to 30 s late;
* ``access``: a combined access log: the real Elastic Apache log
  (``../shared/data/real/elastic_apache_logs_2015-05.log.gz``) in copies shifted by its span;

and, for ``sliding``, the cost of keys and filters (``KEYED``): ``replay --key``,
``--where`` and ``--decode-paths`` against the same replay without them (column ``vs
default``; ``--skip keys`` leaves them out);

the whole-process wall time, CPU time and peak RSS of ``hitcount replay`` (``fixed``,
``sliding``, ``morris``; default mode: distinct users kept) with this checkout's hitcount and
with ``--prev`` (the hitcount before this work), of DuckDB answering the same "hits per
endpoint in the last 60 s" question from the same file (``read_ndjson``, or ``read_csv`` plus
``regexp_extract`` and ``strptime`` for the access log), of the naive per-hit reference of
``bench.py`` (NDJSON only) and of ``hitcount query`` on each state against ``hitcount
--version``. The contenders alternate round-robin for ``--repeat`` rounds (paired runs: every
round runs each once, in the same order); the table gives medians and ratios, and the load
average before and after. It checks that hitcount's sliding answer equals DuckDB's. The
states are SQLite files (`.db`, the default store) unless ``--state-suffix .json``.

Example::

    python scripts/bench_shapes.py --sizes 2000000 10000000 --repeat 3 \
        --prev /tmp/prev-venv/bin/hitcount

Standard library plus ``duckdb`` (the ``bench`` extra); reuses ``bench.py``'s launcher.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (  # the sibling script, found through the path above
    STRATEGIES,
    WINDOW_S,
    Contender,
    byte_compile,
    render_table,
    run_measured,
)

REAL_LOG = (
    Path(__file__).resolve().parents[2] / "shared/data/real/elastic_apache_logs_2015-05.log.gz"
)
#: Keys and filters measured against the same sliding replay without them.
KEYED = {
    "ndjson": [["--key", "{user}"], ["--where", "path=/api/login/*"], ["--decode-paths"]],
    "access": [["--key", "{status_class}"], ["--key", "{method} {path}"],
               ["--where", "status>=400"]],
}  # fmt: skip
START = 1_760_000_000
DAY = 86400

DUCKDB_NDJSON = """\
import json, sys
import duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
rows = con.execute('''
WITH raw AS (SELECT endpoint, coalesce(ts, "timestamp") AS t FROM read_ndjson(?,
    columns = {'endpoint': 'VARCHAR', 'ts': 'VARCHAR', 'timestamp': 'VARCHAR'})),
h AS (SELECT endpoint, CASE WHEN contains(t, '-') THEN epoch(CAST(t AS TIMESTAMPTZ))
    WHEN CAST(t AS DOUBLE) > 1e11 THEN CAST(t AS DOUBLE) / 1000
    ELSE CAST(t AS DOUBLE) END AS ts FROM raw)
SELECT endpoint, count(*) FROM h WHERE ts > (SELECT max(ts) FROM h) - ? GROUP BY endpoint
''', [sys.argv[1], float(sys.argv[2])]).fetchall()
print(json.dumps(dict(rows), sort_keys=True))
"""

DUCKDB_ACCESS = r"""
import json, sys
import duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
rows = con.execute('''
WITH raw AS (SELECT line FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = '\x01',
    quote = '', escape = '', header = false, auto_detect = false)),
h AS (SELECT regexp_extract(line, '"[A-Za-z]+ ([^ ?#"]+)', 1) AS endpoint,
    epoch(strptime(regexp_extract(line, '\[([^\]]+)\]', 1), '%d/%b/%Y:%H:%M:%S %z')) AS ts
    FROM raw)
SELECT endpoint, count(*) FROM h WHERE ts > (SELECT max(ts) FROM h) - ? GROUP BY endpoint
''', [sys.argv[1], float(sys.argv[2])]).fetchall()
print(json.dumps(dict(rows), sort_keys=True))
"""


def generate_ndjson(path: Path, lines: int, mixed: bool, seed: int = 7) -> None:
    """Write `lines` NDJSON hits over a day (plain epoch seconds, or the mixed shapes)."""
    rng = random.Random(seed)
    endpoints = [f"/api/{name}/{i}" for name in ("users", "items", "login", "search") for i in
                 range(50)]  # fmt: skip
    weights = [1 / (rank + 1) for rank in range(len(endpoints))]
    step = DAY / lines
    with open(path, "w") as out:
        for start in range(0, lines, 10_000):
            count = min(10_000, lines - start)
            chosen = rng.choices(endpoints, weights, k=count)
            rows = []
            for i, endpoint in enumerate(chosen):
                ts = round(START + (start + i) * step, 3)
                user = f"u{rng.randrange(100_000)}"
                if not mixed:
                    rows.append(f'{{"endpoint": "{endpoint}", "ts": {ts}, "user": "{user}"}}')
                    continue
                if rng.random() < 0.03:
                    ts = round(ts - rng.uniform(0, 30), 3)
                shape = rng.random()
                if shape < 0.60:
                    value, key = f"{ts}", "ts"
                elif shape < 0.75:
                    value, key = f"{ts}", "timestamp"
                elif shape < 0.85:
                    value, key = f"{round(ts * 1000)}", "ts"
                else:
                    zone = timezone(timedelta(hours=rng.choice([-5, 0, 2, 9])))
                    iso = datetime.fromtimestamp(round(ts, 3), zone).isoformat(
                        timespec="milliseconds"
                    )
                    value, key = f'"{iso}"', "ts"
                rows.append(f'{{"endpoint": "{endpoint}", "{key}": {value}, "user": "{user}"}}')
            out.write("\n".join(rows) + "\n")


def generate_access(path: Path, lines: int) -> None:
    """Write `lines` lines of the real Elastic Apache log, copies shifted by its span."""
    with gzip.open(REAL_LOG) as stream:
        source = stream.read().splitlines()
    stamp = "%d/%b/%Y"
    days = sorted({line.split(b"[", 1)[1][:11] for line in source})
    first = datetime.strptime(days[0].decode(), stamp)
    span = (datetime.strptime(days[-1].decode(), stamp) - first).days + 1
    with open(path, "wb") as out:
        written, copy = 0, 0
        while written < lines:
            shift = {
                day: (datetime.strptime(day.decode(), stamp) + timedelta(days=copy * span))
                .strftime(stamp)
                .encode()
                for day in days
            }
            chunk = [
                line.replace(line.split(b"[", 1)[1][:11], shift[line.split(b"[", 1)[1][:11]], 1)
                for line in source[: lines - written]
            ]
            out.write(b"\n".join(chunk) + b"\n")
            written += len(chunk)
            copy += 1


def ensure(shape: str, lines: int, data_dir: Path) -> Path:
    """The cached input of a shape and size, generated once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{shape}-{lines}.{'log' if shape == 'access' else 'ndjson'}"
    if not path.exists():
        print(f"generating {path}", file=sys.stderr, flush=True)
        partial = path.with_suffix(".partial")
        if shape == "access":
            generate_access(partial, lines)
        else:
            generate_ndjson(partial, lines, mixed=shape == "mixed")
        partial.rename(path)
    return path


def contenders(shape: str, data: Path, lines: int, tools: dict[str, str], work: Path,
               skip: set[str], suffix: str = ".db") -> list[Contender]:  # fmt: skip
    """The commands of one round for one input."""
    python = sys.executable
    code = DUCKDB_ACCESS if shape == "access" else DUCKDB_NDJSON
    found = [Contender("duckdb", "ingest", [python, "-c", code, str(data), str(WINDOW_S)], lines)]
    if shape != "access" and "naive" not in skip:
        naive = [python, str(Path(__file__).with_name("bench.py")), "--naive", str(data)]
        found.append(Contender("naive (per hit)", "ingest", naive, lines))
    for label, exe in tools.items():
        for strategy, extra in STRATEGIES.items():
            state = work / f"{label}-{strategy}{suffix}"
            cmd = [exe, "--state", str(state), "replay", str(data), "--strategy", strategy]
            found.append(Contender(f"{label} {strategy}", "ingest", cmd + extra, lines))
    new = tools["hitcount"]
    if "keys" not in skip:
        for label, exe in tools.items():
            for extra in KEYED["access" if shape == "access" else "ndjson"]:
                state = work / f"{label}-keyed{suffix}"
                cmd = [exe, "--state", str(state), "replay", str(data), "--strategy", "sliding",
                       *STRATEGIES["sliding"], *extra]  # fmt: skip
                found.append(Contender(f"{label} sliding {' '.join(extra)}", "ingest", cmd, lines))
    found.append(Contender("hitcount --version", "start", [new, "--version"]))
    for strategy in STRATEGIES:
        state = work / f"hitcount-{strategy}{suffix}"
        cmd = [new, "--state", str(state), "query", "/api/login/0", "--last", "60"]
        found.append(Contender(f"query {strategy}", "query", cmd))
    return found


def loadavg() -> str:
    """The 1-minute load average (other engineers' tests share the machine)."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"


def measure(shape: str, lines: int, args: argparse.Namespace, tools: dict[str, str]) -> int:
    """Run the rounds of one input and print its table; 1 when an answer differs."""
    data = ensure(shape, lines, args.data_dir)
    with tempfile.TemporaryDirectory(prefix="hitcount-shapes-") as tmp:
        work = Path(tmp)
        found = contenders(shape, data, lines, tools, work, set(args.skip), args.state_suffix)
        before = loadavg()
        for _ in range(args.repeat):
            for contender in found:
                if contender.kind == "ingest" and "--state" in contender.cmd:
                    state = contender.cmd[contender.cmd.index("--state") + 1]
                    for leftover in (state, f"{state}-wal", f"{state}-shm"):
                        Path(leftover).unlink(missing_ok=True)  # each replay builds a new state
                contender.samples.append(run_measured(contender.cmd, args.timeout))
        sliding = work / f"hitcount-sliding{args.state_suffix}"
        status = check_answer(found, tools["hitcount"], sliding)
    print(f"\n## {shape}, {lines:,} lines ({data}); load {before} before, {loadavg()} after")
    print(table(found))
    return status


def table(found: list[Contender]) -> str:
    """Medians and ratios: to DuckDB, to the previous hitcount, to the naive reference."""
    by_name = {contender.name: contender for contender in found}
    duck = by_name["duckdb"].median_wall()
    naive = by_name.get("naive (per hit)")
    naive_s = naive.median_wall() if naive else None
    start = by_name["hitcount --version"].median_wall()
    rows = []
    for contender in found:
        wall = contender.median_wall()
        if wall is None:
            rows.append([contender.name, contender.failure() or "failed", *[""] * 6])
            continue
        prev = by_name.get(contender.name.replace("hitcount ", "previous ", 1))
        prev_s = prev.median_wall() if prev and prev is not contender else None
        plain = by_name.get(contender.name.split(" --")[0]) if " --" in contender.name else None
        plain_s = plain.median_wall() if plain else None
        vs = {
            "ingest": (wall / duck if duck else None),
            "query": (wall / start if start else None),
        }.get(contender.kind)
        rows.append([
            contender.name, f"{wall:.2f}", f"{contender.median_cpu() or 0:.2f}",
            f"{contender.median_rss_mib() or 0:.0f}",
            "" if vs is None else f"{vs:.2f}x" + (" (vs --version)" if contender.kind == "query"
                                                else ""),
            "" if prev_s is None or not contender.name.startswith("hitcount ") else
            f"{wall / prev_s:.2f}x",
            "" if not naive_s or contender.kind != "ingest" else f"{naive_s / wall:.1f}x",
            "" if not plain_s else f"{wall / plain_s:.2f}x",
        ])  # fmt: skip
    header = ["contender", "wall s", "cpu s", "peak MiB", "vs duckdb", "vs previous",
              "naive / this", "vs default"]  # fmt: skip
    return render_table(header, rows)


def check_answer(found: list[Contender], hitcount: str, state: Path) -> int:
    """Compare hitcount's sliding answer for the last 60 s with DuckDB's."""
    duck = next(c for c in found if c.name == "duckdb")
    if not duck.ok_samples:
        return 1
    want = {k: v for k, v in json.loads(duck.ok_samples[-1].stdout).items() if v}
    cmd = [hitcount, "--state", str(state), "top", "--last", "60", "--limit", "100000", "--json"]
    result = run_measured(cmd, 120)
    if not result.ok:
        print(f"note: cannot read hitcount's answer: {result.stderr_tail}")
        return 1
    got = {row["endpoint"]: row["count"] for row in _rows(json.loads(result.stdout))}
    if got != want:
        differ = sorted(set(got.items()) ^ set(want.items()))[:5]
        print(f"MISMATCH sliding vs duckdb: {differ}")
        return 1
    print(f"sliding's last-60-s answer equals DuckDB's ({sum(want.values())} hits)")
    return 0


def _rows(document: object) -> list[dict[str, object]]:
    """The per-endpoint rows of `hitcount top --json`, whatever its envelope."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for value in document.values():
            if isinstance(value, list):
                return value
    return []


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0, or 1 when an answer differs or a contender failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000_000])
    parser.add_argument("--shapes", nargs="+", default=["plain", "mixed", "access"],
                        choices=["plain", "mixed", "access"])  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--prev", help="the previous hitcount executable, measured alongside")
    parser.add_argument("--skip", nargs="*", default=[], choices=["naive", "keys"])
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/hitcount-bench-shapes"))
    parser.add_argument(
        "--state-suffix",
        choices=[".db", ".json"],
        default=".db",
        help="the states' store: SQLite (the default store) or a JSON file",
    )
    args = parser.parse_args(argv)
    new = shutil.which("hitcount")
    if new is None:
        print("hitcount is not on PATH", file=sys.stderr)
        return 1
    tools = {"hitcount": new}
    if args.prev:
        tools["previous"] = args.prev
    for exe in tools.values():
        byte_compile(exe)
    print("command:", " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]))
    print(f"cpus: {os.cpu_count()}, load {loadavg()}")
    status = 0
    for lines in args.sizes:
        for shape in args.shapes:
            status |= measure(shape, lines, args, tools)
    return status


if __name__ == "__main__":
    sys.exit(main())

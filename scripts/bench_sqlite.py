#!/usr/bin/env python3
"""Benchmark the SQLite state against the JSON state file: appends and queries on a big state.

One run, as whole processes, on a sliding state (``--max-window 86400``) of ``--lines`` hits
(2 million by default) kept both as ``state.db`` and as ``state.json``:

* full replays (users kept, the default) into a new ``.db`` and a new ``.json`` for
  ``fixed``, ``sliding`` (``--max-window 86400``) and ``morris``, alternating, ``--replays``
  rounds (3 by default): median wall and CPU seconds and the ratio ``.db`` / ``.json``; and
  a sliding replay replacing the state each round left (a file that exists: SQLite replaces
  it in place, in one transaction, where a new state is built whole and linked into place);
* a full ``hitcount replay`` into each (once, timed);
* ``hitcount replay --append`` of a 1,000-line file onto each, 40 times, alternating with
  ``hitcount --version`` (the process start floor), so every median comes from the same
  moments of the machine's load;
* then ``hitcount query /api/login --last 60`` on each (after those 40 appends), alternating
  with ``--version`` again.

Each start-up row gives the ratio of the medians and, in parentheses, of the fastest runs
(the ratio the machine's load moves least). ``--user-install DIR`` times hitcount as a user
installs it (``pip install .`` into a virtual environment at DIR, made once): a development
environment adds what no user has (the editable install's finder on every start, and mypy's
``typing_extensions``, which msgspec imports when it is there).

hitcount's modules are byte-compiled first, as a wheel install has them (an editable install
run with ``PYTHONDONTWRITEBYTECODE=1`` would compile every module at each start, a cost no
installed copy pays and that would flatten every ratio).

* then ``--concurrent`` (4 and 16 by default) appenders at once onto each state, each
  ``replay --append`` of its own 1,000-line file on its own endpoint: the wall time until all
  are done, lines per second, and whether every endpoint holds exactly its 1,000 lines;
* then a ``--follow`` run onto a ``--follow-lines`` state (10 million by default; 0 skips it)
  and onto a 1,000-hit state, each fed 1,000 lines a second: the seconds each commit took
  (``last_commit_s`` of the NDJSON status lines; the goal: independent of the state's size).

It prints the exact command, the medians, and each median's ratio to ``--version``'s (the
issue's goals: append <= 1.5x, query <= 1.3x), and checks that both states answer the
query alike and count every appended line once (``MISMATCH`` and exit status 1 otherwise).

Examples::

    python scripts/bench_sqlite.py
    python scripts/bench_sqlite.py --lines 200000 --appends 10 --follow-lines 200000  # quick

Needs hitcount on PATH and ``scripts/gen_traffic.py`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("db", "json")
#: The hitcount program timed: PATH's, or --user-install's.
HITCOUNT = ["hitcount"]


def timed(args: list[str]) -> tuple[float, str]:
    """Wall seconds of one process, and its stdout (a failure stops the benchmark)."""
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {shlex.join(args)}\n{done.stderr}")
    return elapsed, done.stdout


def generate(path: Path, lines: int, start: str, duration: int, seed: int) -> None:
    """Traffic from gen_traffic.py (NDJSON with users)."""
    subprocess.run(
        [sys.executable, str(HERE / "gen_traffic.py"), "--lines", str(lines), "--start", start,
         "--duration", str(duration), "--seed", str(seed), "-o", str(path)],
        check=True,
    )  # fmt: skip


def byte_compile() -> None:
    """Byte-compile the hitcount package found on PATH's interpreter, as pip does."""
    import hitcount

    package = Path(hitcount.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    print(f"byte-compiled {package} first, as pip does for a wheel install")


def user_install(where: Path) -> str:
    """A virtual environment at `where` holding hitcount as a user installs it (`pip install
    .`: no editable finder, no test tools such as mypy's typing_extensions, which msgspec
    then imports at every start); made once, reused after. Returns its `hitcount`."""  # noqa: D205, D209
    program = where / "bin" / "hitcount"
    if not program.exists():
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        pip = [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, str(HERE.parent)], check=True)
    print(f"timing {program} (pip install {HERE.parent}; delete {where} to rebuild it)")
    return str(program)


def spread(seconds: list[float], floor: list[float]) -> str:
    """The minimum of `seconds` over the minimum of `floor`: the ratio least moved by the
    machine's load (the medians' ratio is the table's)."""  # noqa: D205, D209
    return f"{min(seconds) / min(floor):.2f}"


def main() -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000, help="hits in the state")
    parser.add_argument("--appends", type=int, default=40, help="appends of 1,000 lines")
    parser.add_argument("--replays", type=int, default=3, help="rounds of full replays (0: skip)")
    parser.add_argument("--queries", type=int, default=15, help="queries per state")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the files here")
    parser.add_argument(
        "--concurrent", default="4,16", help="numbers of appenders at once (comma-separated)"
    )
    parser.add_argument(
        "--follow-lines", type=int, default=10_000_000, help="hits of the followed state (0: skip)"
    )
    parser.add_argument(
        "--user-install",
        type=Path,
        default=None,
        metavar="DIR",
        help="time hitcount installed in a virtual environment at DIR, as `pip install .`"
        " installs it (made if missing); default: the hitcount on PATH",
    )
    options = parser.parse_args()
    directory = options.data_dir or Path(tempfile.mkdtemp(prefix="hitcount-bench-sqlite-"))
    directory.mkdir(parents=True, exist_ok=True)
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    if options.user_install is not None:
        HITCOUNT[0] = user_install(options.user_install.resolve())
    else:
        byte_compile()
    big, add = directory / "big.ndjson", directory / "add.ndjson"
    generate(big, options.lines, "2026-11-27T00:00:00Z", 86400, 3)
    generate(add, 1000, "2026-11-28T00:00:00Z", 60, 4)
    full_replays(directory, big, options.replays)
    states = {kind: directory / f"state.{kind}" for kind in KINDS}
    rows: list[tuple[str, float, float | None, str]] = []
    for kind, state in states.items():
        for leftover in directory.glob(f"state.{kind}*"):
            leftover.unlink()
        seconds, _ = timed([HITCOUNT[0], "--state", str(state), "replay", str(big),
                            "--strategy", "sliding", "--max-window", "86400"])  # fmt: skip
        rows.append((f"full replay of {options.lines:,} lines into .{kind}", seconds, None, ""))
    samples: dict[str, list[float]] = {"version": [], "db": [], "json": []}
    for _ in range(options.appends):
        samples["version"].append(timed([HITCOUNT[0], "--version"])[0])
        for kind, state in states.items():
            # --again: the same file each time (without it, a repeat is refused as counted)
            args = [HITCOUNT[0], "--state", str(state), "replay", "--append", "--again", str(add)]
            samples[kind].append(timed(args)[0])
    version = statistics.median(samples["version"])
    for kind in KINDS:
        rows.append((f"replay --append 1,000 lines onto .{kind}", statistics.median(samples[kind]),
                     version, spread(samples[kind], samples["version"])))  # fmt: skip
    queries: dict[str, list[float]] = {"version": [], "db": [], "json": []}
    answers: dict[str, str] = {}
    for _ in range(options.queries):
        queries["version"].append(timed([HITCOUNT[0], "--version"])[0])
        for kind, state in states.items():
            args = [HITCOUNT[0], "--state", str(state), "query", "/api/login", "--last", "60",
                    "--json"]  # fmt: skip
            seconds, answers[kind] = timed(args)
            queries[kind].append(seconds)
    query_version = statistics.median(queries["version"])
    for kind in KINDS:
        rows.append((f"query /api/login --last 60 on .{kind}", statistics.median(queries[kind]),
                     query_version, spread(queries[kind], queries["version"])))  # fmt: skip
    print(f"\n{'step':<48} {'median s':>9} {'x --version':>12} {'(fastest)':>10}")
    print(
        f"{'hitcount --version (appends / queries)':<48} {version:>9.3f} {query_version:>9.3f} (s)"
    )
    for name, seconds, floor, fastest in rows:
        ratio = f"{seconds / floor:>12.2f}" if floor else f"{'':>12}"
        print(f"{name:<48} {seconds:>9.3f} {ratio} {fastest:>10}")
    status = check(states, answers, options)
    for count in (int(n) for n in options.concurrent.split(",") if n.strip()):
        status |= concurrent(states, directory, count)
    if options.follow_lines:
        follow_commits(directory, options.follow_lines)
    return status


def cpu_timed(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (the process and the workers it waited for) of one process."""
    before = os.times()
    wall, _ = timed(args)
    after = os.times()
    cpu = sum(getattr(after, f) - getattr(before, f) for f in ("children_user", "children_system"))
    return wall, cpu


def full_replays(directory: Path, big: Path, rounds: int) -> None:
    """Full replays into new states (and one replacing a state), .db against .json."""
    if not rounds:
        return
    shapes = {"fixed": [], "sliding": ["--max-window", "86400"], "morris": []}
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for strategy, extra in shapes.items():
            for kind in KINDS:
                state = directory / f"full-{strategy}.{kind}"
                for leftover in directory.glob(f"{state.name}*"):
                    leftover.unlink()
                args = [HITCOUNT[0], "--state", str(state), "replay", str(big), "-s", strategy]
                runs.setdefault((strategy, kind), []).append(cpu_timed([*args, *extra]))
        for kind in KINDS:  # the sliding state just written, replaced by the same replay
            state = directory / f"full-sliding.{kind}"
            args = [HITCOUNT[0], "--state", str(state), "replay", str(big), "-s", "sliding"]
            runs.setdefault(("sliding, replacing", kind), []).append(
                cpu_timed([*args, *shapes["sliding"]])
            )
    print(f"\nfull replays, {rounds} rounds alternating (medians)")
    print(f"{'strategy':<20} {'.db wall':>9} {'.json wall':>11} {'ratio':>6} {'.db cpu':>8}"
          f" {'.json cpu':>10} {'ratio':>6}")  # fmt: skip
    for strategy in [*shapes, "sliding, replacing"]:
        db, js = runs[(strategy, "db")], runs[(strategy, "json")]
        walls = [statistics.median(run[0] for run in each) for each in (db, js)]
        cpus = [statistics.median(run[1] for run in each) for each in (db, js)]
        print(f"{strategy:<20} {walls[0]:>9.3f} {walls[1]:>11.3f} {walls[0] / walls[1]:>6.2f}"
              f" {cpus[0]:>8.3f} {cpus[1]:>10.3f} {cpus[0] / cpus[1]:>6.2f}")  # fmt: skip


def concurrent(states: dict[str, Path], directory: Path, count: int) -> int:
    """`count` appenders at once onto each state; each endpoint must hold its 1,000 lines."""
    status = 0
    for kind, state in states.items():
        files = []
        for i in range(count):
            path = directory / f"concurrent-{kind}-{count}-{i}.ndjson"
            start = 1_795_824_300.0 + 60 * count + i / 1000  # after the appends' clock
            path.write_text(
                "".join(
                    json.dumps({"endpoint": f"/concurrent/{count}/{i}", "ts": start + j * 0.05})
                    + "\n"
                    for j in range(1000)
                )
            )
            files.append(path)
        env = {**os.environ, "HITCOUNT_LOCK_TIMEOUT": "3600"}
        began = time.perf_counter()
        procs = [
            subprocess.Popen(
                [HITCOUNT[0], "--state", str(state), "replay", "--append", str(path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
            )
            for path in files
        ]
        failed = [proc.communicate()[1] for proc in procs if proc.wait() != 0]
        wall = time.perf_counter() - began
        _, out = timed([HITCOUNT[0], "--state", str(state), "top", f"/concurrent/{count}/*",
                        "--since", "0", "--json", "--limit", str(count + 1)])  # fmt: skip
        counts = {row["endpoint"]: row["count"] for row in json.loads(out)}
        exact = len(counts) == count and all(value == 1000 for value in counts.values())
        print(
            f"{count:>2} appenders at once onto .{kind}: {wall:.2f} s,"
            f" {count * 1000 / wall:,.0f} lines/s, every line counted once: {exact}"
        )
        if failed or not exact:
            print(f"MISMATCH: {len(failed)} appenders failed; counts {counts}")
            status = 1
    return status


def follow_commits(directory: Path, lines: int) -> None:
    """Seconds per `--follow` commit onto a big SQLite state and onto a small one."""
    big = directory / f"follow-{lines}.ndjson"
    if not big.exists():
        generate(big, lines, "2026-11-27T00:00:00Z", 86400, 5)
    for size, source in ((lines, big), (1000, directory / "add.ndjson")):
        state = directory / f"follow-{size}.db"
        for leftover in directory.glob(f"{state.name}*"):
            leftover.unlink()
        seconds, _ = timed([HITCOUNT[0], "--state", str(state), "replay", str(source),
                            "--strategy", "sliding", "--max-window", "86400"])  # fmt: skip
        print(f"full replay of {size:,} lines into .db for --follow: {seconds:.1f} s")
        grow = directory / f"grow-{size}.ndjson"
        grow.write_text("")
        proc = subprocess.Popen(
            [HITCOUNT[0], "--state", str(state), "replay", "--append", "--follow", str(grow),
             "--commit-every", "1s", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        clock = 1_795_825_000.0
        for _ in range(8):
            with grow.open("a") as out:
                for j in range(1000):
                    out.write(json.dumps({"endpoint": "/follow", "ts": clock + j / 1000}) + "\n")
            clock += 1.0
            time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        status_lines = [json.loads(line) for line in proc.communicate()[0].splitlines()]
        commits = sorted({s["commits"]: s["last_commit_s"] for s in status_lines}.values())
        commits = [c for c in commits if c > 0]
        if commits:
            print(
                f"--follow commits onto a {size:,}-hit .db state: median"
                f" {statistics.median(commits):.3f} s, max {max(commits):.3f} s"
                f" ({len(commits)} commits)"
            )


def check(states: dict[str, Path], answers: dict[str, str], options: argparse.Namespace) -> int:
    """Both states answer alike and hold every line once."""
    status = 0
    if json.loads(answers["db"]) != json.loads(answers["json"]):
        print("MISMATCH: the two states answer the query differently")
        status = 1
    expected = options.lines + 1000 * options.appends
    for kind, state in states.items():
        _, out = timed([HITCOUNT[0], "--state", str(state), "metrics", "--json"])
        metrics = json.loads(out)
        held = metrics["total_hits"] + metrics["late_hits"]
        if held != expected:
            print(f"MISMATCH: .{kind} counted {held:,} lines, expected {expected:,}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())

"""`compare --since/--until/--now` and `compare --csv`, against a brute-force count of the input."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.cli_helpers import assert_error, ok, ok_json, run


def write_hits(path: Path, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    hits = [
        (f"/e{rng.randrange(6)}", rng.randrange(0, 20_000)) for _ in range(rng.randrange(50, 400))
    ]
    hits.sort(key=lambda hit: hit[1])
    path.write_text("".join(json.dumps({"endpoint": e, "ts": t}) + "\n" for e, t in hits))
    return hits


@pytest.mark.parametrize("seed", range(6))
def test_ranges_match_brute_force_and_csv_matches_json(tmp_path: Path, seed: int) -> None:
    source = tmp_path / "hits.ndjson"
    hits = write_hits(source, seed)
    rng = random.Random(~seed)
    clock = hits[-1][1]
    start, end = sorted(rng.sample(range(0, 20_000), 2))
    ranged = [  # the same window, given three ways
        ["--since", str(start), "--until", str(end)],
        ["--since", f"-{clock - start}s", "--until", f"-{clock - end}s"] if end <= clock else None,
        ["--now", str(end), "--last", f"{end - start}s"],
    ]
    inside = Counter(e for e, t in hits if start < t <= end)
    for window in filter(None, ranged):
        args = ["compare", str(source), *window, "--strategies", "sliding,ehist", "-n", "3"]
        found = ok_json([*args, "--json"])
        assert (found["last"], found["now"]) == (end - start, end)
        assert found["exact"] == {e: n for e, n in inside.items() if e in found["exact"]}
        assert (
            sorted(found["exact"].values(), reverse=True)
            == sorted(inside.values(), reverse=True)[:3]
        )  # the busiest of the range
        sliding = found["strategies"][0]["answers"]
        assert {e: a["count"] for e, a in sliding.items()} == found["exact"]  # kept far enough
        rows = list(csv.DictReader(io.StringIO(ok([*args, "--csv"]).stdout)))
        assert len(rows) == 2 * len(found["exact"])
        for row in rows:
            run_json = next(r for r in found["strategies"] if r["strategy"] == row["strategy"])
            assert float(row["count"]) == run_json["answers"][row["endpoint"]]["count"]
            assert int(row["exact_count"]) == inside[row["endpoint"]]


def test_bad_windows_and_both_outputs_are_usage_errors(tmp_path: Path) -> None:
    source = tmp_path / "hits.ndjson"
    write_hits(source, 1)
    assert_error(run(["compare", str(source), "--json", "--csv"]), 2, "exclude each other")
    result = run(["compare", str(source), "--since", "1", "--until", "2", "--last", "5"])
    assert_error(result, 2, "--last cannot go with both --since and --until")


def test_compare_of_an_empty_input_does_not_speak_of_a_save(tmp_path: Path) -> None:
    """`compare` saves nothing: its hint is replay's without "nothing was saved"."""
    empty = tmp_path / "empty.log"
    empty.write_text("")
    result = run(["compare", str(empty)])
    assert_error(result, 3, "no hits: the input is empty")
    assert "check the file" in result.stderr and "saved" not in result.stderr


def test_answers_reaching_before_the_data_kept_are_shown_as_lower_bounds(
    tmp_path: Path,
) -> None:
    """A 2h window against 1h of retention: each answer is a lower bound, not an error of
    an exact strategy; JSON's worst error is null where no answer is complete."""  # noqa: D205, D209
    hits = write_hits(tmp_path / "hits.ndjson", 3)
    args = ["compare", str(tmp_path / "hits.ndjson"), "--last", "2h", "--strategies",
            "sliding", "--max-window", "1h", "-n", "3"]  # fmt: skip
    shown = ok(args)
    assert "lower bounds, shown as >=N" in shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines() if line.startswith("/")]
    assert rows and all(row[-1].startswith(">=") for row in rows)
    assert int(rows[0][-1][2:]) <= int(rows[0][1])  # a lower bound of the exact count
    summary = ok_json([*args, "--json"])["strategies"][0]
    assert summary["worst_error"] is None
    assert hits  # the input the exact counts were made from


def test_hits_a_strategy_refused_as_too_late_are_named(tmp_path: Path) -> None:
    """3,000 hits 1.2 s apart, then 300 stamped 10 min back: ehist refuses them (more than
    the lateness allowance behind), the exact counts take them; compare says why its bounds
    miss."""  # noqa: D205, D209
    t0 = 1_795_000_000
    hits = [("/a", t0 + 1.2 * i) for i in range(3000)] + [
        ("/a", t0 + 3000 + 0.1 * i) for i in range(300)
    ]
    source = tmp_path / "late.ndjson"
    source.write_text("".join(json.dumps({"endpoint": e, "ts": t}) + "\n" for e, t in hits))
    args = ["compare", str(source), "--last", "30m", "--strategies", "ehist,sliding"]
    shown = ok(args)
    assert "ehist refused 300 hits as too late" in shown.stderr
    assert "sliding refused" not in shown.stderr
    runs = {run["strategy"].split("(")[0]: run for run in ok_json([*args, "--json"])["strategies"]}
    assert runs["ehist"]["late_hits"] == 300 and runs["sliding"]["late_hits"] == 0

"""`replay --max-endpoints N`: named endpoints, `(other endpoints)`, the saved cap, the warning.

Expected counts come from `sample_traffic/web.ndjson` read with `json` (tests/cli_helpers.py)
and the rule applied by brute force: in file order, an endpoint gets a name while fewer than
N have one; every other hit counts under `(other endpoints)`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from tests.cli.conftest import metrics
from tests.cli_helpers import assert_error, ok, ok_json, pairs, read_ndjson, run, write_ndjson
from tests.conftest import SAMPLES

OTHER = "(other endpoints)"
WEB = SAMPLES / "web.ndjson"


def _expected(cap: int) -> Counter[str]:
    named: set[str] = set()
    counts: Counter[str] = Counter()
    for endpoint, _ in pairs(read_ndjson(WEB)):
        if endpoint not in named and len(named) < cap:
            named.add(endpoint)
        counts[endpoint if endpoint in named else OTHER] += 1
    return counts


def _top() -> Counter[str]:
    rows = ok_json(["top", "--last", "30d", "--limit", "1000", "--json"])
    return Counter({row["endpoint"]: row["count"] for row in rows})


def test_a_capped_replay_names_n_endpoints_and_counts_the_rest_under_other() -> None:
    ok(["replay", str(WEB), "-s", "sliding", "--max-window", "2678400", "--max-endpoints", "10"])
    expected = _expected(10)
    assert len(expected) == 11 and _top() == expected
    assert ok_json(["query", OTHER, "--last", "30d", "--json"])["count"] == expected[OTHER]
    everything = ok_json(["query", "*", "--last", "30d", "--json"])
    assert everything["count"] == len(read_ndjson(WEB))  # no hit lost
    shown = metrics()
    assert shown["max_endpoints"] == 10 and shown["endpoints_count"] == 11
    assert re.search(r"^max_endpoints +10$", ok(["metrics"]).stdout, re.MULTILINE)


def test_the_cap_is_remembered_and_an_append_cannot_change_it(tmp_path: Path) -> None:
    ok(["replay", str(WEB), "-s", "sliding", "--max-window", "2678400", "--max-endpoints", "10"])
    more = write_ndjson(tmp_path / "more.ndjson", [("/brand-new", 1_795_737_600.0)])
    ok(["replay", str(more), "--append"])  # the saved cap applies
    assert _top()[OTHER] == _expected(10)[OTHER] + 1
    ok(["replay", str(more), "--append", "--again", "--max-endpoints", "10"])  # the same: fine
    before = _top()
    for args, why in (
        (["--max-endpoints", "20"], "made with --max-endpoints 10; --append cannot change it"),
        (["--max-endpoints", "0"], "--max-endpoints must be a whole number from 1"),
    ):
        assert_error(run(["replay", str(more), "--append", *args]), 2, why)
    assert _top() == before  # nothing saved


def test_a_state_without_a_cap_refuses_one_on_append(tmp_path: Path) -> None:
    ok(["replay", str(WEB)])
    result = run(["replay", str(WEB), "--append", "--max-endpoints", "5"])
    assert_error(result, 2, "the saved state was made with no cap")
    ok(["replay", str(WEB), "--max-endpoints", "5"])  # replacing the state: a new cap
    assert metrics()["max_endpoints"] == 5


def test_a_redis_store_refuses_the_cap_before_connecting() -> None:
    result = run(["--store", "redis://127.0.0.1:1/0", "replay", str(WEB), "--max-endpoints", "5"])
    assert_error(result, 2, "--max-endpoints does not work with a Redis store yet")


def test_a_state_past_the_warning_threshold_without_a_cap_is_warned_about(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hitcount.ops import replay_types

    monkeypatch.setattr(replay_types, "ENDPOINTS_WARNING", 50)  # web.ndjson has 60 endpoints
    warned = ok(["replay", str(WEB)]).stderr
    assert "hitcount: warning: the state holds 60 endpoints (more than 50)" in warned
    assert "--max-endpoints N" in warned
    capped = ok(["replay", str(WEB), "--max-endpoints", "55"]).stderr
    assert "warning" not in capped


def test_the_default_warning_threshold_is_the_documented_one() -> None:
    from hitcount.engine.capping import ENDPOINTS_WARNING

    readme = (SAMPLES.parent / "README.md").read_text()
    assert f"{ENDPOINTS_WARNING:,}" in readme and "(other endpoints)" in readme


@pytest.mark.parametrize("suffix", [".db", ".json"])
def test_answers_of_a_capped_state_bound_the_true_counts(tmp_path: Path, suffix: str) -> None:
    """An endpoint past the cap, one with a name, a glob: every answer's bounds hold the true
    count (the file's own, no cap), and one that `(other endpoints)` may hold part of is not
    called exact; `*` and the overflow itself stay exact."""  # noqa: D205, D209
    state = ["--state", str(tmp_path / f"capped{suffix}")]
    ok([*state, "replay", str(WEB), "-s", "sliding", "--max-window", "2678400",
        "--max-endpoints", "10"])  # fmt: skip
    true = Counter(endpoint for endpoint, _ in pairs(read_ndjson(WEB)))
    named = {e for e in _expected(10) if e != OTHER}
    overflowed = sorted(set(true) - named)
    assert overflowed
    asked = [overflowed[0], sorted(named)[0], "/api/*", "/no/such/endpoint"]
    for pattern in asked:
        answer = ok_json([*state, "query", pattern, "--last", "30d", "--json"])
        expected = sum(n for e, n in true.items() if fnmatchcase(e, pattern))
        assert answer["low"] <= expected <= answer["high"], (pattern, answer, expected)
        assert not answer["exact"]  # the overflow's hits may be its own
    for pattern, expected in (("*", sum(true.values())), (OTHER, _expected(10)[OTHER])):
        answer = ok_json([*state, "query", pattern, "--last", "30d", "--json"])
        assert answer["exact"] and answer["count"] == expected
    rows = ok_json([*state, "top", "--last", "30d", "--limit", "1000", "--json"])
    for row in rows:
        if row["endpoint"] != OTHER:
            assert row["low"] <= true[row["endpoint"]] <= row["high"] and not row["exact"]


def test_plots_and_distinct_users_of_a_capped_state_bound_the_truth(tmp_path: Path) -> None:
    """`plot` (each step and the total) and `--distinct` answer an endpoint past the cap, a
    named one and a glob with bounds holding what the file itself holds (brute force)."""  # noqa: D205, D209
    state = ["--state", str(tmp_path / "capped.db")]
    ok([*state, "replay", str(WEB), "-s", "sliding", "--max-window", "2678400",
        "--max-endpoints", "10"])  # fmt: skip
    rows = [json.loads(line) for line in WEB.read_text().splitlines() if line.strip()]
    named = {e for e in _expected(10) if e != OTHER}
    overflowed = sorted({row["endpoint"] for row in rows} - named)
    for pattern in (overflowed[0], sorted(named)[0], "/api/*"):
        mine = [row for row in rows if fnmatchcase(row["endpoint"], pattern)]
        plot = ok_json([*state, "plot", pattern, "--last", "30d", "--step", "3d", "--json"])
        (series,) = plot["series"]
        assert series["total"]["low"] <= len(mine) <= series["total"]["high"]
        assert not series["total"]["exact"]
        for point in series["points"]:
            start = point["end"] - plot["step"]
            expected = sum(1 for row in mine if start < row["ts"] <= point["end"])
            assert point["low"] <= expected <= point["high"], (pattern, point, expected)
        users = len({row["user"] for row in mine})
        answer = ok_json([*state, "query", pattern, "--last", "30d", "--distinct", "--json"])
        assert answer["distinct_low"] <= users <= answer["distinct_high"], (pattern, answer)


def test_a_merge_of_shards_capped_alike_keeps_their_names_and_bounds_the_truth(
    tmp_path: Path,
) -> None:
    lines = WEB.read_text().splitlines(keepends=True)
    shards = [tmp_path / f"shard{i}.ndjson" for i in range(2)]
    for i, shard in enumerate(shards):
        shard.write_text("".join(lines[i::2]))
        ok(["--state", str(tmp_path / f"s{i}.db"), "replay", str(shard), "-s", "sliding",
            "--max-window", "2678400", "--max-endpoints", "10"])  # fmt: skip
    merged = tmp_path / "merged.json"
    ok(["merge", str(tmp_path / "s0.db"), str(tmp_path / "s1.db"), "-o", str(merged)])
    state = ["--state", str(merged)]
    named = {row["endpoint"] for row in ok_json([*state, "top", "--last", "30d", "-n", "100",
                                                 "--json"])} - {OTHER}  # fmt: skip
    assert 10 < len(named) <= 20
    true = Counter(endpoint for endpoint, _ in pairs(read_ndjson(WEB)))
    for pattern in [*sorted(named)[:3], "/api/*"]:
        answer = ok_json([*state, "query", pattern, "--last", "30d", "--json"])
        expected = sum(n for e, n in true.items() if fnmatchcase(e, pattern))
        assert answer["low"] <= expected <= answer["high"], (pattern, answer, expected)
    assert ok_json([*state, "query", "*", "--last", "30d", "--json"])["count"] == len(lines)
    newcomer = tmp_path / "new.ndjson"
    clock = max(ts for _, ts in pairs(read_ndjson(WEB)))
    newcomer.write_text(f'{{"endpoint": "/brand/new", "ts": {clock}}}\n')
    ok([*state, "replay", "--append", str(newcomer)])
    assert ok_json([*state, "query", "/brand/new", "--last", "1d", "--json"])["count"] == 0


def test_an_answer_widened_by_an_estimated_overflow_holds_at_its_confidence(
    tmp_path: Path,
) -> None:
    state = ["--state", str(tmp_path / "capped.db")]
    ok([*state, "replay", str(WEB), "-s", "morris", "--max-endpoints", "10"])
    named = {e for e in _expected(10) if e != OTHER}
    overflowed = sorted({e for e, _ in pairs(read_ndjson(WEB))} - named)[0]
    other = ok_json([*state, "query", OTHER, "--json"])
    assert other["confidence"] is not None  # morris estimates
    answer = ok_json([*state, "query", overflowed, "--json"])
    assert answer["confidence"] == other["confidence"] and answer["high"] >= other["high"]
    assert "95% interval" in ok([*state, "query", overflowed]).stdout


def test_top_leaves_out_named_endpoints_with_nothing_of_their_own(tmp_path: Path) -> None:
    state = ["--state", str(tmp_path / "capped.db")]
    ok([*state, "replay", str(WEB), "-s", "sliding", "--max-window", "2678400",
        "--max-endpoints", "10"])  # fmt: skip
    hits = read_ndjson(WEB)
    clock = max(hit.ts for hit in hits)
    for last in ("1m", "10m", "1h"):
        seconds = {"1m": 60, "10m": 600, "1h": 3600}[last]
        mine = Counter(h.endpoint for h in hits if clock - seconds < h.ts)
        named = {e for e in _expected(10) if e != OTHER}
        expected = {e for e in mine if e in named} | ({OTHER} if set(mine) - named else set())
        for command in (["top"], ["top", "*"]):
            rows = ok_json([*state, *command, "--last", last, "-n", "1000", "--json"])
            assert {row["endpoint"] for row in rows} == expected, (command, last)

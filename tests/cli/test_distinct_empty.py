"""Distinct users of a window without hits: exactly zero users, on every store, never an error.

Oracle: a window with no hit of the endpoint (or a name or glob matching none) holds no user.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hitcount.sketches.hll import HyperLogLog
from tests.cli_helpers import ok
from tests.conftest import fresh_namespace

SAMPLE = Path(__file__).resolve().parents[2] / "sample_traffic/web.ndjson"


@pytest.mark.parametrize("precision", [4, 12, 13, 16])
def test_an_empty_sketch_estimates_plus_zero(precision: int) -> None:
    estimate = HyperLogLog(precision).estimate()
    assert estimate == 0 and math.copysign(1.0, estimate) == 1.0


@pytest.mark.parametrize("suffix", [".db", ".json"])
@pytest.mark.parametrize("endpoint", ["/api", "/no/such/*", "/api/login/0"])
def test_a_window_without_hits_has_zero_users(tmp_path: Path, suffix: str, endpoint: str) -> None:
    state = ["--state", str(tmp_path / f"s{suffix}")]
    ok([*state, "replay", str(SAMPLE), "-s", "sliding", "--max-window", "1d"])
    window = ["--last", "1h", "--now", "2026-11-27T03:00:00Z"]  # no hit of the sample in it
    text = ok([*state, "query", endpoint, *window, "--distinct"]).stdout
    assert "~0 distinct users in" in text and "(0..0, 95% interval)" in text
    answer = json.loads(ok([*state, "query", endpoint, *window, "--distinct", "--json"]).stdout)
    assert answer["count"] == 0
    assert (answer["distinct"], answer["distinct_low"], answer["distinct_high"]) == (0, 0, 0)


@pytest.mark.parametrize("lines", [3, 60_000])  # the per-line path, then the block paths
def test_an_empty_user_is_no_user_in_ndjson_as_in_csv(tmp_path: Path, lines: int) -> None:
    rows = [("/u", 1_700_000_000 + i / 100, "" if i % 2 else f"a{i % 7}") for i in range(lines)]
    truth = len({user for _, _, user in rows if user})
    ndjson, csv = tmp_path / "hits.ndjson", tmp_path / "hits.csv"
    ndjson.write_text(
        "".join(json.dumps({"endpoint": e, "ts": ts, "user": u}) + "\n" for e, ts, u in rows)
    )
    csv.write_text("".join(f"{e},{ts},{u}\n" for e, ts, u in rows))
    for source in (ndjson, csv):
        state = ["--state", str(tmp_path / f"{source.suffix[1:]}.db")]
        ok([*state, "replay", str(source), "-s", "sliding", "--max-window", "1d"])
        answer = json.loads(ok([*state, "query", "/u", "--last", "1d", "--distinct",
                                "--json"]).stdout)  # fmt: skip
        assert round(answer["distinct"]) == truth, source.name  # HLL: exact at small counts
        assert answer["distinct_low"] <= truth <= answer["distinct_high"]


@pytest.mark.parametrize("kind", ["db", "json", "redis"])
def test_a_window_ending_after_now_counts_its_users_up_to_its_end(
    tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    """`--until U --now N` with N before U: the window is (U - 1h, U], on every store (Redis
    read the users' sketches only up to N and answered 0..0 for the one user; QA J1)."""  # noqa: D205, D209
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        state = ["--store", f"{url}?namespace={fresh_namespace()}"]
    else:
        state = ["--state", str(tmp_path / f"s.{kind}")]
    hits = tmp_path / "h.ndjson"
    hits.write_text('{"endpoint": "/a", "ts": 1795043290, "user": "u1"}\n')
    ok([*state, "replay", str(hits)])
    window = ["--now", "1795043000", "--until", "1795043290"]
    answer = json.loads(ok([*state, "query", "/a", *window, "--distinct", "--json"]).stdout)
    assert answer["count"] == 1
    assert answer["distinct_low"] <= 1 <= answer["distinct_high"]
    assert round(answer["distinct"]) == 1

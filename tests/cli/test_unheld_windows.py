"""Windows with no endpoint behind them: "no hits" is said as certain only when it is.

A window starting before the oldest data a state keeps may hold hits the state pruned (or,
after `swap --reset`, never held): `top`, `report` and `export` say so even when no
endpoint has a kept hit there, as `query` does. A state swapped into `morris` counts from
its source's horizon: an endpoint it holds no counter of answers 0 *since* then, not 0 over
all time. Expected numbers are worked out by hand from the hits written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import ok, ok_json, write_ndjson

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
#: Two hours of hits: /old only in the first half hour, /new every minute of both.
HITS = [("/old", T0 + 60.0 * i) for i in range(30)] + [
    ("/new", T0 + 60.0 * i + 30) for i in range(120)
]
CAVEAT = "the window starts before the oldest data"


@pytest.fixture
def reset_state(tmp_path: Path, state_env: Path) -> Path:
    """A fixed state of both hours, swapped to sliding with --reset: it holds nothing."""
    ok(["replay", str(write_ndjson(tmp_path / "hits.ndjson", HITS)), "-s", "fixed",
        "--retention", "1d"])  # fmt: skip
    ok(["swap", "sliding", "--max-window", "1h", "--reset"])
    return state_env


def test_top_with_no_row_warns_when_the_window_reaches_before_the_data_kept(
    reset_state: Path,
) -> None:
    shown = ok(["top", "--last", "3h"])
    assert "no hits in the last 3h" in shown.stderr
    assert CAVEAT in shown.stderr  # 150 hits were in that window: "no hits" is not certain
    listed = ok(["top", "--last", "3h", "--json"])
    assert json.loads(listed.stdout) == []
    assert CAVEAT in listed.stderr


def test_a_report_of_such_a_window_does_not_call_its_numbers_exact(
    reset_state: Path, tmp_path: Path
) -> None:
    page = tmp_path / "r.html"
    ok(["report", str(page), "--last", "3h"])
    text = page.read_text()
    assert "Every number on this page is exact" not in text
    assert "The window starts before the oldest data the strategy keeps" in text
    assert "0 chart step(s)" not in text  # no chart: no step to call unknown
    assert "No hits in the window" not in text and "No endpoint had a hit" not in text  # P3
    assert "No endpoint has a hit kept in the window" in text
    ok(["report", str(page), "--last", "1m", "--now", str(T0 + 7200 + 3600)])  # an hour on
    assert "No endpoint had a hit in the window" in page.read_text()  # within what is kept


def test_export_of_such_a_window_warns(reset_state: Path, tmp_path: Path) -> None:
    written = ok(["export", "--last", "3h", "-o", str(tmp_path / "hits.prom")])
    assert "may be higher" in written.stderr


def test_a_window_after_the_data_kept_with_no_hit_is_certain(
    tmp_path: Path, state_env: Path
) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "hits.ndjson", HITS)), "-s", "sliding",
        "--max-window", "1d"])  # fmt: skip
    shown = ok(["top", "/none*", "--last", "1h"])
    assert "no hits in the last 1h" in shown.stderr
    assert CAVEAT not in shown.stderr


def test_morris_after_a_swap_answers_an_endpoint_it_holds_no_counter_of_since_its_start(
    tmp_path: Path, state_env: Path
) -> None:
    """/old's hits are all older than the fixed state's 1h retention: pruned before the swap."""
    ok(["replay", str(write_ndjson(tmp_path / "hits.ndjson", HITS)), "-s", "fixed",
        "--retention", "1h"])  # fmt: skip
    ok(["swap", "morris"])
    old = ok_json(["query", "/old", "--json"])
    new = ok_json(["query", "/new", "--json"])
    assert old["count"] == 0 and old["all_time"]
    assert old["since"] is not None and old["since"] == new["since"]  # the source's horizon
    text = ok(["query", "/old"])
    assert "since" in text.stdout and "over all time" not in text.stdout
    assert "ever recorded" not in text.stderr


def test_a_report_says_why_a_window_may_hold_hits_refused_as_late(tmp_path: Path) -> None:
    """Its charts said "(see Accuracy)", and Accuracy never spoke of refused hits (QA S8)."""
    t0 = 1_700_000_000
    hits = [("/a", t0 + float(i)) for i in [*range(0, 100, 5), *range(1000, 1100, 5)]]
    state = ["--state", str(tmp_path / "g.db")]
    ok([*state, "replay", str(write_ndjson(tmp_path / "g1.ndjson", hits)), "-s", "ehist"])
    late = write_ndjson(tmp_path / "g2.ndjson", [("/a", t0 + 500.0)])
    assert "1 too late" in ok([*state, "replay", "--append", str(late)]).stdout
    page = tmp_path / "r.html"
    ok([*state, "report", str(page), "--since", str(t0 + 400), "--until", str(t0 + 600)])
    assert "ehist refused 1 hit as too late" in page.read_text()

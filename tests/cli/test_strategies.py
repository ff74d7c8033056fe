"""`hitcount strategies`: the registry on the command line.

Every expected number is either worked out by hand next to its data, or counted by brute
force from the input file read with `json`/`csv` (see tests/cli_helpers.py), never with
hitcount's own parsers. Every test runs on its own state file (`state_env`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hitcount import available_strategies
from tests.cli_helpers import assert_error, ok, ok_json, run
from tests.conftest import SAMPLES


def test_strategies_lists_the_registry() -> None:
    rows = ok_json(["strategies", "--json"])
    assert [row["name"] for row in rows] == available_strategies()
    assert {"fixed", "sliding", "morris"} <= set(available_strategies())
    flags = {row["name"]: {p["flag"] for p in row["params"]} for row in rows}
    assert flags["fixed"] == {"--window", "--retention"}
    assert flags["sliding"] == {"--max-window"}
    assert {"--base", "--counters"} <= flags["morris"]
    text = ok(["strategies"]).stdout
    for name in ("fixed", "sliding", "morris", "--max-window"):
        assert name in text


def test_seconds_parameters_take_durations_like_windows(tmp_path: Path) -> None:
    """`--max-window 1d` is `--max-window 86400`; `-p fine_s=30s` and `--mid 5m` likewise."""
    sample = str(SAMPLES / "web.ndjson")
    ok(
        [
            "--state",
            str(tmp_path / "a.json"),
            "replay",
            sample,
            "-s",
            "sliding",
            "--max-window",
            "1d",
        ]
    )
    ok(
        [
            "--state",
            str(tmp_path / "b.json"),
            "replay",
            sample,
            "-s",
            "sliding",
            "--max-window",
            "86400",
        ]
    )
    metrics = [
        ok_json(["--state", str(tmp_path / f"{name}.json"), "metrics", "--json"]) for name in "ab"
    ]
    assert metrics[0]["strategy_params"] == metrics[1]["strategy_params"] == {"max_window_s": 86400}
    ok(["--state", str(tmp_path / "t.json"), "replay", sample, "-s", "tiered", "-p", "fine_s=30s",
        "--mid", "5m"])  # fmt: skip
    params = ok_json(["--state", str(tmp_path / "t.json"), "metrics", "--json"])["strategy_params"]
    assert params["fine_s"] == 30 and params["mid_s"] == 300
    bad = run(["--state", str(tmp_path / "c.json"), "replay", sample, "-s", "sliding",
               "--max-window", "1x"])  # fmt: skip
    assert_error(bad, 2, "--max-window must be seconds or a duration such as 90s")
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--window", "60", "-p", "window_s=30"], "--window and --param window_s=... both set"),
        (["-p", "window_s=30", "--window", "60"], "--window and --param window_s=... both set"),
        (["-p", "window_s=30", "-p", "window_s=45"], "--param window_s is given twice"),
    ],
)
def test_one_parameter_given_twice_is_refused_before_anything_changes(
    tmp_path: Path, args: list[str], said: str
) -> None:
    """`-p` used to win silently over the flag, whatever the order (QA G2)."""
    state = ["--state", str(tmp_path / "s.db")]
    ok([*state, "replay", str(SAMPLES / "web.ndjson"), "-s", "fixed", "--window", "10"])
    before = ok_json([*state, "metrics", "--json"])
    assert_error(run([*state, "replay", str(SAMPLES / "web.ndjson"), *args]), 2, said)
    assert_error(run([*state, "swap", "fixed", *args]), 2, said)
    compare = ["compare", str(SAMPLES / "web.ndjson"), "--strategies", "fixed", *args]
    assert_error(run(compare), 2, said)
    assert ok_json([*state, "metrics", "--json"]) == before


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["-s", "morris", "--base", "1e308"], "--base must be <= 16, got 1e+308"),
        (["-s", "ehist", "--epsilon", "1"], "--epsilon must be < 1, got 1"),
        (["-s", "auto", "--epsilon", "1e300"], "--epsilon must be < 1, got 1e+300"),
        (["--window", "1e300"], "--window must be <= 253402300799, got 1e+300"),
    ],
)
def test_a_value_out_of_range_is_named_in_a_few_characters(
    tmp_path: Path, args: list[str], said: str
) -> None:
    """One bound per parameter, as --help states it; no 309-digit number (QA G4)."""
    result = run(["--state", str(tmp_path / "s.db"), "replay", str(SAMPLES / "web.ndjson"), *args])
    assert_error(result, 2, said)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["-p", "bogus=3"], "no compared strategy (fixed, sliding, morris"),
        (["--strategies", "sliding", "-p", "windw_s=30"], "(sliding) has a parameter 'windw_s'"),
        (["--strategies", "sliding", "--window", "30"], "(sliding) has a parameter 'window_s'"),
    ],
)
def test_compare_refuses_a_parameter_no_compared_strategy_takes(args: list[str], said: str) -> None:
    """A typo gave the defaults without a word, where replay refuses it (QA H5)."""
    assert_error(run(["compare", str(SAMPLES / "web.ndjson"), "-n", "1", *args]), 2, said)

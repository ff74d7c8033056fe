"""Cheap process start: `query` and `--version` do not import numpy or other heavy modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hitcount import FileStore, HitCounter, save_counter

pytestmark = pytest.mark.slow

_PROBE = """
import sys
from hitcount.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
heavy = sorted(name for name in ("numpy", "pandas", "hypothesis") if name in sys.modules)
print("HEAVY", ",".join(heavy), code, file=sys.stderr)
"""


@pytest.mark.parametrize("strategy", ["fixed", "sliding", "morris"])
@pytest.mark.parametrize("argv", [["--version"], ["query", "/a", "--last", "60"], ["metrics"]])
def test_read_only_commands_do_not_import_numpy(
    tmp_path: Path, strategy: str, argv: list[str]
) -> None:
    state = tmp_path / "state.json"
    counter = HitCounter(strategy)
    counter.record_many(("/a", 1_767_225_600.0 + i) for i in range(1000))
    save_counter(FileStore(state), counter)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "--state", str(state), *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    verdict = result.stderr.strip().splitlines()[-1]
    assert verdict in ("HEAVY  0", "HEAVY  None"), result.stderr

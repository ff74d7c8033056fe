"""The README's example outputs are what the commands print today.

`scripts/readme_examples.py` runs every example command shown in README.md on the bundled
sample traffic and compares what it prints with what the README shows (elapsed seconds and
rates aside). When this fails, run `python scripts/readme_examples.py`, which rewrites the
outputs, and review the diff.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _script() -> ModuleType:
    path = ROOT / "scripts" / "readme_examples.py"
    spec = importlib.util.spec_from_file_location("readme_examples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def test_readme_examples_show_what_the_commands_print() -> None:
    drift = _script().drift((ROOT / "README.md").read_text(encoding="utf-8"))
    assert not drift, (
        "README.md's examples no longer match what the commands print;"
        " run `python scripts/readme_examples.py` and review the diff:\n" + drift
    )


def test_a_drifted_output_is_caught_and_timings_are_not() -> None:
    script = _script()
    readme = (
        "text\n\n```\n$ hitcount replay sample_traffic/web.csv\n"
        "replayed 5001 lines from sample_traffic/web.csv (csv) in 9.99s: 5000 hits kept,"
        " 0 too late, 0 bad lines\nstate: wrong\n```\n\n"
        "<!-- example: skip: not run -->\n```\n$ hitcount nonsense\nLEFT ALONE\n```\n"
        "<!-- example\nbefore: hitcount replay sample_traffic/late.ndjson\nnot run: ssh\n-->\n"
        "```\n$ hitcount metrics --json | jq .lines_read\n0\n$ ssh x\nAS WRITTEN\n```\n"
        "<!-- example: output of: echo made by a run -->\n```\nstale\n```\n"
    )
    drift = script.drift(readme).splitlines()
    changed = [line for line in drift if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    lines = (ROOT / "sample_traffic/late.ndjson").read_bytes().count(b"\n")
    assert changed[0] == "-state: wrong" and changed[1].startswith("+state: fixed · 60 endpoints")
    assert changed[2:] == ["-0", f"+{lines}", "-stale", "+made by a run"]  # 9.99s: no drift
    fresh = script.regenerate(readme)
    assert "$ hitcount nonsense\nLEFT ALONE\n" in fresh and "$ ssh x\nAS WRITTEN\n" in fresh
    assert not script.drift(fresh)
    assert script.regenerate(fresh) == fresh  # outputs differing only in timings stay as written


def test_unknown_directives_are_refused() -> None:
    with pytest.raises(SystemExit, match="unknown example directive"):
        list(_script().examples("<!-- example: sometimes: x -->\n```\n$ true\n```\n"))

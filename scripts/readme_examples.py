"""Run the example commands shown in README.md and write their real output back into it.

Every fenced block whose first line starts with `$ ` is an example: its `$ ` lines (and the
lines continuing one that ends in a backslash) are run in order by bash, in one scratch
directory for the whole README (so files and the saved state carry from one block to the
next, as for a reader who types them), with `sample_traffic/` linked in, `HOME` pointing
into the scratch directory (so the default state path prints as
`~/.local/state/hitcount/state.db`), no `HITCOUNT_*` variables, `TZ=UTC`, `COLUMNS=100`
and stdout piped (plain tables). The lines after each command are replaced by what it
printed, stdout and stderr merged.

An HTML comment just before a block steers it (several directives, one per line):

    <!-- example
    before: hitcount replay sample_traffic/web.ndjson -s sliding --max-window 3600
    not run: ssh
    -->
    <!-- example: skip: needs a terminal -->

`before:` runs a command first without showing it (the state the prose assumes); `not run:`
leaves commands containing that text, and the lines after them, as they are; `skip:` leaves
the whole block alone, for the reason given; `output of: COMMAND` makes the whole block what
COMMAND prints (the command being shown elsewhere, in a block of its own to copy).

Usage:
    python scripts/readme_examples.py           # rewrite README.md's example outputs
    python scripts/readme_examples.py --check   # exit 1, with a diff, if any has drifted

What differs from run to run (elapsed seconds, rates) is no change: an output that differs
only there is left as written, and `--check` ignores it. Rerun the script after changing what
a command prints, and review the diff.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: How the scratch directory is shown in outputs that name it.
SHOWN_DIR = "/tmp/example"
#: Seconds one example command may take.
COMMAND_TIMEOUT_S = 300

_BLOCK = re.compile(r"^```[a-z]*\n(?P<body>.*?)^```$", re.S | re.M)
_DIRECTIVES = re.compile(r"<!-- example(?P<body>(?:(?!-->).)*)-->\s*\Z", re.S)
#: What changes from one run to the next, masked by `--check`.
_VOLATILE = [
    (re.compile(r"\bin \d+\.\d+s\b"), "in <s>s"),
    (re.compile(r"[\d,.]+ (hits|lines)/s\b"), r"<n> \1/s"),
    (
        re.compile(
            r"^((?:fixed|sliding|morris|ehist|tiered|auto)(?: \(all time\))?) +[\d.]+ +", re.M
        ),
        r"\1 <s> ",
    ),
]


@dataclass
class Example:
    """One block: where it is in the README, its text, and how to run it."""

    start: int
    end: int
    body: str
    before: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    skip: str | None = None
    output_of: str | None = None


def examples(text: str) -> Iterator[Example]:
    """The example blocks of `text`, with the directives of the comment before each."""
    for match in _BLOCK.finditer(text):
        example = Example(match.start("body"), match.end("body"), match.group("body"))
        directives = _DIRECTIVES.search(text, 0, match.start())
        if directives is not None:
            _apply(example, directives.group("body"))
        if example.body.startswith("$ ") or example.output_of is not None:
            yield example


def _apply(example: Example, body: str) -> None:
    for line in body.strip().removeprefix(":").splitlines():
        key, _, value = line.strip().partition(":")
        if key == "before":
            example.before.append(value.strip())
        elif key == "not run":
            example.not_run.append(value.strip())
        elif key == "output of":
            example.output_of = value.strip()
        elif key == "skip":
            example.skip = value.strip() or "skipped"
        elif key:
            raise SystemExit(f"README.md: unknown example directive {line.strip()!r}")


def commands(body: str) -> Iterator[tuple[str, list[str]]]:
    """Each `$ ` command of a block (continuation lines joined) and the lines shown after it."""
    lines = body.splitlines()
    index = 0
    while index < len(lines):
        typed = [lines[index]]
        while typed[-1].endswith("\\") and index + 1 < len(lines):
            index += 1
            typed.append(lines[index])
        index += 1
        shown: list[str] = []
        while index < len(lines) and not lines[index].startswith("$ "):
            shown.append(lines[index])
            index += 1
        yield "\n".join(typed), shown


class Sandbox:
    """A scratch directory with the sample traffic, and the environment examples run in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "sample_traffic").symlink_to(ROOT / "sample_traffic")
        self.home = root / "home"
        self.home.mkdir()
        missing = [tool for tool in ("bash", "awk", "jq") if shutil.which(tool) is None]
        if missing:
            raise SystemExit(f"the README's examples need {', '.join(missing)}: install it first")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HITCOUNT_", "XDG_"))}
        for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE"):
            env.pop(name, None)
        bin_dir = Path(sys.executable).parent
        if not (bin_dir / "hitcount").exists():
            raise SystemExit(
                f"no hitcount beside {sys.executable}: run this script with the Python"
                " hitcount is installed in (.venv/bin/python scripts/readme_examples.py)"
            )
        env.update(HOME=str(self.home), TZ="UTC", COLUMNS="100", LC_ALL="C.UTF-8")
        env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
        self.env = env

    def run(self, command: str) -> str:
        """What `command` prints (stdout and stderr merged), with the scratch paths hidden."""
        done = subprocess.run(
            ["bash", "-c", command.replace("\\\n", "")],
            cwd=self.root, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT_S, check=False,
        )  # fmt: skip
        out = done.stdout.decode("utf-8", "replace")
        return out.replace(str(self.home), "~").replace(str(self.root), SHOWN_DIR)


def render(example: Example, sandbox: Sandbox) -> str:
    """The block's text with each command followed by what it printed now."""
    if example.skip is not None:
        return example.body
    for command in example.before:
        sandbox.run(command)
    if example.output_of is not None:  # the block shows only what the command printed
        return _settled(example.body.rstrip("\n"), sandbox.run(example.output_of)) + "\n"
    parts: list[str] = []
    for typed, shown in commands(example.body):
        if any(marker in typed for marker in example.not_run):
            parts.append("\n".join([typed, *shown]))
            continue
        blank_after = bool(shown) and shown[-1] == ""  # a blank line between commands stays
        printed = _settled("\n".join(shown[:-1] if blank_after else shown), sandbox.run(typed[2:]))
        parts.append("\n".join([typed, *([printed] if printed else []), *[""] * blank_after]))
    return "\n".join(parts) + "\n"


def _settled(written: str, printed: str) -> str:
    """What to show: `written` if `printed` differs from it only in timings, else `printed`."""
    printed = printed.rstrip("\n")
    return written if masked(written) == masked(printed) else printed


def regenerate(text: str) -> str:
    """`text` with every example's output replaced by a fresh run."""
    with tempfile.TemporaryDirectory(prefix="hitcount-readme-") as scratch:
        sandbox = Sandbox(Path(scratch).resolve())
        pieces: list[str] = []
        last = 0
        for example in examples(text):
            pieces += [text[last : example.start], render(example, sandbox)]
            last = example.end
        return "".join(pieces) + text[last:]


def masked(text: str) -> str:
    """`text` without what differs from run to run (elapsed seconds, rates)."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def drift(text: str) -> str:
    """A unified diff of the README's examples against a fresh run ("" when they agree)."""
    fresh = regenerate(text)
    diff = difflib.unified_diff(
        masked(text).splitlines(keepends=True),
        masked(fresh).splitlines(keepends=True),
        "README.md (as written)",
        "README.md (as run now)",
    )
    return "".join(diff)


def main(argv: list[str] | None = None) -> int:
    """Rewrite the README's example outputs, or (`--check`) report how they drifted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="report drift; change nothing")
    parser.add_argument("readme", nargs="?", type=Path, default=README)
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    if args.check:
        found = drift(text)
        sys.stdout.write(found or "README examples match what the commands print\n")
        return 1 if found else 0
    fresh = regenerate(text)
    args.readme.write_text(fresh, encoding="utf-8")
    diff = difflib.ndiff(text.splitlines(), fresh.splitlines())
    changed = sum(1 for line in diff if line.startswith(("+ ", "- ")))
    print(f"{args.readme}: {changed} lines of example output changed (review with git diff)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m hitcount` and the `hitcount` command: run the command line.

The command line is imported inside `main`, so a Ctrl-C while Python is still loading it
exits 130 with one line, like a Ctrl-C at any later moment, instead of a traceback.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        from hitcount.cli import main as run
    except KeyboardInterrupt:
        from hitcount.errors import ExitCode

        sys.stderr.write("hitcount: error: interrupted while starting; nothing was read or saved\n")
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    run(argv)


if __name__ == "__main__":
    main()

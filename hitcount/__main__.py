"""`python -m hitcount` and the `hitcount` command: run the command line.

The command line is imported inside `main`, so a Ctrl-C while Python is still loading it
exits 130 with one line, like a Ctrl-C at any later moment, instead of a traceback.

Python's cyclic garbage collector runs a young-generation pass every 700 new container
objects by default; start-up (some 200 modules, their classes and functions, all kept) and a
replay's batches make hundreds of thousands, so the pass ran hundreds of times over objects
that live to the end. The command line raises the threshold to `YOUNG_OBJECTS` (cyclic
garbage is still collected, in larger steps): about 4 ms less for every command's start, and
a tenth less for a 2M-line replay (docs/performance.md).

Once the command is done, its objects are frozen (`gc.freeze`): the process is about to end,
and the collections Python runs while exiting would otherwise walk every object a replay
built (about 0.025 s after a 2M-line `fixed` replay, of 0.04 s spent exiting).
"""

from __future__ import annotations

import gc
import sys

#: New container objects between two young-generation collections (Python's default: 700).
YOUNG_OBJECTS = 50_000


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    gc.set_threshold(YOUNG_OBJECTS, *gc.get_threshold()[1:])
    try:
        from hitcount.cli import main as run
    except KeyboardInterrupt:
        from hitcount.errors import ExitCode

        sys.stderr.write("hitcount: error: interrupted while starting; nothing was read or saved\n")
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    try:
        run(argv)
    finally:
        gc.freeze()  # exiting frees them without a collection walking them first


if __name__ == "__main__":
    main()

"""`python -m hitcount` and the `hitcount` command: run the command line.

The command line is imported inside `main`, so a Ctrl-C while Python is still loading it
exits 130 with one line, like a Ctrl-C at any later moment, instead of a traceback.

Python's cyclic garbage collector runs a young-generation pass every 700 new container
objects; loading the command line makes some 200 modules, their classes and functions, all
kept to the end, so those passes (and the full ones they lead to) walked them again and
again. Start-up raises the threshold to `START_YOUNG_OBJECTS`, then freezes what it made
(`gc.freeze`: no later collection walks it) and puts Python's thresholds back for the
command itself: about 3 ms less for every command's start, and less for a replay's
collections too (docs/performance.md). A threshold kept high for the whole run made
replays slower (young passes over 50,000 objects that live on).

Once the command is done, its objects are frozen (`gc.freeze`): the process is about to end,
and the collections Python runs while exiting would otherwise walk every object a replay
built (about 0.025 s after a 2M-line `fixed` replay, of 0.04 s spent exiting).
"""

from __future__ import annotations

import gc
import sys

#: New container objects between two young-generation collections while the command line
#: loads (Python's default, kept for the command itself: 700).
START_YOUNG_OBJECTS = 50_000


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    thresholds = gc.get_threshold()
    gc.set_threshold(START_YOUNG_OBJECTS, *thresholds[1:])
    try:
        from hitcount.cli import main as run
    except KeyboardInterrupt:
        from hitcount.errors import ExitCode

        sys.stderr.write("hitcount: error: interrupted while starting; nothing was read or saved\n")
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    gc.freeze()  # start-up's modules, classes and functions live to the end
    gc.set_threshold(*thresholds)
    try:
        run(argv)
    finally:
        gc.freeze()  # exiting frees them without a collection walking them first


if __name__ == "__main__":
    main()

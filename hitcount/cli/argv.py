"""Global options where users type them: `hitcount replay f --state x` as well as before.

Click reads the top-level options (`--state`, `--store`, `--namespace`, `--debug`) only
before the command's name. `globals_first` moves those found after it to the front, so both
orders work; everything after `--` is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The top-level options, and whether each takes a value.
GLOBAL_OPTIONS = {"--state": True, "--store": True, "--namespace": True, "--debug": False}


def globals_first(argv: Sequence[str]) -> list[str]:
    """`argv` with the global options that follow the command moved before it."""
    command = _command_position(argv)
    if command is None:
        return list(argv)
    moved: list[str] = []
    kept: list[str] = list(argv[: command + 1])
    rest = list(argv[command + 1 :])
    while rest:
        token = rest.pop(0)
        if token == "--":
            kept += [token, *rest]
            break
        name = token.split("=", 1)[0]
        if name not in GLOBAL_OPTIONS:
            kept.append(token)
        elif GLOBAL_OPTIONS[name] and "=" not in token and rest:
            moved += [token, rest.pop(0)]
        else:
            moved.append(token)
    return moved + kept


def _command_position(argv: Sequence[str]) -> int | None:
    """The index of the command's name: the first word that is not a global option's."""
    index = 0
    while index < len(argv):
        token = argv[index]
        if not token.startswith("-"):
            return index
        name = token.split("=", 1)[0]
        index += 2 if GLOBAL_OPTIONS.get(name) and "=" not in token else 1
    return None

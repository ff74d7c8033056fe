"""Library parameters and the flags that set them: library errors name a parameter
(`last_s must be ...`, `param="last_s"`); the command line shows the flag (`--last must be ...`).
"""  # noqa: D205

from __future__ import annotations

from hitcount.errors import ConfigurationError
from hitcount.strategies import available_strategies, get_strategy

#: Parameter names of the library and their flags, for every command.
FLAGS: dict[str, str] = {
    "last": "--last",
    "last_s": "--last",
    "now": "--now",
    "step": "--step",
    "step_s": "--step",
    "limit": "--limit",
    "distinct_precision": "--distinct-precision",
    "commit_every_s": "--commit-every",
    "follow": "--follow",
    "rule": "--alert",
    "depth": "--depth",
    "by": "--by",
    "max_endpoints": "--max-endpoints",
    "max_lateness_s": "--max-lateness",
}
#: Where one command names a parameter with another flag.
COMMAND_FLAGS: dict[str, dict[str, str]] = {
    "report": {"limit": "--top"},
}


def strategy_flags() -> dict[str, str]:
    """Every strategy parameter of the registry and its flag (`window_s`: `--window`)."""
    return {
        param.name: param.flag
        for name in available_strategies()
        for param in get_strategy(name).params_spec
    }


def flag_for(param: str, command: str | None = None) -> str | None:
    """The flag that sets `param` in `command` (None when no flag does)."""
    special = COMMAND_FLAGS.get(command or "", {})
    return special.get(param) or FLAGS.get(param) or strategy_flags().get(param)


def message_with_flag(err: ConfigurationError, command: str | None = None) -> str:
    """`err`'s message with the parameter it starts with replaced by its flag."""
    param = err.param
    flag = flag_for(param, command) if param else None
    if param is None or flag is None or not err.message.startswith(param):
        return err.message
    return flag + err.message[len(param) :]

"""One exception hierarchy for hitcount, each class with its own process exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the `hitcount` command (documented in the README)."""

    OK = 0
    BUG = 1
    USAGE = 2
    INPUT = 3
    STATE = 4
    STORE_UNAVAILABLE = 5
    UNKNOWN_STRATEGY = 6
    SWAP_REFUSED = 7
    OUTPUT = 8
    ALERT = 9
    BROKEN_PIPE = 141
    INTERRUPTED = 130


class HitcountError(Exception):
    """Base of every error hitcount raises on purpose; `hint` says what to do about it."""

    exit_code: ExitCode = ExitCode.BUG

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigurationError(HitcountError):
    """A parameter or option value is invalid (negative window, unparsable time...).

    Attributes:
        param: the parameter at fault (`last_s`), when one is; the message starts with its
            name, which the command line replaces with the flag that sets it (`--last`).
    """

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None, param: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.param = param


class UnknownStrategyError(ConfigurationError):
    """A strategy name is not in the registry."""

    exit_code = ExitCode.UNKNOWN_STRATEGY


class InputError(HitcountError):
    """An input file cannot be read, or (under --strict) one of its lines is bad.

    Attributes:
        source: the file name (or "<stdin>").
        line: the 1-based line number, when the problem is one line.
        reason: what is wrong.
    """

    exit_code = ExitCode.INPUT

    def __init__(
        self, source: str, reason: str, *, line: int | None = None, hint: str | None = None
    ) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}", hint=hint)
        self.source = source
        self.line = line
        self.reason = reason


class StateError(HitcountError):
    """Saved state or a snapshot is missing, damaged, foreign or from a newer version."""

    exit_code = ExitCode.STATE


class SwapRefusedError(StateError):
    """A strategy swap would need information the current state no longer has."""

    exit_code = ExitCode.SWAP_REFUSED


class MergeRefusedError(StateError):
    """States cannot be merged: different strategies or parameters, or a strategy whose
    state cannot be combined soundly."""  # noqa: D205, D209

    exit_code = ExitCode.STATE


class StoreUnavailableError(HitcountError):
    """The state store cannot be reached (Redis down, permission denied, lock timeout)."""

    exit_code = ExitCode.STORE_UNAVAILABLE


class OutputError(HitcountError):
    """An output file cannot be written (missing or read-only directory, not ours to replace)."""

    exit_code = ExitCode.OUTPUT


class AlertStopError(HitcountError):
    """`--exit-on-alert`: an alert fired, so the replay stopped (its state is saved)."""

    exit_code = ExitCode.ALERT

"""What a Redis append's batches have written so far, and how to go on when one fails.

A file is resumed where the last batch left it (`--append --resume`); stdin or a pipe is read
once and never resumed, so its messages say which lines to give again instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from hitcount.errors import InputError
from hitcount.model.positions import InputPosition, display_name, find, is_stream

_AGAIN = "run the same command with --append --resume to go on without counting twice"


class Written:
    """The hits, file positions and stream lines the landed batches hold."""

    def __init__(self) -> None:
        self.hits = 0
        self.files: dict[str, InputPosition] = {}  # how far Redis has each file
        self.stream_read = 0  # lines of stdin or a pipe read so far
        self.stream_landed = 0  # ... and in Redis

    def landed(self, hits: int, files: Mapping[str, InputPosition]) -> None:
        """A batch of `hits` landed, with the files' positions up to it."""
        self.hits += hits
        self.files = dict(files)
        self.stream_landed = self.stream_read

    def summary(self, source: str | None) -> str:
        """`N hits of this replay were written (through line L of FILE)`."""
        where = ""
        if source is not None:
            if is_stream(source):
                done = self.stream_landed
            else:
                position = find(self.files, source)
                done = position.lines if position is not None else 0
            where = f" (through line {done} of {display_name(source)})"
        return f"{self.hits} hits of this replay were written{where}"

    def again(self, source: str | None) -> str:
        """How to go on after a failed batch: resume a file; give a stream's rest again."""
        if source is None or not is_stream(source):
            return _AGAIN
        return (
            f"give replay --append only the lines after line {self.stream_landed}:"
            f" {display_name(source)} is read once and cannot be resumed"
        )

    def partly(self, err: InputError, source: str | None) -> InputError:
        """`err` (a bad input met after some batches landed) saying what was written and how
        to go on, instead of its "nothing was saved"."""  # noqa: D205, D209
        if not self.files and not self.hits:
            return err
        hint = f"{self.summary(source)}; fix the input, then {self.again(source)}"
        return InputError(err.source, err.reason, line=err.line, hint=hint)

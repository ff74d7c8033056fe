"""Input formats by name, and how the format of an input is chosen.

The format comes from `--format`, else from the file name (`.ndjson`, `.jsonl`, `.json`,
`.csv`, optionally followed by `.gz`), else it is sniffed from the first non-blank line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hitcount.errors import ConfigurationError, InputError
from hitcount.ingest.formats.access_log import parse_combined, parse_common, sniff_access_log
from hitcount.ingest.formats.csv import CsvParser
from hitcount.ingest.formats.log_format import LogFormatParser
from hitcount.ingest.formats.ndjson import NdjsonParser
from hitcount.model.hits import BadLine, Hit


class LineParser(Protocol):
    """Turns one line (bytes, no newline) into a hit, None (nothing there), or BadLine."""

    name: str

    def parse(self, line: bytes) -> Hit | None:
        """The hit on this line, or None for a line that holds nothing (blank, header)."""


class AccessLogParser:
    """Apache/nginx access-log lines (see `hitcount.ingest.formats.access_log`)."""

    def __init__(self, name: str, parse_line: Callable[[bytes], Hit]) -> None:
        self.name = name
        self._parse_line = parse_line

    def parse(self, line: bytes) -> Hit | None:
        """The hit on this line, or None for a blank line."""
        if not line.strip():
            return None
        return self._parse_line(line)


_FACTORIES: dict[str, Callable[[], LineParser]] = {
    "ndjson": NdjsonParser,
    "csv": CsvParser,
    "combined": lambda: AccessLogParser("combined", parse_combined),
    "common": lambda: AccessLogParser("common", parse_common),
}
#: `make_parser(LOG_FORMAT_PREFIX + layout)`: a custom access-log layout (`--log-format`).
LOG_FORMAT_PREFIX = "log_format:"
_SUFFIXES = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson", ".csv": "csv"}


def available_formats() -> list[str]:
    """Names of every input format."""
    return list(_FACTORIES)


def make_parser(name: str) -> LineParser:
    """A fresh parser for format `name`.

    Raises:
        ConfigurationError: unknown format (the message lists the valid ones).
    """
    if name.startswith(LOG_FORMAT_PREFIX):
        return LogFormatParser(name.removeprefix(LOG_FORMAT_PREFIX))
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ConfigurationError(
            f"unknown format {name!r}", hint=f"choose one of: {', '.join(_FACTORIES)}"
        )
    return factory()


def format_from_name(path: str) -> str | None:
    """The format a file name implies, ignoring a trailing `.gz`; None when it says nothing."""
    lowered = path.lower().removesuffix(".gz").removesuffix(".gzip")
    for suffix, name in _SUFFIXES.items():
        if lowered.endswith(suffix):
            return name
    return None


def sniff_format(first_line: bytes, source: str) -> str:
    """The format of a first non-blank line.

    Raises:
        InputError: the line looks like none of the formats.
    """
    stripped = first_line.strip()
    if stripped.startswith(b"{"):
        return "ndjson"
    access = sniff_access_log(stripped)
    if access is not None:
        return access
    if b"," in stripped:
        return "csv"
    raise InputError(
        source,
        "cannot tell the input format from the first line",
        line=1,
        hint=f"pass --format ({', '.join(_FACTORIES)})",
    )


__all__ = [
    "BadLine",
    "Hit",
    "LineParser",
    "available_formats",
    "format_from_name",
    "make_parser",
    "sniff_format",
]

"""Input formats by name, and how the format of an input is chosen.

The format comes from `--format`, else from the file name (`.ndjson`, `.jsonl`, `.json`,
`.csv`, optionally followed by `.gz`), else it is sniffed from the first non-blank lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
#: Non-blank lines sniffed for an NDJSON or access-log line: a piece of a log cut mid-line
#: (`tail -c`, a split file) starts with the end of a line, which no format reads.
SNIFF_LINES = 64


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
    return sniff_lines([(1, first_line)], source)


def sniff_lines(lines: Iterable[tuple[int, bytes | None]], source: str) -> str:
    """The format of an input's first lines (`(number, line)`, blank and over-long ones
    skipped): the first of `SNIFF_LINES` non-blank lines that starts with `{` is `ndjson`,
    or has an access log's shape; else `csv` when the first non-blank line has a comma.

    Raises:
        InputError: none of them shows a format (at the first non-blank line).
    """  # noqa: D205
    first: tuple[int, bytes] | None = None
    seen = 0
    for number, line in lines:
        stripped = line.strip() if line is not None else b""
        if not stripped:
            continue
        first = first or (number, stripped)
        if stripped.startswith(b"{"):
            return "ndjson"
        access = sniff_access_log(stripped)
        if access is not None:
            return access
        seen += 1
        if seen == SNIFF_LINES:
            break
    if first is not None and b"," in first[1]:
        return "csv"
    raise InputError(
        source,
        "cannot tell the input format from its first lines",
        line=first[0] if first is not None else 1,
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
    "sniff_lines",
]

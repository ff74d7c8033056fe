"""CSV input: `endpoint,timestamp[,user]`, with an optional header naming the columns.

A header is recognised on the first line when it names an endpoint column (`endpoint`,
`path`, `url`) and a time column (`timestamp`, `ts`, `time`); its column order is then
used. Timestamps take the same forms as in NDJSON.

A record is one line: a quoted field left open at the end of a line (an RFC 4180 record
that spans lines) makes that line bad, and every following line up to the one that closes
the quote, so the second half of a record is never read as a hit of its own.
"""

from __future__ import annotations

import csv

from hitcount.model.hits import BadLine, Hit, check_endpoint, check_user, epoch_from_value

_ENDPOINT_NAMES = ("endpoint", "path", "url", "uri", "request")
_TIME_NAMES = ("timestamp", "ts", "time", "datetime")
_USER_NAMES = ("user", "client", "ip", "host", "user_id")
#: The header names a column of each field goes by, first found first.
HEADER_NAMES = {"endpoint": _ENDPOINT_NAMES, "ts": _TIME_NAMES, "user": _USER_NAMES}
_SPANNING = "records spanning lines are not supported"


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


class CsvLines:
    """Reads one CSV line into its fields; a quoted field left open at a line's end makes that
    line and every line up to the one closing it bad (records spanning lines are not read)."""  # noqa: D205, D209

    def __init__(self) -> None:
        #: Whether an earlier line left a quoted field open (the record spans lines).
        self._in_quotes = False

    def fields(self, line: bytes) -> list[str] | None:
        """The line's fields; None for a blank line.

        Raises:
            BadLine: undecodable, inside or opening a quoted field that spans lines, or invalid.
        """
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BadLine(f"not UTF-8 text (byte {err.start})") from err
        if self._in_quotes:
            self._in_quotes = text.count('"') % 2 == 0  # an odd count closes the field
            raise BadLine(f"invalid CSV (inside a quoted field opened above; {_SPANNING})")
        if not text.strip():
            return None
        try:
            return next(csv.reader([text], strict=True))
        except csv.Error as err:
            if str(err) == "unexpected end of data":  # a quoted field still open at the end
                self._in_quotes = True
                raise BadLine(f"invalid CSV (a quoted field is not closed; {_SPANNING})") from err
            raise BadLine(f"invalid CSV ({err})") from err


class CsvParser(CsvLines):
    """Parses CSV lines; remembers the header's column order."""

    name = "csv"

    def __init__(self) -> None:
        super().__init__()
        self._columns: tuple[int, int, int | None] = (0, 1, 2)
        self._first = True
        #: The header's column names (lowercased), when the input has a header.
        self.header: list[str] | None = None
        #: The fields of the last line parsed (for `--key` and `--where`).
        self.last_fields: list[str] = []

    @classmethod
    def after_header(
        cls, columns: tuple[int, int, int | None], in_quotes: bool = False
    ) -> CsvParser:
        """A parser past the first line, its columns known (a range of a file, say)."""
        parser = cls()
        parser._columns, parser._first, parser._in_quotes = columns, False, in_quotes
        return parser

    @property
    def needs_each_line(self) -> bool:
        """Whether the next line must come here (a header may follow, or a quote is open)."""
        return self._first or self._in_quotes

    @property
    def columns(self) -> tuple[int, int, int | None]:
        """The columns of the endpoint, the timestamp and the user (None: no user column)."""
        return self._columns

    def parse(self, line: bytes) -> Hit | None:
        """The hit on this line, or None for a blank or header line.

        Raises:
            BadLine: undecodable, too few fields, or an invalid endpoint or timestamp.
        """
        fields = self.fields(line)
        if fields is None:
            return None
        if self._first:
            self._first = False
            if self._read_header(fields):
                return None
        self.last_fields = fields
        return self._hit(fields)

    def _read_header(self, fields: list[str]) -> bool:
        header = [field.strip().lower() for field in fields]
        endpoint = _find(header, _ENDPOINT_NAMES)
        ts = _find(header, _TIME_NAMES)
        if endpoint is None or ts is None:
            return False
        self._columns = (endpoint, ts, _find(header, _USER_NAMES))
        self.header = header
        return True

    def _hit(self, fields: list[str]) -> Hit:
        endpoint_col, ts_col, user_col = self._columns
        if len(fields) <= max(endpoint_col, ts_col):
            raise BadLine(f"expected endpoint,timestamp[,user]; got {len(fields)} field(s)")
        user = fields[user_col] if user_col is not None and user_col < len(fields) else None
        return Hit(
            check_endpoint(fields[endpoint_col]),
            epoch_from_value(fields[ts_col].strip()),
            check_user(user or None),
        )

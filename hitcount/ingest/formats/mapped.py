"""`replay --field NAME=SOURCE`: NDJSON and CSV whose fields have other names.

`NAME` is `endpoint`, `ts` or `user`; `SOURCE` is the input's field: an NDJSON field by
name (`request.path` reaches into nested objects) or a CSV column by its header name. For
example `--field endpoint=request.path --field ts=time` reads
`{"time": "2026-11-27T12:00:00Z", "request": {"path": "/api"}}`. Unmapped fields keep their
usual names (NDJSON: `endpoint`, `ts` or `timestamp`, `user`; CSV: the header names the
CSV reader knows, such as `path` or `time`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from hitcount.errors import ConfigurationError
from hitcount.ingest.formats.csv import HEADER_NAMES, CsvLines
from hitcount.ingest.formats.ndjson import invalid_json
from hitcount.model.hits import BadLine, Hit, check_endpoint, check_user, epoch_from_value
from hitcount.model.keys import lookup

#: The fields a mapping may name, and the input names they have without one.
TARGETS: dict[str, tuple[str, ...]] = {
    "endpoint": ("endpoint",),
    "ts": ("ts", "timestamp"),
    "user": ("user",),
}


def parse_fields(items: list[str] | None) -> dict[str, str]:
    """`--field NAME=SOURCE` options as {NAME: SOURCE}.

    Raises:
        ConfigurationError: not NAME=SOURCE, or NAME not one of endpoint, ts, user.
    """
    mapping: dict[str, str] = {}
    for item in items or []:
        name, sep, source = (part.strip() for part in item.partition("="))
        if not sep or not source or name not in TARGETS:
            raise ConfigurationError(
                f"--field must look like NAME=SOURCE with NAME one of"
                f" {', '.join(TARGETS)}; got {item!r}",
                hint="e.g. --field endpoint=request.path --field ts=time",
            )
        mapping[name] = source
    return mapping


class MappedNdjsonParser:
    """NDJSON lines whose endpoint, time and user sit under other (or nested) names."""

    name = "ndjson"

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.sources = {target: (mapping[target],) if target in mapping else names
                        for target, names in TARGETS.items()}  # fmt: skip

    def parse(self, line: bytes) -> Hit | None:
        """The hit on this line, or None for a blank line.

        Raises:
            BadLine: invalid JSON, not an object, or a missing or invalid field.
        """
        if not line.strip():
            return None
        try:
            record = msgspec.json.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
            raise invalid_json(err, line) from err
        if not isinstance(record, dict):
            raise BadLine("not a JSON object")
        endpoint, ts = self._get(record, "endpoint"), self._get(record, "ts")
        if endpoint is None:
            raise BadLine(f"missing field {self.sources['endpoint'][0]!r}")
        if ts is None:
            raise BadLine(f"missing field {self.sources['ts'][0]!r}")
        user = self._get(record, "user")
        return Hit(check_endpoint(endpoint), epoch_from_value(ts), check_user(user))

    def _get(self, record: dict[str, Any], target: str) -> Any:
        for source in self.sources[target]:
            found = lookup(record, source)
            if found is not None:
                return found
        return None


class MappedCsvParser(CsvLines):
    """CSV with a header, its endpoint, time and user columns named by the mapping."""

    name = "csv"

    def __init__(self, mapping: Mapping[str, str]) -> None:
        super().__init__()
        self.mapping = {target: source.lower() for target, source in mapping.items()}
        self.header: list[str] | None = None
        self.last_fields: list[str] = []
        #: Each field's column (from the header): mapped, or found under its usual names.
        self.columns: dict[str, str] = {}

    def parse(self, line: bytes) -> Hit | None:
        """The hit on this line; None for a blank line or the header.

        Raises:
            BadLine: undecodable, no header yet, or a missing or invalid field.
        """
        fields = self.fields(line)
        if fields is None:
            return None
        if self.header is None:
            self.header = [field.strip().lower() for field in fields]
            self._check_header(self.header)
            return None
        self.last_fields = fields
        row = dict(zip(self.header, fields, strict=False))
        values = {target: self._get(row, target) for target in TARGETS}
        if values["endpoint"] is None or values["ts"] is None:
            missing = "endpoint" if values["endpoint"] is None else "ts"
            column = self.columns.get(missing) or self.mapping.get(missing, missing)
            raise BadLine(f"missing column {column!r}")
        return Hit(
            check_endpoint(values["endpoint"]),
            epoch_from_value(values["ts"].strip()),
            check_user(values["user"] or None),
        )

    def _check_header(self, header: list[str]) -> None:
        """Each field's column: the mapped one, else the first of its usual header names
        (`path` or `url` for the endpoint, `time` for the time, as without `--field`).

        Raises:
            BadLine: no endpoint or time column (or no mapped user column), naming the
                column, how to map it, and the header's columns.
        """  # noqa: D205
        self.columns = {}
        for target, usual in HEADER_NAMES.items():
            names = (self.mapping[target],) if target in self.mapping else usual
            found = next((name for name in names if name in header), None)
            if found is not None:
                self.columns[target] = found
            elif target != "user" or target in self.mapping:  # users are optional
                raise BadLine(
                    f"the CSV header (the first line: --field reads columns by name) has no"
                    f" {_wanted(target, names, target in self.mapping)}; its columns:"
                    f" {', '.join(header)}"
                )

    def _get(self, row: dict[str, str], target: str) -> str | None:
        column = self.columns.get(target)
        value = None if column is None else row.get(column)
        return value if value not in (None, "") else None


def _wanted(target: str, names: tuple[str, ...], mapped: bool) -> str:
    """The column a header lacks: the mapped one, or any of a field's usual names."""
    if mapped:
        return f"column {names[0]!r} (--field {target}={names[0]})"
    usual = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    return f"column {names[0]!r} ({usual}; map one with --field {target}=COLUMN)"


def mapped_parser(fmt: str, mapping: Mapping[str, str]) -> Any:
    """The parser of `fmt` that reads fields by `mapping`.

    Raises:
        ConfigurationError: a format that has no field names (access logs).
    """
    if fmt == "ndjson":
        return MappedNdjsonParser(mapping)
    if fmt == "csv":
        return MappedCsvParser(mapping)
    raise ConfigurationError(
        f"--field applies to ndjson and csv input, not {fmt}",
        hint="access logs have fixed fields; use --key to choose what is counted",
    )

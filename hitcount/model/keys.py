"""What a replay counts as the endpoint (`--key TEMPLATE`) and which lines (`--where`).

A template names fields in braces: `{path}` (the default: the endpoint as each format reads
it), `{method}`, `{status}`, `{status_class}` (`2xx`...), `{host}`, `{user}`, or any NDJSON
field by name (`{request.path}` reaches into nested objects) or CSV column. A filter is
`FIELD OP VALUE` with OP one of `=`, `!=`, `>=`, `<=`, `>`, `<`: numbers compare as
numbers, `=`/`!=` with `*`, `?` or `[` in the value as a glob. A line every filter accepts
counts once under its key; a line a filter rejects is skipped (not bad); a line without a
field its key names is a bad line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from contextlib import suppress
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec

from hitcount.errors import ConfigurationError
from hitcount.model.globs import is_glob, matches
from hitcount.model.hits import BadLine

DEFAULT_KEY = "{path}"
#: What `--field NAME=SOURCE` may rename: the names a hit is read from.
FIELD_NAMES = ("endpoint", "ts", "user")
_FIELD = r"\{([A-Za-z_][A-Za-z0-9_.\-]*)\}"
_FILTER = r"(?s)^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$"
_OPS = ("=", "!=", ">=", "<=", ">", "<")
_SLASHES = r"//+"


class Where(msgspec.Struct, frozen=True):
    """One `--where` filter: `field op value`."""

    field: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Where:
        """`status>=500`, `method=POST`, `path=/api/*`.

        Raises:
            ConfigurationError: not FIELD OP VALUE.
        """
        found = re.match(_FILTER, text)
        if found is None or not found.group(3):
            raise ConfigurationError(
                f"--where must look like FIELD OP VALUE (OP: {' '.join(_OPS)}), got {text!r}",
                hint="e.g. --where 'status>=500' --where method=POST --where 'path=/api/*'",
            )
        return cls(*found.groups())

    def holds(self, fields: Mapping[str, Any]) -> bool:
        """Whether the line's `fields` pass this filter (a missing field never does)."""
        got = fields.get(self.field)
        if got is None:
            return False
        if self.op in ("=", "!="):
            equal = _equal(got, self.value)
            return equal if self.op == "=" else not equal
        right = _number(self.value)
        if right is None:  # a text bound: the field's text in code-point order
            return _compare(_text(got), self.value, self.op)
        left = _number(got)  # a number bound: a field that is no number never passes
        return left is not None and _compare(left, right, self.op)

    def __str__(self) -> str:
        return f"{self.field}{self.op}{self.value}"


class Keying(msgspec.Struct, frozen=True):
    """The key template, the filters and the field names of a replay.

    `fields` maps `endpoint`, `ts` or `user` to the input field holding it (`--field`);
    `decode_paths` decodes each line's path before the filters and the key see it;
    `more_keys` are the templates of further `--key` options (a line counts under each);
    `layout` is the `--log-format` the fields were read with (None: the format's own
    parser), kept with keys and filters since it decides what a field such as `host` is.
    """

    key: str = DEFAULT_KEY
    where: tuple[Where, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    decode_paths: bool = False
    more_keys: tuple[str, ...] = ()
    layout: str | None = None

    def __post_init__(self) -> None:
        for template in self.templates:
            if not re.search(_FIELD, template):
                raise ConfigurationError(
                    f"--key must name at least one field in braces, got {template!r}",
                    hint="e.g. --key '{method} {path}' or --key '{status_class}'",
                )
        if len(set(self.templates)) < len(self.templates):
            raise ConfigurationError(
                f"--key {self.key!r} is given twice", hint="give each --key once"
            )

    @property
    def templates(self) -> tuple[str, ...]:
        """Every key template, the first `--key` first."""
        return (self.key, *self.more_keys)

    @classmethod
    def parse(
        cls,
        key: str | list[str] | None,
        where: list[str] | None,
        fields: Mapping[str, str] | None = None,
        decode_paths: bool = False,
        layout: str | None = None,
    ) -> Keying:
        """The `--key` (one, or a list), `--where`, (parsed) `--field`, `--decode-paths` options.

        `layout` (`--log-format`) is kept only with keys or filters, whose fields it reads.

        Raises:
            ConfigurationError: a template without a field, or a filter that does not parse.
        """
        rules = tuple(Where.parse(text) for text in where or [])
        mapping = tuple(sorted((fields or {}).items()))
        for name, source in mapping:
            if name not in FIELD_NAMES or not source:
                raise ConfigurationError(
                    f"a field must be one of {', '.join(FIELD_NAMES)} read from a source;"
                    f" got {name}={source}"
                )
        keys = [key] if isinstance(key, str) else list(key or [])
        first, *more = keys or [DEFAULT_KEY]
        keying = cls(first, rules, mapping, decode_paths, tuple(more))
        return keying if keying.default else msgspec.structs.replace(keying, layout=layout)

    def counts_like(self, other: Keying) -> bool:
        """Whether `other` counts lines as this does: the same keys and filters in any order
        (a line counts under each key, and must pass every filter), read with the same
        layout, or with none known (a state saved before layouts were kept)."""  # noqa: D205, D209
        layouts = self.layout is None or other.layout is None or self.layout == other.layout
        return layouts and self._counting() == other._counting()

    def _counting(self) -> tuple[object, ...]:
        rules = frozenset(map(str, self.where))
        return frozenset(self.templates), rules, self.fields, self.decode_paths

    @property
    def counts_path(self) -> bool:
        """Whether hits count under their path as read, every line (no key, filter, decoding)."""
        plain = self.key == DEFAULT_KEY and not self.more_keys
        return plain and not self.where and not self.decode_paths

    @property
    def default(self) -> bool:
        """Whether this is the default (`{path}`, no filter, usual field names): fast paths."""
        return self.counts_path and not self.fields

    def field_names(self) -> frozenset[str]:
        """Every field the keys and filters name (`status_class` also needs `status`)."""
        names = {name for template in self.templates for name in re.findall(_FIELD, template)}
        names |= {rule.field for rule in self.where}
        return frozenset(names | {"status"} if "status_class" in names else names)

    def apply(self, fields: Mapping[str, Any]) -> str | None:
        """The (first) key of a line's `fields`; None when a filter rejects it.

        Raises:
            BadLine: a key names a field the line does not have.
        """
        found = self.apply_all(fields)
        return None if found is None else found[0]

    def apply_all(self, fields: Mapping[str, Any]) -> list[str] | None:
        """Each distinct key of a line's `fields`, in template order; None when filtered out.

        Raises:
            BadLine: a key names a field the line does not have.
        """
        if not all(rule.holds(fields) for rule in self.where):
            return None
        return list(dict.fromkeys(_fill(template, fields) for template in self.templates))

    def to_dict(self) -> dict[str, Any]:
        """The saved form: `{"key": ... (a list for several), "where": [...], "fields": {...}}`."""
        key: str | list[str] = list(self.templates) if self.more_keys else self.key
        saved: dict[str, Any] = {"key": key, "where": [str(rule) for rule in self.where]}
        if self.fields:
            saved["fields"] = dict(self.fields)
        if self.decode_paths:
            saved["decode_paths"] = True
        if self.layout is not None:
            saved["log_format"] = self.layout
        return saved

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Keying:
        """From the saved form (None: the default).

        Raises:
            ConfigurationError: a saved form that does not parse.
        """
        if not data:
            return cls()
        fields, key = data.get("fields") or {}, data.get("key") or DEFAULT_KEY
        return cls.parse(
            [str(one) for one in key] if isinstance(key, list) else str(key),
            list(data.get("where") or []),
            {str(k): str(v) for k, v in fields.items()},
            data.get("decode_paths") is True,
            layout if isinstance(layout := data.get("log_format"), str) else None,
        )

    def describe(self) -> str:
        """`key {method} {path} where status>=500, method=POST` (`fields ...`, `paths decoded`)."""
        where = f" where {', '.join(map(str, self.where))}" if self.where else ""
        fields = ", ".join(f"{name}={source}" for name, source in self.fields)
        decoded = " paths decoded" if self.decode_paths else ""
        keys = f"keys {' and '.join(self.templates)}" if self.more_keys else f"key {self.key}"
        layout = f" read with --log-format {self.layout!r}" if self.layout is not None else ""
        return f"{keys}{where}" + (f" fields {fields}" if fields else "") + decoded + layout


def decode_path(path: str) -> str:
    """`path` percent-decoded as UTF-8, each run of `/` made one.

    An escape that is not `%` and two hex digits stays as written; a path whose escapes do
    not decode to UTF-8 is kept undecoded (its `//` still collapsed), so it never turns into
    replacement characters that would merge distinct paths.
    """
    if "%" in path:
        with suppress(UnicodeDecodeError):  # not UTF-8: keep it as written
            path = unquote_to_bytes(path).decode("utf-8")
    return re.sub(_SLASHES, "/", path) if "//" in path else path


def _fill(template: str, fields: Mapping[str, Any]) -> str:
    def value(found: re.Match[str]) -> str:
        got = fields.get(found.group(1))
        if got is None:
            raise BadLine(f"no field {found.group(1)!r} for --key {template}")
        if found.group(1) == "path" and with_method and got == f"{fields.get('method')} *":
            return "*"  # `OPTIONS *`: its path names the method, which the key has already
        return _text(got)

    with_method = "{method}" in template

    return re.sub(_FIELD, value, template)


def status_class(status: object) -> str | None:
    """`5xx` from `503`, `"503"` or `503.0` (None when it is not a three-digit status)."""
    number = _number(status)
    if number is None or not number.is_integer() or not 100 <= number <= 999:
        return None
    return f"{int(number) // 100}xx"


def lookup(record: Mapping[str, Any], name: str) -> Any:
    """A field of a decoded object by name, `a.b` reaching into nested objects."""
    if name in record:
        return record[name]
    current: Any = record
    for part in name.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _text(value: Any) -> str:
    """A field's value as text, as JSON writes it: `true`, `404`, `{"a":1}`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return msgspec.json.encode(value).decode()
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _equal(got: Any, wanted: str) -> bool:
    text = _text(got)
    if is_glob(wanted):  # as an endpoint pattern: the glob's matches and its very name
        return matches(text, wanted)
    left, right = _number(got), _number(wanted)
    if left is not None and right is not None:
        return left == right
    return text == wanted


def _compare(left: Any, right: Any, op: str) -> bool:
    if op == ">=":
        return bool(left >= right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left < right)

r"""CSV beside JSON: the JSON form of a result, as rows a spreadsheet opens.

One row per JSON object; the columns are the keys, in the order first seen. A list becomes
its items joined by `;`, a nested object its JSON, null an empty cell, a boolean `true` or
`false` as in the JSON. Text follows the one rule for text outputs: a character that is not
printable (a newline, a control, a bidi override) is shown as its Python escape (`\n`); text
a spreadsheet would run as a formula (`=HYPERLINK(...)`, `@SUM(...)`) starts with a `'`.
A series (`plot --csv`) is one row per endpoint and step.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from hitcount.model.inert import json_line, unambiguous
from hitcount.model.timeparse import iso

#: A text cell starting with one of these is given a leading `'`: a spreadsheet would read
#: `=`, `+`, `-` or `@` as the start of a formula (a client can put any of them in a request
#: target), and the `'` itself is guarded too, so one leading `'` stripped gives the text back.
_FORMULA_STARTS = frozenset("=+-@'")


def csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as CSV text with a header line (empty when there are no rows)."""
    items = list(rows)
    columns: dict[str, None] = {}
    for row in items:
        columns.update(dict.fromkeys(row))
    if not columns:
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in items:
        writer.writerow(_cell(row.get(name)) for name in columns)
    return buffer.getvalue()


def payload_rows(payload: Any) -> list[Mapping[str, Any]]:
    """A JSON payload as rows: a list of objects as it is, one object as one row."""
    if isinstance(payload, Mapping):
        return [payload]
    return [row if isinstance(row, Mapping) else {"value": row} for row in payload]


def series_rows(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`plot --json`'s series as one row per endpoint and step (a long table), each row with
    the strategy that answered and, when the state counts keys, its `keys`."""  # noqa: D205, D209
    rows = []
    answered = {name: payload[name] for name in ("strategy", "keys") if name in payload}
    for series in payload["series"]:
        for point in series["points"]:
            where = {"endpoint": series["endpoint"], "step": payload["step"]}
            end = {"end": point["end"], "end_iso": iso(point["end"])}
            rows.append({**where, **end, **point, **answered})
    return rows


def _cell(value: Any) -> str:
    text = _text(value)
    if isinstance(value, (list, str)) and text[:1] in _FORMULA_STARTS:
        return f"'{text}"  # the whole cell: one `'` to strip, whatever it holds
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_text(item) for item in value)
    if isinstance(value, (dict, float, int)):
        return json_line(value)
    return unambiguous(str(value))  # a cell is text on a terminal too: nothing unsafe raw

r"""The one escaping rule for text that came from outside (endpoints, file names, users).

Such text can hold characters a terminal or a viewer obeys: C0 controls (ESC starts a
terminal command), DEL, C1 controls (U+009B is a one-character CSI), bidi overrides and
isolates (U+202E turns text around), zero-width and invisible tag characters, line
separators. The rule: a character Python calls unprintable (`str.isprintable`: the Unicode
categories Cc, Cf, Cs, Co, Cn, Zl, Zp, and Zs but the space) is shown escaped in every output,
never raw:

- text for humans (tables, summaries, warnings, errors): as Python escapes, `\x1b`,
  `\x9b`, `\u202e` (`shown`, which changes nothing it already showed);
- names in tables, CSV cells, HTML and Prometheus labels, where two must never look alike:
  the same escapes and a backslash doubled (`unambiguous`: `/a<TAB>b` is `/a\tb`, the text
  `/a\tb` is `/a\\tb`), as Python's `unicode_escape` writes them;
- JSON (every `--json`, `--trace-json`, the follower's status lines): as JSON escapes,
  `\u001b`, `\u009b`, `\u202e`, which a JSON reader decodes back to the exact text
  (`json_line`).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

#: Candidates: every character outside printable ASCII (most are letters, shown as they are).
_NOT_ASCII_PRINTABLE = re.compile("[^ -~]")
#: ... and the backslash, which `unambiguous` escapes too.
_WITH_BACKSLASH = re.compile(r"[^ -\[\]-~]")


def unsafe(char: str) -> bool:
    """Whether no output shows `char` raw: everything Python calls unprintable, i.e. the
    Unicode categories Other (Cc, Cf, Cs, Co, Cn) and Separator (Zl, Zp, Zs) but space."""  # noqa: D205, D209
    return not char.isprintable()


def shown(text: str) -> str:
    r"""`text` with every unsafe character as a Python escape (ESC becomes `\x1b`)."""
    if text.isprintable():
        return text
    return _NOT_ASCII_PRINTABLE.sub(_python_escape, text)


def unambiguous(text: str) -> str:
    r"""`shown`, with each backslash doubled too: two texts never come out alike (`/a\tb` is
    the endpoint with a TAB, `/a\\tb` the one with a backslash). Its output is printable:
    `shown` leaves it as it is."""  # noqa: D205, D209
    if text.isprintable() and "\\" not in text:
        return text
    return _WITH_BACKSLASH.sub(_python_escape, text)


def json_line(payload: Any) -> str:
    r"""`payload` as compact JSON (non-finite numbers as null), unsafe characters escaped.

    JSON syntax outside strings is ASCII, so every unsafe character found in the encoded text
    is inside a string, where `\uXXXX` (a surrogate pair above U+FFFF) means that character.
    """
    return escaped_json(msgspec.json.encode(payload).decode("utf-8"))


def escaped_json(text: str) -> str:
    r"""Encoded JSON with its unsafe characters escaped (`\uXXXX`, the same text decoded)."""
    if text.isprintable():
        return text
    return _NOT_ASCII_PRINTABLE.sub(_json_escape, text)


def escaped_json_bytes(data: bytes) -> bytes:
    """`escaped_json` for UTF-8 bytes; JSON in printable ASCII comes back as it is, at once."""
    if data.isascii() and b"\x7f" not in data:  # the encoder already escapes C0 controls
        return data
    return escaped_json(data.decode("utf-8")).encode("utf-8")


def _python_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char.isprintable() and char != "\\":  # the backslash: only `unambiguous` meets it
        return char
    return char.encode("unicode_escape").decode("ascii")


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char.isprintable():
        return char
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

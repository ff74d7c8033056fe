"""The one escaping rule: no dangerous character raw, and JSON that decodes to the exact text.

The oracle is `unicodedata.category` (Python's `str.isprintable` is what hitcount uses) and
the standard `json` module.
"""

from __future__ import annotations

import json
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from hitcount.model.inert import json_line, shown, unambiguous

DANGEROUS = {"Cc", "Cf", "Zl", "Zp", "Co", "Cn"}
#: Any text: surrogates cannot be encoded, so none come from outside.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def _raw(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in DANGEROUS]


@given(st.lists(TEXT, max_size=5), st.integers(0, 3))
def test_json_line_escapes_every_dangerous_character_and_round_trips(
    texts: list[str], depth: int
) -> None:
    payload: object = {"endpoints": texts, "n": len(texts)}
    for _ in range(depth):  # nested as results are (lists of objects of lists)
        payload = [payload, {"k": payload}]
    encoded = json_line(payload)
    assert not _raw(encoded) and "\n" not in encoded
    assert json.loads(encoded) == payload


@given(TEXT)
def test_shown_escapes_every_dangerous_character_and_keeps_printable_text(text: str) -> None:
    visible = shown(text)
    assert not _raw(visible)
    assert shown(visible) == visible  # applying it twice changes nothing
    named = unambiguous(text)
    assert not _raw(named) and shown(named) == named
    assert _unescaped(named) == text  # reversible: two names never come out alike
    if all(unicodedata.category(c) not in DANGEROUS | {"Zs"} or c == " " for c in text):
        assert visible == text  # letters of any script, marks, symbols and spaces stay


def _unescaped(visible: str) -> str:
    """`unambiguous`'s output read back: each Python escape it writes, as its character."""
    import re

    short = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
    pattern = r"\\(\\|t|n|r|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})"
    return re.sub(pattern, lambda m: short.get(m[1]) or chr(int(m[1][1:], 16)), visible)


def test_hand_computed_escapes() -> None:
    assert shown("/a\x9b2J\u202e\x7f\U000e0041\u00a0é") == "/a\\x9b2J\\u202e\\x7f\\U000e0041\\xa0é"
    assert unambiguous("/a\tb") == "/a\\tb" and unambiguous("/a\\tb") == "/a\\\\tb"
    assert unambiguous("/plain/é/日本") == shown("/plain/é/日本") == "/plain/é/日本"
    assert json_line(["\x9b\u202e\U000e0041"]) == '["\\u009b\\u202e\\udb40\\udc41"]'

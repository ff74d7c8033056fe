"""Large base64 values written in pieces, so saving a big state never holds its whole text.

`encode_chunks` encodes a document with a placeholder for each `Base64Value`
(`model/packed.py`) and yields the JSON around them, and each value's text a few hundred KiB
at a time: a file store writes the pieces as they come. The text is the same as `msgspec`
gives for `bytes`, so readers see an ordinary document.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import msgspec

from hitcount.model.inert import escaped_json_bytes
from hitcount.model.packed import Base64Value


def encode_chunks(document: Any) -> Iterator[bytes]:
    """The JSON of `document`, in pieces; each `Base64Value` in it is streamed as text."""
    values: list[Base64Value] = []
    nonce = os.urandom(16).hex()  # as secrets.token_hex, without loading hmac/OpenSSL

    def placeholder(value: object) -> str:
        if not isinstance(value, Base64Value):
            raise TypeError(f"cannot encode {type(value).__name__} in a state document")
        values.append(value)
        return f"{nonce}:{len(values) - 1}"

    encoded = escaped_json_bytes(msgspec.json.encode(document, enc_hook=placeholder))
    if not values:
        yield encoded
        return
    marker = b'"' + nonce.encode() + b":"  # then the value's index and '"'
    done = 0
    while (start := encoded.find(marker, done)) >= 0:
        end = encoded.index(b'"', start + len(marker))
        yield encoded[done:start] + b'"'
        yield from values[int(encoded[start + len(marker) : end])].pieces()
        yield b'"'
        done = end + 1
    yield encoded[done:]

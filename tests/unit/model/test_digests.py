"""SHA-256 without OpenSSL: the same digests as hashlib's."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from hitcount.model.digests import sha256


@given(data=st.binary(max_size=4096))
def test_sha256_equals_hashlib(data: bytes) -> None:
    assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert sha256(data).digest() == hashlib.sha256(data).digest()

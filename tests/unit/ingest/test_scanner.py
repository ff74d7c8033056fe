"""The numpy scanner gives exactly what the msgspec block decoder gives, or steps aside."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.ingest.columnar import decode_with_msgspec
from hitcount.ingest.scanner import scan_numpy as scan_block

GOOD_ENDPOINTS = st.sampled_from(["/a", "/api/users/7", "/é", "/b c"])
ENDPOINTS = GOOD_ENDPOINTS | st.sampled_from(
    ["/tab\there", "", r"/q\"x", r"/u\u00e9", "/" + "x" * 300]
)
GOOD_TIMESTAMPS = st.one_of(
    st.floats(min_value=0, max_value=2e9).map(lambda ts: repr(round(ts, 3))),
    st.integers(0, 2 * 10**12).map(str),
    st.integers(0, 6).flatmap(lambda p: st.decimals(0, 10**8, places=p)).map(str),
)
TIMESTAMPS = GOOD_TIMESTAMPS | st.sampled_from(
    ["017", "1.", ".5", "-1", "1e9", "1795737600.3570000001", "99999999999999999", "1.5e-7"]
)
GOOD_USERS = st.sampled_from(["u1", "u22", "ü", "8", ""])
USERS = st.one_of(st.none(), GOOD_USERS, st.just("x" * 300), st.integers(0, 9))


@st.composite
def blocks(draw: st.DrawFn) -> bytes:
    """Lines of one shape (spacing drawn once, then now and then broken) with drawn values."""
    colon, comma = draw(st.sampled_from([": ", ":"])), draw(st.sampled_from([", ", ","]))
    with_user, clean = draw(st.booleans()), draw(st.booleans())
    endpoints, timestamps = (GOOD_ENDPOINTS, GOOD_TIMESTAMPS) if clean else (ENDPOINTS, TIMESTAMPS)
    lines = []
    for _ in range(draw(st.integers(1, 30))):
        endpoint, ts = draw(endpoints), draw(timestamps)
        line = f'{{"endpoint"{colon}"{endpoint}"{comma}"ts"{colon}{ts}'
        if with_user:
            user = draw(GOOD_USERS if clean else USERS)
            value = "null" if user is None else f'"{user}"' if isinstance(user, str) else user
            line += f'{comma}"user"{colon}{value}'
        lines.append(line + "}")
    if not clean and draw(st.booleans()):
        lines[-1] = draw(st.sampled_from(['{"ts": 1, "endpoint": "/a"}', "", "{", lines[-1] + " "]))
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=600, deadline=None)
@given(block=blocks())
def test_scanner_agrees_with_msgspec_or_steps_aside(block: bytes) -> None:
    scanned, unwanted = scan_block(block), scan_block(block, users=False)
    assert (unwanted is None) == (scanned is None)
    if scanned is None or unwanted is None:
        return
    assert unwanted.names == scanned.names and unwanted.ts.tobytes() == scanned.ts.tobytes()
    expected = decode_with_msgspec(block)
    assert expected is not None, block
    assert scanned.names == expected.names
    assert np.array_equal(scanned.codes, expected.codes)
    assert scanned.ts.tobytes() == expected.ts.tobytes()  # bit for bit, like float()
    assert scanned.user_list() == (expected.users or [None] * len(expected))


def test_scanner_takes_the_usual_shape() -> None:
    lines = [
        f'{{"endpoint": "/e{i % 3}", "ts": 1795737600.{i:03d}, "user": "u{i % 5}"}}'
        for i in range(1, 400)
    ]
    block = ("\n".join(lines) + "\n").encode()
    scanned = scan_block(block)
    assert scanned is not None and scanned.names == ["/e1", "/e2", "/e0"]
    assert scanned.ts.tolist() == [float(f"1795737600.{i:03d}") for i in range(1, 400)]
    assert scanned.user_list() == [f"u{i % 5}" for i in range(1, 400)]
    without_users = block.replace(b', "user": "u', b"}#").split(b"\n")
    compact = b"\n".join(line.split(b"}#")[0] + b"}" for line in without_users if line) + b"\n"
    assert scan_block(compact) is not None

"""Path roll-ups: the first N non-empty segments, a partition of the endpoints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitcount.model.globs import rolled, rollup

SEGMENT = st.text(alphabet="abc1-.", min_size=0, max_size=3)


@pytest.mark.parametrize(
    ("endpoint", "depth", "expected"),
    [
        ("/api/users/123", 1, "/api"), ("/api/users/123", 2, "/api/users"),
        ("/api/users/123", 3, "/api/users/123"), ("/api/users/123", 9, "/api/users/123"),
        ("/", 1, "/"), ("/api/", 2, "/api"), ("/a//b/c", 2, "/a/b"), ("api/x/y", 1, "api"),
        ("//", 1, "/"), ("///", 3, "/"),
    ],
)  # fmt: skip
def test_rollups_by_hand(endpoint: str, depth: int, expected: str) -> None:
    assert rollup(endpoint, depth) == expected


@given(
    endpoints=st.lists(st.lists(SEGMENT, max_size=5).map(lambda s: "/" + "/".join(s))),
    depth=st.integers(1, 6),
)
def test_groups_partition_the_endpoints_by_their_leading_segments(
    endpoints: list[str], depth: int
) -> None:
    groups = rolled(endpoints, depth)
    members = [endpoint for group in groups.values() for endpoint in group]
    assert sorted(members) == sorted(endpoints)  # every endpoint once (duplicates kept)
    for name, group in groups.items():
        for endpoint in group:
            segments = [part for part in endpoint.split("/") if part]
            assert [part for part in name.split("/") if part] == segments[:depth]
        assert rollup(name, depth) == name  # rolling up again changes nothing
    names = [tuple(part for part in name.split("/") if part) for name in groups]
    assert len(names) == len(set(names))  # one group per leading segments (`//` is in `/`)
    assert rolled(endpoints, None) == {e: (e,) * endpoints.count(e) for e in sorted(set(endpoints))}

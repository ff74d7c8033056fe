"""Numbers for (endpoint, bucket) pairs, given a batch at a time with numpy.

`RegisterLog` keys carry a pair number. A batch's pairs are looked up all at once in a
sorted array of `endpoint number << 42 | bucket + 2^41` (binary search); only the pairs
seen for the first time touch Python objects. A bucket or endpoint number that does not fit
those bits (a sub-millisecond bucket width, two million endpoints) is numbered through a
dict instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress

import numpy as np
import numpy.typing as npt

from hitcount.model.columns import sorted_distinct

_BUCKET_BITS = 42
_OFFSET = 1 << (_BUCKET_BITS - 1)
_MAX_ENDPOINTS = 1 << (62 - _BUCKET_BITS)


class PairTable:
    """The (endpoint, bucket) pairs of a log, numbered 0, 1, ... in order of arrival."""

    def __init__(self) -> None:
        """No pairs yet."""
        #: Pair number -> (endpoint, bucket).
        self.pairs: list[tuple[str, int]] = []
        self._endpoints: dict[str, int] = {}
        self._keys = np.zeros(0, dtype=np.int64)  # sorted composite keys
        self._ids = np.zeros(0, dtype=np.int64)  # their pair numbers
        self._others: dict[tuple[str, int], int] = {}  # pairs whose key would not fit
        self._buckets = np.zeros(0, dtype=np.int64)

    def number(
        self, names: Sequence[str], codes: npt.NDArray[np.integer], buckets: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """The number of pair (`names[codes[i]]`, `buckets[i]`) for each i, new ones added."""
        used = sorted_distinct(codes)
        endpoint_of = np.zeros(int(used.max()) + 1 if len(used) else 0, dtype=np.int64)
        endpoint_of[used] = [self._endpoint(names[code]) for code in used.tolist()]
        endpoints = endpoint_of[codes]
        fits = (np.abs(buckets) < _OFFSET) & (endpoints < _MAX_ENDPOINTS)
        if fits.all():
            keys = (endpoints << _BUCKET_BITS) | (buckets + _OFFSET)
            return self._lookup(keys, names, codes, buckets)
        ids = np.empty(len(codes), dtype=np.int64)  # rare: one at a time, in order
        for i, fit in enumerate(fits.tolist()):
            if fit:
                key = (endpoints[i : i + 1] << _BUCKET_BITS) | (buckets[i : i + 1] + _OFFSET)
                ids[i] = self._lookup(key, names, codes[i : i + 1], buckets[i : i + 1])[0]
            else:
                ids[i] = self._other((names[int(codes[i])], int(buckets[i])))
        return ids

    def pair_id(self, pair: tuple[str, int]) -> int:
        """The number of one pair (added if new)."""
        names, codes = [pair[0]], np.zeros(1, dtype=np.int64)
        return int(self.number(names, codes, np.array([pair[1]], dtype=np.int64))[0])

    def load(self, pairs: list[tuple[str, int]]) -> bool:
        """Number `pairs` in order into an empty table; False if one repeats."""
        names = list(dict.fromkeys(endpoint for endpoint, _ in pairs))
        position = {name: i for i, name in enumerate(names)}
        codes = np.array([position[endpoint] for endpoint, _ in pairs], dtype=np.int64)
        buckets = np.array([bucket for _, bucket in pairs], dtype=np.int64)
        ids = self.number(names, codes, buckets)
        return len(self.pairs) == len(pairs) and bool(np.all(ids == np.arange(len(pairs))))

    def buckets(self) -> npt.NDArray[np.int64]:
        """The bucket of every pair, by number."""
        if len(self._buckets) < len(self.pairs):
            added = [bucket for _, bucket in self.pairs[len(self._buckets) :]]
            self._buckets = np.concatenate((self._buckets, np.array(added, dtype=np.int64)))
        return self._buckets

    def keep(self, live: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        """Keep the pairs that `live` marks, renumbered 0, 1, ... in their order.

        Returns:
            The new number of each old pair (-1: dropped); increasing over the kept ones.
        """
        renumber = np.cumsum(live, dtype=np.int64) - 1
        renumber[~live] = -1
        self._buckets = self.buckets()[live]
        self.pairs = list(compress(self.pairs, live.tolist()))
        held = live[self._ids]
        self._keys, self._ids = self._keys[held], renumber[self._ids[held]]
        self._others = {pair: int(renumber[i]) for pair, i in self._others.items() if live[i]}
        return renumber

    def _endpoint(self, name: str) -> int:
        found = self._endpoints.get(name)
        if found is None:
            found = self._endpoints[name] = len(self._endpoints)
        return found

    def _lookup(
        self,
        keys: npt.NDArray[np.int64],
        names: Sequence[str],
        codes: npt.NDArray[np.integer],
        buckets: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.int64]:
        """The numbers of composite `keys`, numbering the new ones in order of appearance."""
        at = np.searchsorted(self._keys, keys)
        found = at < len(self._keys)
        found[found] = self._keys[at[found]] == keys[found]
        ids = np.empty(len(keys), dtype=np.int64)
        ids[found] = self._ids[at[found]]
        if found.all():
            return ids
        new_keys, first, inverse = np.unique(keys[~found], return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # number in order of appearance
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        numbers = len(self.pairs) + rank
        ids[~found] = numbers[inverse.reshape(-1)]
        new_codes, new_buckets = codes[~found][first[order]], buckets[~found][first[order]]
        self.pairs.extend(
            zip(map(names.__getitem__, new_codes.tolist()), new_buckets.tolist(), strict=True)
        )
        merged = np.concatenate((self._keys, new_keys))
        by_key = np.argsort(merged, kind="stable")
        self._keys = merged[by_key]
        self._ids = np.concatenate((self._ids, numbers))[by_key]
        return ids

    def _other(self, pair: tuple[str, int]) -> int:
        found = self._others.get(pair)
        if found is None:
            found = self._others[pair] = len(self.pairs)
            self.pairs.append(pair)
        return found

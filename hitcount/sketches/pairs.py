"""Numbers for (endpoint, bucket) pairs, given a batch at a time with numpy.

`RegisterLog` keys carry a pair number. A batch's pairs are looked up all at once in a
sorted array of `bucket + 2^41 << 20 | endpoint number` (binary search); only the pairs
seen for the first time touch Python objects. Buckets lead the key, so the new pairs of
input read in time order sort after every held one and are appended, not merged in. A
bucket or endpoint number that does not fit those bits (a sub-millisecond bucket width, a
million endpoints) is numbered through a dict instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hitcount.model.columns import sorted_distinct

_BUCKET_BITS = 42
_OFFSET = 1 << (_BUCKET_BITS - 1)
_ENDPOINT_BITS = 62 - _BUCKET_BITS
_MAX_ENDPOINTS = 1 << _ENDPOINT_BITS


class PairTable:
    """The (endpoint, bucket) pairs of a log, numbered 0, 1, ... in order of arrival.

    Pairs are held as arrays (endpoint number, bucket), not as Python tuples: a replay of a
    long access log numbers about a pair per hit, and the tuples are made only when asked.
    """

    def __init__(self) -> None:
        """No pairs yet."""
        self._endpoints: dict[str, int] = {}
        self._names: list[str] = []  # endpoint number -> name
        self._keys = np.zeros(0, dtype=np.int64)  # sorted composite keys
        self._ids = np.zeros(0, dtype=np.int64)  # their pair numbers
        self._others: dict[tuple[str, int], int] = {}  # pairs whose key would not fit
        #: Pair number -> endpoint number and bucket, in chunks joined when read.
        self._chunks: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def pairs(self) -> list[tuple[str, int]]:
        """Pair number -> (endpoint, bucket), as a list (made on each call)."""
        endpoints, buckets = self.arrays()
        names = self._names
        return list(zip(map(names.__getitem__, endpoints.tolist()), buckets.tolist(), strict=True))

    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The endpoint number and the bucket of every pair, by pair number."""
        if len(self._chunks) != 1:
            empty = np.zeros(0, dtype=np.int64)
            joined = (
                np.concatenate([c[0] for c in self._chunks]) if self._chunks else empty,
                np.concatenate([c[1] for c in self._chunks]) if self._chunks else empty,
            )
            self._chunks = [joined]
        return self._chunks[0]

    def names(self) -> list[str]:
        """Endpoint number -> endpoint name."""
        return self._names

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
            keys = ((buckets + _OFFSET) << _ENDPOINT_BITS) | endpoints
            return self._lookup(keys, endpoints, buckets)
        ids = np.empty(len(codes), dtype=np.int64)  # rare: one at a time, in order
        for i, fit in enumerate(fits.tolist()):
            one = slice(i, i + 1)
            if fit:
                key = ((buckets[one] + _OFFSET) << _ENDPOINT_BITS) | endpoints[one]
                ids[i] = self._lookup(key, endpoints[one], buckets[one])[0]
            else:
                ids[i] = self._other(int(endpoints[i]), int(buckets[i]))
        return ids

    def number_all(self, pairs: Sequence[tuple[str, int]]) -> npt.NDArray[np.int64]:
        """The number of each `(endpoint, bucket)`, new ones added in order, in one batch."""
        names = list(dict.fromkeys(endpoint for endpoint, _ in pairs))
        position = {name: i for i, name in enumerate(names)}
        codes = np.array([position[endpoint] for endpoint, _ in pairs], dtype=np.int64)
        buckets = np.array([bucket for _, bucket in pairs], dtype=np.int64)
        return self.number(names, codes, buckets)

    def load(self, pairs: list[tuple[str, int]]) -> bool:
        """Number `pairs` in order into an empty table; False if one repeats."""
        ids = self.number_all(pairs)
        return len(self) == len(pairs) and bool(np.all(ids == np.arange(len(pairs))))

    def buckets(self) -> npt.NDArray[np.int64]:
        """The bucket of every pair, by number."""
        return self.arrays()[1]

    def keep(self, live: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        """Keep the pairs that `live` marks, renumbered 0, 1, ... in their order.

        Returns:
            The new number of each old pair (-1: dropped); increasing over the kept ones.
        """
        renumber = np.cumsum(live, dtype=np.int64) - 1
        renumber[~live] = -1
        endpoints, buckets = self.arrays()
        self._chunks = [(endpoints[live], buckets[live])]
        self._count = len(self._chunks[0][0])
        held = live[self._ids]
        self._keys, self._ids = self._keys[held], renumber[self._ids[held]]
        self._others = {pair: int(renumber[i]) for pair, i in self._others.items() if live[i]}
        return renumber

    def _endpoint(self, name: str) -> int:
        found = self._endpoints.get(name)
        if found is None:
            found = self._endpoints[name] = len(self._endpoints)
            self._names.append(name)
        return found

    def _add(self, endpoints: npt.NDArray[np.int64], buckets: npt.NDArray[np.int64]) -> None:
        self._chunks.append((endpoints, buckets))
        self._count += len(endpoints)

    def _lookup(
        self,
        keys: npt.NDArray[np.int64],
        endpoints: npt.NDArray[np.int64],
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
        numbers = self._count + rank
        ids[~found] = numbers[inverse.reshape(-1)]
        chosen = first[order]
        self._add(endpoints[~found][chosen], buckets[~found][chosen])
        if not len(self._keys) or new_keys[0] > self._keys[-1]:  # all later: append
            self._keys = np.concatenate((self._keys, new_keys))
            self._ids = np.concatenate((self._ids, numbers))
            return ids
        where = np.searchsorted(self._keys, new_keys)  # both sorted: merge them in
        self._keys = np.insert(self._keys, where, new_keys)
        self._ids = np.insert(self._ids, where, numbers)
        return ids

    def _other(self, endpoint: int, bucket: int) -> int:
        pair = (self._names[endpoint], bucket)
        found = self._others.get(pair)
        if found is None:
            found = self._others[pair] = self._count
            self._add(np.array([endpoint], dtype=np.int64), np.array([bucket], dtype=np.int64))
        return found

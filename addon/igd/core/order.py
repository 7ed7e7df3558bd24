"""Creation order of the mapping table, indexable in O(log n).

GetGenericPortMappingEntry walks the table by 0-based index in creation order, and deletions
compact the array (5.6.14). A plain list would make each delete O(n); here every key owns a
slot in a Fenwick tree of occupied slots, so "the i-th live key" is one tree descent and a
delete is one tree update. Slots are handed out in increasing order and re-packed when they run
out, which keeps appends amortized O(1).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator

_MIN_CAPACITY = 16


class CreationOrder[K: Hashable]:
    """Keys in the order they were appended; `at(i)` is the i-th key still present."""

    def __init__(self) -> None:
        self._slot_of: dict[K, int] = {}
        self._key_in: list[K | None] = []
        self._tree: list[int] = [0]  # Fenwick tree over slots, 1-based
        self._capacity = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of

    def __iter__(self) -> Iterator[K]:
        return iter(self._slot_of)  # dict order is append order

    def append(self, key: K) -> None:
        """Put a new key at the end (a key already present raises KeyError)."""
        if key in self._slot_of:
            raise KeyError(key)
        if len(self._key_in) == self._capacity:
            self._repack()
        slot = len(self._key_in)
        self._key_in.append(key)
        self._slot_of[key] = slot
        self._add(slot, 1)

    def remove(self, key: K) -> None:
        """Drop a key; the keys after it move down by one index."""
        slot = self._slot_of.pop(key)
        self._key_in[slot] = None
        self._add(slot, -1)

    def at(self, index: int) -> K:
        """The key at 0-based `index` among the present keys (IndexError when out of range)."""
        if not 0 <= index < len(self._slot_of):
            raise IndexError(index)
        position = 0  # 1-based tree position of the last slot before the answer
        remaining = index + 1
        step = 1 << self._capacity.bit_length()
        while step:
            probe = position + step
            if probe <= self._capacity and self._tree[probe] < remaining:
                position = probe
                remaining -= self._tree[probe]
            step >>= 1
        key = self._key_in[position]  # slot `position` is tree position `position + 1`
        assert key is not None  # the descent only stops on an occupied slot
        return key

    def _add(self, slot: int, delta: int) -> None:
        position = slot + 1
        while position <= self._capacity:
            self._tree[position] += delta
            position += position & -position

    def _repack(self) -> None:
        """Give the present keys slots 0..n-1 and room for as many again."""
        keys = list(self._slot_of)
        self._capacity = max(_MIN_CAPACITY, 2 * len(keys))
        key_in: list[K | None] = [*keys]
        self._key_in = key_in
        self._slot_of = {key: slot for slot, key in enumerate(keys)}
        tree = [1] * (len(keys) + 1) + [0] * (self._capacity - len(keys))
        tree[0] = 0
        for position in range(1, self._capacity + 1):  # linear-time Fenwick build
            parent = position + (position & -position)
            if parent <= self._capacity:
                tree[parent] += tree[position]
        self._tree = tree
